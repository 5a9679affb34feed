"""The shortcuts taken for the registry's ingestion give exactly the answers of the long way.

Each fast path is compared with the code it replaces (kept here as the reference) on every
code point, on random input and on edge cases.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import random
import sys
import unicodedata
from dataclasses import fields

import pytest

from certs import cert_token
from certs.cert_token import (
    MalformedTokenError,
    TokenClaims,
    _read_fields,
    _read_fields_checked,
    decode_token,
    sign_token,
)
from certs.codec import CodecError, Writer, b32decode, b32encode
from certs.identity import IdType
from certs.record import (
    CertificateRecord,
    RecordError,
    canonical_bytes,
    control_character,
    sign_record,
    verify_record,
    verify_record_bytes,
)
from certs.trust import StationKey, TrustList
from tests.certs.station_keys import kid_of

# --------------------------------------------------------------------------- control characters


def _slow_control(value: str, allowed: str = "") -> str | None:
    """The per-character loop the fast path skips."""
    for char in value:
        if unicodedata.category(char).startswith("C") and char not in allowed:
            return char
    return None


def test_printable_means_no_control_character_at_any_code_point():
    """The fast path rests on: ``isprintable()`` ⇒ no character of category C (both read
    CPython's Unicode database). Checked for every code point, surrogates included."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char.isprintable():
            assert not unicodedata.category(char).startswith("C"), hex(code)


def test_control_character_matches_the_loop():
    rng = random.Random(1)
    pools = [
        lambda: chr(rng.randrange(0x20, 0x7F)),
        lambda: chr(rng.randrange(0, 0x20)),
        lambda: chr(rng.randrange(0x4E00, 0x9FFF)),
        lambda: rng.choice(
            "\u200b\u200e\u2028\u2029\u3000\u00a0\u00ad\ufeff\x7f\x85\ue000\U000e0001"
        ),
        lambda: chr(rng.randrange(0xD800, 0xE000)),
        lambda: chr(rng.randrange(0x10000, 0x110000)),
        lambda: "\n",
    ]
    for _ in range(20000):
        value = "".join(rng.choice(pools)() for _ in range(rng.randrange(0, 8)))
        for allowed in ("", "\n"):
            assert control_character(value, allowed) == _slow_control(value, allowed), value


@pytest.mark.parametrize(
    "value", ["", "欧阳娜", "a b", "a\u3000b", "x\u200by", "a\nb", "\x7f", "😀"]
)
def test_control_character_edge_cases(value):
    for allowed in ("", "\n"):
        assert control_character(value, allowed) == _slow_control(value, allowed)


# --------------------------------------------------------------------------- records


def _record(kid: str, **changes) -> CertificateRecord:
    values = dict(
        holder_name="欧阳娜", id_type=IdType.resident_id, id_number="11010519900307101X",
        occupation="工业机器人系统操作员", occupation_code="6-31-01-10", direction="",
        level="四级/中级工", issuer="广东省机械行业职业技能鉴定中心",
        issue_date=dt.date(2026, 12, 5), number="S000144030001264000123",
        photo_sha256="a" * 64, programme_code="IRAP", programme_name="工业机器人应用编程",
        session_code="S20261205-03", theory_score=87.5, practical_score=90,
        review_score=None, station_code="440301", kid=kid,
    )  # fmt: skip
    values.update(changes)
    return CertificateRecord(**values)


def _reference_to_dict(record) -> dict:
    """``CertificateRecord.to_dict`` as it was: ``fields()`` and isinstance tests each time."""
    out = {"format": 1}
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, IdType):
            value = value.value
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        out[f.name] = value
    return out


@pytest.mark.parametrize(
    "changes",
    [{}, {"theory_score": 60.0, "practical_score": None}, {"review_score": 99.5},
     {"direction": "", "photo_sha256": None}, {"id_type": "身份证"}],
)  # fmt: skip
def test_to_dict_matches_the_reference(new_key, changes):
    record = _record(kid_of(new_key), **changes)
    assert record.to_dict() == _reference_to_dict(record)
    assert list(record.to_dict()) == list(_reference_to_dict(record))


def test_a_subclass_with_another_field_round_trips(new_key):
    @dataclasses.dataclass(frozen=True, slots=True)
    class Extended(CertificateRecord):
        note: str = "x"

    record = Extended(**{f.name: getattr(_record(kid_of(new_key)), f.name)
                         for f in fields(CertificateRecord)}, note="hello")  # fmt: skip
    data = record.to_dict()
    assert data["note"] == "hello" and data == _reference_to_dict(record)
    assert Extended.from_dict(data) == record


def test_verify_record_bytes_returns_what_was_verified(old_key, new_key):
    trust = TrustList([StationKey(kid_of(new_key), "440301", new_key.public_key(),
                                  dt.date(2026, 1, 1))])  # fmt: skip
    signed = sign_record(_record(kid_of(new_key)), new_key)
    record, canonical = verify_record_bytes(signed, trust)
    assert record == verify_record(signed, trust) and canonical == canonical_bytes(record)
    forged = sign_record(_record(kid_of(new_key)), old_key)
    other_day = sign_record(_record(kid_of(new_key), issue_date=dt.date(2025, 12, 5),
                                    number="S000144030001254000123"), new_key)  # fmt: skip
    for bad in (forged, other_day):
        with pytest.raises(RecordError) as slow:
            verify_record(bad, trust)
        with pytest.raises(type(slow.value)) as fast:
            verify_record_bytes(bad, trust)
        assert str(fast.value) == str(slow.value)


# --------------------------------------------------------------------------- base32


def _reference_alphabet_check(text: str) -> None:
    alphabet = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    if text and not set(text) <= alphabet:
        bad = sorted(set(text) - alphabet)
        raise CodecError(f"invalid base32 character(s): {''.join(bad)!r}")


def test_b32decode_alphabet_check_matches_the_set_test():
    rng = random.Random(32)
    chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abz0189=+-_ \n\u0391\uff21"
    for _ in range(20000):
        text = "".join(rng.choice(chars) for _ in range(rng.choice([0, 1, 2, 7, 8, 16])))
        try:
            _reference_alphabet_check(text)
        except CodecError as exc:
            with pytest.raises(CodecError) as got:
                b32decode(text)
            assert str(got.value) == str(exc)
        else:
            try:
                b32decode(text)
            except CodecError as exc:  # a length or padding error: not about the alphabet
                assert "character" not in str(exc)


def test_b32decode_round_trips():
    rng = random.Random(5)
    for size in range(40):
        data = rng.randbytes(size)
        assert b32decode(b32encode(data)) == data


# --------------------------------------------------------------------------- tokens


def _payload(**texts) -> bytes:
    w = (
        Writer().u8(1).text(texts.get("kid", "st-abc")).raw(bytes(range(9))).u16(9470).u8(4)
        .text(texts.get("code", "6-31-01-10")).text(texts.get("name", "欧阳娜"))
        .text(texts.get("masked", "110***********101X"))
    )  # fmt: skip
    return w.getvalue() + bytes(64)


def test_token_fields_fast_read_agrees_with_the_reader():
    """Either the slicing shortcut reads exactly what the Reader reads, or it gives up and the
    Reader raises; on random damage of every kind (truncation, extra bytes, wrong lengths,
    invalid UTF-8)."""
    rng = random.Random(7)
    bases = [_payload(), _payload(kid="k", code="X", name="Zoë", masked="*1"),
             _payload(name="阿卜杜热合曼·买买提")]  # fmt: skip
    seen = {"same": 0, "refused": 0}
    for _ in range(20000):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randrange(0, 3)):
            how = rng.randrange(4)
            if how == 0 and data:
                del data[rng.randrange(len(data)) :]
            elif how == 1:
                data += rng.randbytes(rng.randrange(1, 5))
            elif how == 2 and len(data) > 1:
                data[rng.randrange(1, len(data))] = rng.randrange(256)
            elif how == 3 and len(data) > 1:
                del data[rng.randrange(1, len(data))]
        data = bytes(data)
        if not data:
            continue
        fast = _read_fields(data)
        if fast is None:
            with pytest.raises(MalformedTokenError):
                _read_fields_checked(data)
            seen["refused"] += 1
        else:
            assert fast == _read_fields_checked(data)
            seen["same"] += 1
    assert seen["same"] > 1000 and seen["refused"] > 1000


def test_decode_token_errors_are_unchanged_for_damaged_tokens(new_key):
    trust = TrustList([StationKey(kid_of(new_key), "ST440301", new_key.public_key(),
                                  dt.date(2026, 1, 1))])  # fmt: skip
    claims = TokenClaims(number="S000144030001264000123", occupation_code="6-31-01-10",
                         issue_date=dt.date(2026, 12, 5), holder_name="欧阳娜",
                         masked_id="110***********101X")  # fmt: skip
    token = sign_token(claims, private_key=new_key, kid=kid_of(new_key))
    assert decode_token(token, trust).claims == claims
    raw = b32decode(token)
    cases = {
        raw[:-1]: "签名不完整（63/64 字节）",
        raw + b"\x00": "签名后多出 1 字节",
        raw[:20]: "truncated",
        raw[:1] + b"\xff" + raw[2:]: "truncated: needed 255 byte(s) at offset 2",
    }
    for data, expected in cases.items():
        with pytest.raises(MalformedTokenError) as exc:
            decode_token(b32encode(data), trust)
        assert expected in str(exc.value)
    bad_utf8 = bytearray(raw)
    bad_utf8[2] = 0xFF  # first byte of the kid
    with pytest.raises(MalformedTokenError, match="invalid UTF-8 in the string at offset 1"):
        decode_token(b32encode(bytes(bad_utf8)), trust)


def test_token_claim_text_checks_are_unchanged():
    base = dict(number="S000144030001264000123", occupation_code="6-31-01-10",
                issue_date=dt.date(2026, 12, 5), masked_id="110***********101X")  # fmt: skip
    for name, ok in (("欧阳娜", True), ("欧阳\u200b娜", False), ("欧阳\u3000娜", True),
                     ("a\x00", False), ("😀", True)):  # fmt: skip
        if ok:
            assert TokenClaims(holder_name=name, **base).holder_name == name
        else:
            with pytest.raises(cert_token.InvalidTokenClaimsError, match="U\\+"):
                TokenClaims(holder_name=name, **base)


def test_masked_token_payload_is_base32_of_the_signed_bytes(new_key):
    claims = TokenClaims(number="S000144030001264000123", occupation_code="6-31-01-10",
                         issue_date=dt.date(2026, 12, 5), holder_name="欧阳娜",
                         masked_id="110***********101X")  # fmt: skip
    token = sign_token(claims, private_key=new_key, kid=kid_of(new_key))
    padded = token + "=" * (-len(token) % 8)
    assert b32decode(token) == base64.b32decode(padded)
