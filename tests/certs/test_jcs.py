"""The fast RFC 8785 path gives exactly the reference implementation's bytes."""

from __future__ import annotations

import math
import random

import pytest
import rfc8785

from certs.jcs import CanonicalizationError, canonical

EDGE = [
    {},
    [],
    "",
    0,
    -0.0,
    1.0,
    -1.5,
    0.1,
    1e-4,
    9.999e-5,
    1e-7,
    1e15,
    1e16,
    1e21,
    1e22,
    2**53 - 1,
    2**53,
    -(2**53) + 1,
    5e-324,
    1.7976931348623157e308,
    78.33,
    59.995,
    1 / 3,
    True,
    False,
    None,
    '\u0000\u001f\b\t\n\f\r"\\/\u007f\u2028\u2029é中文😀',
    {"b": 1, "a": 2, "A": 3, "é": 4, "中": 5, "\u20ac": 6, "\ufb33": 7, "😀": 8, "\U0001f600a": 9},
    {"1": [1, {"z": [], "y": {}}], "": None},
    ["x", [["y"]]],
    {"num": 333333333.33333329},
]


@pytest.mark.parametrize("value", EDGE, ids=range(len(EDGE)))
def test_edge_cases_match_the_reference(value):
    _same(value)


def _same(value):
    try:
        expected = rfc8785.dumps(value)
    except (CanonicalizationError, ValueError, TypeError) as exc:
        with pytest.raises(type(exc)):
            canonical(value)
    else:
        assert canonical(value) == expected, value


def _random(rng: random.Random, depth: int = 0):
    kinds = ["str", "int", "float", "bool", "none"] + (["dict", "list"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return "".join(chr(rng.choice([rng.randrange(0x20, 0x7f), rng.randrange(0, 0x20),
                                       rng.randrange(0x4e00, 0x9fff), rng.randrange(0x1f600, 0x1f64f)]))
                       for _ in range(rng.randrange(0, 8)))  # fmt: skip
    if kind == "int":
        return rng.choice([rng.randrange(-1000, 1000), rng.randrange(-(2**60), 2**60)])
    if kind == "float":
        x = rng.choice([rng.uniform(-100, 100), rng.uniform(-1, 1) * 10 ** rng.randrange(-30, 30),
                        round(rng.uniform(0, 100), 2), float(rng.randrange(-5, 5))])  # fmt: skip
        return x if math.isfinite(x) else 0.0
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "list":
        return [_random(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    return {_random_key(rng): _random(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def _random_key(rng: random.Random) -> str:
    return "".join(chr(rng.choice([rng.randrange(0x20, 0x7f), rng.randrange(0x4e00, 0x4e10),
                                   rng.randrange(0x1f600, 0x1f603), rng.randrange(0xe000, 0xe003)]))
                   for _ in range(rng.randrange(0, 4)))  # fmt: skip


def test_random_documents_match_the_reference():
    rng = random.Random(8785)
    for _ in range(3000):
        _same(_random(rng))


@pytest.mark.parametrize("bad", [math.nan, math.inf, {"a": math.inf}, "\ud800", {1: 2}, {"a": {1}}])
def test_what_the_reference_refuses_is_refused(bad):
    with pytest.raises((CanonicalizationError, ValueError, TypeError)):
        canonical(bad)
