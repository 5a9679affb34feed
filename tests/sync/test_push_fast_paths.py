"""The shortcuts taken for push ingestion give exactly the answers of the long way.

Each fast path is compared with the code it replaces (kept here as the reference where it is
gone from the code) on random and edge-case input.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import random
import unicodedata
from collections import OrderedDict
from typing import Any

import pytest

from certs import cert_token
from certs import keys as key_tools
from certs.identity import IdType, check_character, mask_id
from certs.numbers import parse_number
from certs.record import CertificateRecord, SignedRecord, sign_record
from sync import merkle, protocol, protocol_payloads
from sync.protocol import ProtocolError, SyncRecord, _private_copy
from sync.registry.services import log as tlog
from sync.registry.services import push_checks

# --------------------------------------------------------------------------- payload copies


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "bool", "none"] + (["dict", "list"] * 2 if depth < 5 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x4E00, 0x4E50)]))
                       for _ in range(rng.randrange(0, 6)))  # fmt: skip
    if kind == "int":
        return rng.choice([0, 1, -7, 2**60, rng.randrange(-1000, 1000)])
    if kind == "float":
        return rng.choice([0.0, -0.0, 90.0, 87.5, 1e-5, 1e300, rng.random()])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {f"k{rng.randrange(20)}": _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def _same_tree(a: Any, b: Any) -> None:
    """Equal, with the same types and key order everywhere, and no container shared."""
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert a is not b and list(a) == list(b)
        for key in a:
            _same_tree(a[key], b[key])
    elif isinstance(a, list):
        assert a is not b and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same_tree(x, y)
    else:
        assert a == b or (a != a and b != b)


def test_private_copy_is_a_deep_copy_of_json():
    rng = random.Random(11)
    for _ in range(3000):
        payload = {"p": _random_json(rng), "q": [_random_json(rng)]}
        copied = _private_copy(payload)
        _same_tree(copied, copy.deepcopy(payload))
        _same_tree(copied, payload)


@pytest.mark.parametrize(
    "payload",
    [
        {"a": (1, [2])},  # a tuple stays a tuple
        {"a": OrderedDict(b=1)},  # subclasses are kept
        OrderedDict(a=1),
        {"a": {1: "non-text key"}},
        {"a": b"bytes", "b": bytearray(b"x")},
        {"a": dt.date(2026, 1, 1)},
    ],
)
def test_private_copy_leaves_anything_else_to_deepcopy(payload):
    copied = _private_copy(payload)
    expected = copy.deepcopy(payload)
    assert copied == expected and type(copied) is type(expected)
    assert repr(copied) == repr(expected)


def test_private_copy_of_deep_and_cyclic_payloads_is_deepcopy():
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    assert _private_copy(deep) == copy.deepcopy(deep)
    cyclic: dict = {"a": []}
    cyclic["a"].append(cyclic)
    copied = _private_copy(cyclic)
    assert copied["a"][0] is copied and copied is not cyclic


def test_a_record_keeps_its_own_copy():
    key = key_tools.generate()
    kid = key_tools.key_id(key.public_key(), "st-")
    payload = {"session": "S1", "attendance": {"a": [1, 2]}, "irregularities": 0,
               "timeline_digest": "0" * 64}  # fmt: skip
    record = protocol.sign_record("session_report", payload, private_key=key, kid=kid)
    signed = record.signed_bytes()
    payload["attendance"]["a"].append(3)
    assert record.payload["attendance"] == {"a": [1, 2]} and record.signed_bytes() == signed
    assert record.parsed_payload() is None


# --------------------------------------------------------------------------- text checks


def _reference_text_ok(value: str, multiline: bool) -> bool:
    allowed = "\n" if multiline else ""
    return not any(unicodedata.category(ch).startswith("C") and ch not in allowed for ch in value)


def test_payload_text_check_matches_the_reference():
    rng = random.Random(3)
    alphabet = "ab 中文\n\t\x00\x7f\u200b\u2028\u3000\u00a0😀"
    for _ in range(5000):
        value = "x" + "".join(rng.choice(alphabet) for _ in range(rng.randrange(6))) + "y"
        for multiline in (False, True):
            expected = _reference_text_ok(value, multiline)
            try:
                protocol_payloads.text({"f": value}, "f", 100, multiline=multiline)
                got = True
            except ProtocolError as exc:
                assert str(exc) == "payload.f: 含有控制字符 (control character)"
                got = False
            assert got == expected, (value, multiline)


# --------------------------------------------------------------------------- certificates

ISSUE = dt.date(2026, 12, 5)


def _id(seq: int) -> str:
    first17 = f"440305199003{1 + seq // 1000 % 28:02d}{seq % 1000:03d}"
    return first17 + check_character(first17)


@pytest.fixture(scope="module")
def key():
    return key_tools.generate()


def _cert(key, **changes) -> CertificateRecord:
    values = dict(
        holder_name="欧阳娜", id_type=IdType.resident_id, id_number=_id(1),
        occupation="工业机器人系统操作员", occupation_code="6-31-01-10", direction="",
        level="四级/中级工", issuer="广东省机械行业职业技能鉴定中心", issue_date=ISSUE,
        number="S000144440301264000001", photo_sha256="a" * 64, programme_code="IRAP",
        programme_name="工业机器人应用编程", session_code="S20261205-03", theory_score=87.5,
        practical_score=90, review_score=None, station_code="440301",
        kid=key_tools.key_id(key.public_key(), "st-"),
    )  # fmt: skip
    values.update(changes)
    return CertificateRecord(**values)


def test_a_certificate_record_is_parsed_once_and_kept(key):
    cert = _cert(key)
    payload = {"signed_record": sign_record(cert, key).to_dict(), "token": "ABC"}
    record = protocol.sign_record("certificate", payload, private_key=key, kid=cert.kid)
    parsed = record.parsed_payload()
    assert isinstance(parsed, SignedRecord)
    assert parsed == SignedRecord.from_dict(record.payload["signed_record"])
    again = SyncRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again.parsed_payload() == parsed
    assert protocol_payloads.check("certificate", payload) == parsed
    assert protocol_payloads.validate("certificate", payload) is None


def test_the_site_code_is_characters_8_to_13_of_a_canonical_number():
    rng = random.Random(9)
    for _ in range(2000):
        number = (f"{rng.choice('SY')}{rng.randrange(10000):04d}{rng.choice([11, 44, 65, 82])}"
                  f"{rng.randrange(10**6):06d}{rng.randrange(19, 100):02d}{rng.randrange(1, 6)}"
                  f"{rng.randrange(1, 10**6):06d}")  # fmt: skip
        parsed = parse_number(number)
        assert str(parsed)[7:13] == parsed.site_code


def _reference_matches(verified, cert) -> bool | type[Exception]:
    try:
        return verified.claims == cert_token.claims_from_record(cert)
    except Exception as exc:  # noqa: BLE001 - the reference raises what it raises
        return type(exc)


def test_token_match_shortcut_gives_the_reference_answer(key):
    kid = key_tools.key_id(key.public_key(), "st-")
    base = _cert(key)
    variants = [
        base,
        _cert(key, holder_name="欧阳娜娜"),
        _cert(key, id_number=_id(2)),
        _cert(key, occupation_code="6-31-01-11"),
        _cert(key, level="中级"),  # 1+X naming, same digit
        _cert(key, level="1+X 中级"),
        _cert(key, number="S000144440301264000002"),
        _cert(key, issue_date=dt.date(2026, 12, 6)),
        _cert(key, holder_name="阿卜杜热合曼·买买提·艾合买提江·阿不都热依木·吐尔逊"),  # > 30
        _cert(key, occupation_code="6-31-01-10\u00e9"),  # not ASCII: claims refuse it
    ]
    tokenable = [c for c in variants if _claims_or_none(c) is not None]
    tokens = [cert_token.sign_token(cert_token.claims_from_record(c), private_key=key, kid=kid)
              for c in tokenable]  # fmt: skip
    from certs.trust import StationKey, TrustList

    trust = TrustList([StationKey(kid, "440301", key.public_key(), dt.date(2026, 1, 1))])
    for token in tokens:
        verified = cert_token.decode_token(token, trust)
        for cert in variants:
            expected = _reference_matches(verified, cert)
            if isinstance(expected, bool):
                got = push_checks._token_matches(verified, cert, mask_id(cert.id_number))
                assert got == expected
            else:
                with pytest.raises(expected):
                    push_checks._token_matches(verified, cert, mask_id(cert.id_number))


def _claims_or_none(cert):
    try:
        return cert_token.claims_from_record(cert)
    except cert_token.InvalidTokenClaimsError:
        return None


def test_json_text_is_json_dumps():
    rng = random.Random(4)
    for _ in range(2000):
        value = "".join(chr(rng.choice([rng.randrange(0, 0x80), rng.randrange(0x80, 0x3000),
                                        rng.randrange(0x10000, 0x10100)]))
                        for _ in range(rng.randrange(8)))  # fmt: skip
        assert push_checks._json_text(value) == json.dumps(value, ensure_ascii=False).encode()


# --------------------------------------------------------------------------- Merkle receipts


def _store(size: int) -> merkle.MemoryStore:
    store = merkle.MemoryStore()
    for i in range(size):
        store.append(f"leaf {i}".encode())
    return store


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 64, 65, 200, 333])
def test_batch_inclusion_proofs_equal_one_by_one(size):
    store = _store(size)
    rng = random.Random(size)
    for _ in range(10):
        indices = rng.sample(range(size), rng.randrange(1, min(size, 40) + 1))
        indices += indices[: rng.randrange(3)]  # repeats too
        expected = [merkle.inclusion_proof(i, size, store) for i in indices]
        assert merkle.inclusion_proofs(indices, size, store) == expected
        assert tlog.receipts(indices, size, store) == [tlog.receipt(i, size, store)
                                                       for i in indices]  # fmt: skip
    assert merkle.inclusion_proofs([], size, store) == []


def test_batch_inclusion_proofs_refuse_what_one_by_one_refuses():
    store = _store(10)
    for indices, size in (([3, 10], 10), ([-1], 10), ([True], 10), ([1], -1)):
        with pytest.raises(merkle.MerkleError) as slow:
            [merkle.inclusion_proof(i, size, store) for i in indices]
        with pytest.raises(type(slow.value)) as fast:
            merkle.inclusion_proofs(indices, size, store)
        assert str(fast.value) == str(slow.value)
    missing = merkle.MemoryStore()
    missing.nodes = dict(list(store.nodes.items())[1:])  # drop leaf 0's node
    with pytest.raises(merkle.MissingNodeError) as slow:
        [merkle.inclusion_proof(i, 10, missing) for i in (1, 0, 5)]
    with pytest.raises(merkle.MissingNodeError) as fast:
        merkle.inclusion_proofs([1, 0, 5], 10, missing)
    assert str(fast.value) == str(slow.value)


# --------------------------------------------------------------------------- COPY values


def test_datetimes_are_converted_once_per_object():
    calls = []

    def process(value):
        calls.append(value)
        if value.tzinfo is None:
            raise ValueError("naive")
        return value.astimezone(dt.UTC)

    convert = tlog._same_datetime_once(process)
    now = dt.datetime(2026, 12, 6, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert [convert(now) for _ in range(3)] == [process(now)] * 3
    assert len(calls) == 2  # once for the three, once for the expected value
    later = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
    assert convert(later) == later and convert(now) == process(now)
    naive = dt.datetime(2026, 12, 6)
    for _ in range(2):
        with pytest.raises(ValueError, match="naive"):
            convert(naive)


def test_prepared_certificate_is_what_the_long_way_makes(key):
    """What ``prepare`` now takes from the one parse and the one serialisation equals what it
    used to compute again: the record's hash, its masked copy, the token check."""
    from certs.record import canonical_bytes
    from certs.trust import StationKey
    from sync.registry.models import Station

    cert = _cert(key, theory_score=90.0, id_number=_id(7).lower())
    signed = sign_record(cert, key)
    token = cert_token.sign_token(cert_token.claims_from_record(cert), private_key=key,
                                  kid=cert.kid)  # fmt: skip
    raw = protocol.sign_record("certificate", {"signed_record": signed.to_dict(), "token": token},
                               private_key=key, kid=cert.kid).to_dict()  # fmt: skip
    keys = push_checks.StationKeys([StationKey(cert.kid, "440301", key.public_key(),
                                               dt.date(2026, 1, 1))])  # fmt: skip
    station = Station(id=1, code="440301", name="x", city="深圳市", status="enrolled")
    prepared = push_checks.prepare(0, json.loads(json.dumps(raw)), station=station, keys=keys,
                                   secret=b"k" * 32)  # fmt: skip
    parsed = SignedRecord.from_dict(raw["payload"]["signed_record"])
    assert prepared.record_sha256 == hashlib.sha256(canonical_bytes(parsed.record)).hexdigest()
    stored = parsed.to_dict()
    stored["record"] = {**stored["record"], "id_number": mask_id(parsed.record.id_number)}
    assert prepared.signed_record == stored and list(prepared.signed_record["record"]) == list(
        stored["record"]
    )
    assert prepared.stored_payload == {**raw["payload"], "signed_record": stored}
    assert prepared.id_hash == push_checks.id_hash(b"k" * 32, cert.id_number)
