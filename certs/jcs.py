"""RFC 8785 JSON Canonicalization Scheme (JCS), fast for the documents SkillCert signs.

The ``rfc8785`` package is the reference implementation, written in pure Python; a registry
canonicalises several documents per certificate it ingests, so that cost adds up. For the JSON
SkillCert actually signs — objects, arrays, text, booleans, null, integers below 2^53 and
"ordinary" decimals — JCS output is exactly what the standard library's C JSON encoder writes
with sorted keys, no whitespace and no ASCII escaping:

- member names sort by UTF-16 code units; for names without characters beyond U+FFFF that is
  code point order, which is what ``sort_keys`` uses;
- strings escape ``"``, ``\\``, and control characters as ``\\b \\t \\n \\f \\r`` or ``\\u00xx``
  (lower-case hex) in both;
- numbers are ECMAScript's shortest round-trip form. An integral float is written as an integer
  (``90.0`` → ``90``), and Python's ``repr`` matches ECMAScript for 1e-4 ≤ |x| < 1e16.

Anything outside those cases (a name beyond the BMP, a lone surrogate, a huge or tiny float,
an integer at or above 2^53, NaN …) is handed to ``rfc8785``, which canonicalises it or refuses it
as the RFC says. A test compares both on many random and edge-case documents.
"""

from __future__ import annotations

import json
import re

import rfc8785

__all__ = ["CanonicalizationError", "canonical"]

CanonicalizationError = rfc8785.CanonicalizationError
_SAFE_INTEGER = 2**53
_ASTRAL_OR_SURROGATE = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                            allow_nan=False, check_circular=False)  # fmt: skip


class _Slow(Exception):
    """The document needs the reference implementation."""


def _prepare(value):
    """The value with integral floats as ints; raises _Slow where the fast path could differ.
    (Strings pass as they are: a lone surrogate makes the UTF-8 encoding fail, which also
    sends the document to the reference.)"""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is int:
        if -_SAFE_INTEGER < value < _SAFE_INTEGER:
            return value
        raise _Slow
    if kind is float:
        if value.is_integer():
            if abs(value) < _SAFE_INTEGER:
                return int(value)
            raise _Slow
        if 1e-4 <= abs(value) < 1e16:  # finite, and written the same way by repr and ECMAScript
            return value
        raise _Slow
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and _ASTRAL_OR_SURROGATE.search(key)):
                raise _Slow
            out[key] = _prepare(item)
        return out
    if kind is list or kind is tuple:
        return [_prepare(item) for item in value]
    raise _Slow  # subclasses (enums …) and anything else: the reference decides


def canonical(value) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``value``; raises ``CanonicalizationError`` (or
    ``TypeError``/``ValueError``) where the reference implementation does."""
    try:
        return _ENCODER.encode(_prepare(value)).encode("utf-8")
    except (_Slow, UnicodeEncodeError):
        return rfc8785.dumps(value)
