"""The signed admission-ticket token: round trips, every refusal, tampering, size, privacy."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from certs import identity, keys
from certs.codec import CodecError, Reader, Writer, b32decode, b32encode
from certs.qr import qr_version
from certs.ticket_token import (
    PREFIX,
    SIGNING_CONTEXT,
    BadTicketSignatureError,
    InvalidTicketClaimsError,
    MalformedTicketError,
    NotATicketError,
    TicketClaims,
    TicketError,
    UnknownTicketKeyError,
    UnknownTicketVersionError,
    is_masked_id,
    sign_ticket,
    verify_ticket,
)

FULL_ID = "11010519900307123X"  # valid GB 11643 check character
MASKED_ID = "110***********123X"


@pytest.fixture(scope="module")
def station_key():
    return keys.generate()


@pytest.fixture(scope="module")
def kid(station_key):
    return keys.key_id(station_key.public_key(), prefix="st-")


@pytest.fixture(scope="module")
def trusted(station_key, kid):
    return {kid: station_key.public_key()}


def claims(**changes) -> TicketClaims:
    fields = {
        "session_code": "S20261205-03",
        "admission_number": "4401262612050012",
        "candidate_name": "欧阳娜娜",
        "masked_id": MASKED_ID,
        "exam_date": dt.date(2026, 12, 5),
    }
    fields.update(changes)
    return TicketClaims(**fields)


def payload_of(token: str) -> bytes:
    return b32decode(token[len(PREFIX) :])


def token_of(payload: bytes) -> str:
    return PREFIX + b32encode(payload)


def error_code(token: str, trusted) -> str:
    with pytest.raises(TicketError) as info:
        verify_ticket(token, keys=trusted)
    return info.value.code


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "name",
    ["张三", "欧阳娜娜", "阿卜杜热合曼·买买提", "李" * 30, "Zhang San", "𠀀𪚥龘"],
)
def test_round_trip_with_chinese_names(name, station_key, kid, trusted):
    original = claims(candidate_name=name)
    token = sign_ticket(original, private_key=station_key, kid=kid)
    assert verify_ticket(token, keys=trusted) == original


def test_token_is_qr_alphanumeric_and_deterministic(station_key, kid):
    token = sign_ticket(claims(), private_key=station_key, kid=kid)
    assert token.startswith("SKT1:")
    assert re.fullmatch(r"[0-9A-Z $%*+\-./:]+", token), "must stay in QR alphanumeric mode"
    assert sign_ticket(claims(), private_key=station_key, kid=kid) == token


def test_whitespace_and_lower_case_are_tolerated(station_key, kid, trusted):
    token = sign_ticket(claims(), private_key=station_key, kid=kid)
    mangled = "  " + token[:20].lower() + "\n" + token[20:60] + " \t" + token[60:].lower() + "\r\n"
    assert verify_ticket(mangled, keys=trusted) == claims()


def test_all_fields_and_dates_survive(station_key, kid, trusted):
    for day in (dt.date(2000, 1, 1), dt.date(2026, 2, 28), dt.date(2179, 6, 6)):
        original = claims(exam_date=day, session_code="X" * 32, admission_number="9" * 32)
        token = sign_ticket(original, private_key=station_key, kid=kid)
        assert verify_ticket(token, keys=trusted) == original


def test_binary_layout_is_as_documented(station_key, kid):
    token = sign_ticket(claims(), private_key=station_key, kid=kid)
    reader = Reader(payload_of(token))
    assert reader.u8() == 1
    assert reader.text() == kid
    assert reader.text() == "S20261205-03"
    assert reader.text() == "4401262612050012"
    assert reader.text() == "欧阳娜娜"
    assert reader.text() == MASKED_ID
    assert reader.u16() == (dt.date(2026, 12, 5) - dt.date(2000, 1, 1)).days
    body_end = reader.pos
    signature = reader.raw(64)
    assert reader.remaining == 0
    station_key.public_key().verify(signature, SIGNING_CONTEXT + payload_of(token)[:body_end])


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "text",
    ["", "   ", "https://registry.example.cn/v/ABC", "4401262612050012", "SKT:AEBQ", "SKTX1:AE"],
)
def test_not_a_ticket(text, trusted):
    with pytest.raises(NotATicketError, match="不是准考证二维码"):
        verify_ticket(text, keys=trusted)


def test_not_text_is_not_a_ticket(trusted):
    with pytest.raises(NotATicketError):
        verify_ticket(b"SKT1:AE", keys=trusted)  # type: ignore[arg-type]


def test_future_prefix_is_unknown_version(trusted):
    with pytest.raises(UnknownTicketVersionError, match="SKT2"):
        verify_ticket("SKT2:AEBAGBAF", keys=trusted)


def test_unknown_format_version_byte(station_key, kid, trusted):
    payload = bytearray(payload_of(sign_ticket(claims(), private_key=station_key, kid=kid)))
    payload[0] = 2
    with pytest.raises(UnknownTicketVersionError, match="格式版本 2") as info:
        verify_ticket(token_of(bytes(payload)), keys=trusted)
    assert info.value.code == "unknown_version"


@pytest.mark.parametrize(
    ("suffix", "why"),
    [
        ("", "empty"),
        ("A", "impossible base32 length"),
        ("AEBA!GBA", "character outside base32"),
        ("AEBA0GBA", "0 is not base32"),
        ("AB", "non-canonical trailing bits"),
        ("AE======", "padding"),
    ],
)
def test_malformed_encoding(suffix, why, trusted):
    with pytest.raises(MalformedTicketError, match="已损坏或不完整"):
        verify_ticket(PREFIX + suffix, keys=trusted)


def test_truncated_anywhere_is_malformed(station_key, kid, trusted):
    payload = payload_of(sign_ticket(claims(), private_key=station_key, kid=kid))
    for cut in range(1, len(payload)):
        assert error_code(token_of(payload[:cut]), trusted) == "malformed", cut


def test_trailing_bytes_are_malformed(station_key, kid, trusted):
    payload = payload_of(sign_ticket(claims(), private_key=station_key, kid=kid))
    with pytest.raises(MalformedTicketError, match="多出 1 字节"):
        verify_ticket(token_of(payload + b"\0"), keys=trusted)


def test_invalid_utf8_is_malformed(station_key, kid, trusted):
    body = Writer().u8(1).text(kid).raw(b"\x02\xff\xfe").getvalue()
    with pytest.raises(MalformedTicketError, match="UTF-8"):
        verify_ticket(token_of(body + bytes(64)), keys=trusted)


def test_unknown_key(station_key, kid):
    token = sign_ticket(claims(), private_key=station_key, kid=kid)
    other = keys.generate()
    with pytest.raises(UnknownTicketKeyError, match="未知密钥") as info:
        verify_ticket(token, keys={keys.key_id(other.public_key(), "st-"): other.public_key()})
    assert info.value.kid == kid
    with pytest.raises(UnknownTicketKeyError):
        verify_ticket(token, keys={})


def test_key_id_mismatch_is_bad_signature(station_key, kid):
    """A token whose kid names a key that did not sign it: refused, never accepted."""
    impostor = keys.generate()
    forged = sign_ticket(claims(), private_key=impostor, kid=kid)  # claims to be the station
    with pytest.raises(BadTicketSignatureError, match="签名无效"):
        verify_ticket(forged, keys={kid: station_key.public_key()})
    genuine = sign_ticket(claims(), private_key=station_key, kid=kid)
    with pytest.raises(BadTicketSignatureError):  # trust list maps the kid to another key
        verify_ticket(genuine, keys={kid: impostor.public_key()})


def test_rotated_keys_both_verify(station_key, kid, trusted):
    new_key = keys.generate()
    new_kid = keys.key_id(new_key.public_key(), "st-")
    both = {**trusted, new_kid: new_key.public_key()}
    old_token = sign_ticket(claims(), private_key=station_key, kid=kid)
    new_token = sign_ticket(claims(candidate_name="张三"), private_key=new_key, kid=new_kid)
    assert verify_ticket(old_token, keys=both) == claims()
    assert verify_ticket(new_token, keys=both).candidate_name == "张三"


def test_signature_of_body_without_context_is_refused(station_key, kid, trusted):
    """A station signature made for anything else (no ticket context) does not pass as a ticket."""
    payload = payload_of(sign_ticket(claims(), private_key=station_key, kid=kid))
    body = payload[:-64]
    with pytest.raises(BadTicketSignatureError):
        verify_ticket(token_of(body + station_key.sign(body)), keys=trusted)


def test_every_flipped_bit_is_refused(station_key, kid, trusted):
    payload = payload_of(sign_ticket(claims(), private_key=station_key, kid=kid))
    kid_end = 2 + len(kid)
    for index in range(len(payload)):
        for bit in range(8):
            tampered = bytearray(payload)
            tampered[index] ^= 1 << bit
            code = error_code(token_of(bytes(tampered)), trusted)
            if index == 0:
                assert code == "unknown_version"
            elif index < kid_end:
                assert code in {"unknown_key", "malformed"}, (index, bit, code)
            else:
                assert code in {"bad_signature", "malformed"}, (index, bit, code)


def test_every_changed_character_is_refused(station_key, kid, trusted):
    token = sign_ticket(claims(), private_key=station_key, kid=kid)
    for index in range(len(PREFIX), len(token)):
        replacement = "B" if token[index] != "B" else "C"
        with pytest.raises(TicketError):
            verify_ticket(token[:index] + replacement + token[index + 1 :], keys=trusted)


def test_signed_but_invalid_claims_are_malformed(station_key, kid, trusted):
    """Even a genuine signature cannot make a full ID number acceptable."""
    body = (
        Writer()
        .u8(1)
        .text(kid)
        .text("S1")
        .text("A1")
        .text("张三")
        .text(FULL_ID)
        .u16(9000)
        .getvalue()
    )
    token = token_of(body + station_key.sign(SIGNING_CONTEXT + body))
    with pytest.raises(MalformedTicketError, match="掩码"):
        verify_ticket(token, keys=trusted)


# --------------------------------------------------------------------------- claims and privacy


def test_token_never_contains_the_full_id_number(station_key, kid, trusted):
    masked = identity.mask_id(FULL_ID)
    assert masked == MASKED_ID
    token = sign_ticket(claims(masked_id=masked), private_key=station_key, kid=kid)
    payload = payload_of(token)
    assert FULL_ID.encode() not in payload
    assert FULL_ID[3:14].encode() not in payload  # the hidden middle (birth date) is nowhere
    assert FULL_ID not in token
    assert verify_ticket(token, keys=trusted).masked_id == MASKED_ID


@pytest.mark.parametrize(
    "id_number", [FULL_ID, "110105199003071", "E12345678", "1101051990******", "*ABCDEFGH"]
)
def test_claims_refuse_an_unmasked_id(id_number):
    with pytest.raises(InvalidTicketClaimsError, match="掩码"):
        claims(masked_id=id_number)


@pytest.mark.parametrize(
    "id_number", [FULL_ID, "E12345678", "H1234567890", "1234", "110105199003071", "AB123456789012"]
)
def test_station_masks_are_accepted(id_number, station_key, kid, trusted):
    """Whatever ``certs.identity.mask_id`` makes, for every ID length, goes into a ticket."""
    masked = identity.mask_id(id_number)
    assert is_masked_id(masked)
    token = sign_ticket(claims(masked_id=masked), private_key=station_key, kid=kid)
    assert verify_ticket(token, keys=trusted).masked_id == masked


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"candidate_name": "李" * 31}, "超过上限 30"),
        ({"candidate_name": ""}, "不能为空"),
        ({"candidate_name": " 张三"}, "首尾不能有空格"),
        ({"candidate_name": "张\n三"}, "控制字符"),
        ({"session_code": "S" * 33}, "超过上限 32"),
        ({"admission_number": "1" * 33}, "超过上限 32"),
        ({"admission_number": 123}, "必须是文本"),
        ({"exam_date": dt.datetime(2026, 12, 5, 9, 0)}, "必须是日期"),
        ({"exam_date": dt.date(1999, 12, 31)}, "超出可表示范围"),
        ({"exam_date": dt.date(2179, 6, 7)}, "超出可表示范围"),
    ],
)
def test_claims_validation(changes, message):
    with pytest.raises(InvalidTicketClaimsError, match=message):
        claims(**changes)


@pytest.mark.parametrize("bad_kid", ["", "has space", "k" * 33, "密钥"])
def test_sign_refuses_a_bad_kid(bad_kid, station_key):
    with pytest.raises(InvalidTicketClaimsError, match="密钥编号"):
        sign_ticket(claims(), private_key=station_key, kid=bad_kid)


# --------------------------------------------------------------------------- size


def test_typical_ticket_fits_a_small_qr(station_key, kid):
    token = sign_ticket(claims(), private_key=station_key, kid=kid)
    assert len(token) == 234
    assert qr_version(token, "M") <= 10  # measured: version 9 (53 × 53 modules)


def test_largest_ticket_still_fits(station_key, kid):
    biggest = claims(
        session_code="S" * 32,
        admission_number="9" * 32,
        candidate_name="龘" * 30,
        masked_id="*" * 25 + "1234567",
    )
    token = sign_ticket(biggest, private_key=station_key, kid="k" * 32)
    assert len(token) == 469  # 290 bytes
    assert (
        qr_version(token, "M") <= 13
    )  # measured 13: 69 × 69 modules: still one ticket's QR, just denser


# --------------------------------------------------------------------------- codec


def test_codec_reader_refuses_short_reads():
    with pytest.raises(CodecError, match="truncated"):
        Reader(b"\x05ab").text()
    with pytest.raises(CodecError):
        Writer().text("x" * 256)
    with pytest.raises(CodecError):
        Writer().u16(70000)
