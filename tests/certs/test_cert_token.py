"""The certificate QR token: round trips, every decoder error, tampering, rotation, revocation, size."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re

import pytest
import qrcode
import qrcode.constants
from PIL import Image

from certs import keys
from certs.cert_token import (
    SIGNING_CONTEXT,
    BadTokenSignatureError,
    InvalidTokenClaimsError,
    KeyNotValidError,
    MalformedTokenError,
    RevokedTokenError,
    TokenClaims,
    TokenError,
    UnknownTokenKeyError,
    UnknownTokenVersionError,
    claims_from_record,
    decode_token,
    extract_token,
    parse_token_url,
    sign_token,
    token_url,
)
from certs.codec import Reader, Writer, b32decode, b32encode
from certs.identity import IdType
from certs.qr import qr_png
from certs.record import CertificateRecord
from certs.trust import Revocation, StationKey, TrustList
from tests.certs.qr_decode import decode_image
from tests.certs.station_keys import kid_of

FULL_ID = "11010519900307101X"
MASKED_ID = "110***********101X"
NUMBER = "S000144030001264000123"
REGISTRY = "https://zscx.hrss.guangdong.gov.cn"
ROTATED_ON = dt.date(2026, 7, 1)
REVOKED_AT = dt.datetime(2027, 3, 1, 2, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def trust(old_key, new_key) -> TrustList:
    """A station that rotated its key on 2026-07-01 (both valid that day)."""
    return TrustList(
        [
            StationKey(
                kid_of(old_key), "ST440301", old_key.public_key(), dt.date(2025, 1, 1), ROTATED_ON
            ),
            StationKey(kid_of(new_key), "ST440301", new_key.public_key(), ROTATED_ON),
        ]
    )


def claims(**changes) -> TokenClaims:
    fields = {
        "number": NUMBER,
        "occupation_code": "6-31-01-10",
        "issue_date": dt.date(2026, 12, 5),
        "holder_name": "欧阳娜",
        "masked_id": MASKED_ID,
    }
    fields.update(changes)
    return TokenClaims(**fields)


def signed(private, **changes) -> str:
    return sign_token(claims(**changes), private_key=private, kid=kid_of(private))


def code_of(token: str, trust: TrustList, **kwargs) -> str:
    with pytest.raises(TokenError) as info:
        decode_token(token, trust, **kwargs)
    return info.value.code


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "name", ["张三", "欧阳娜", "欧阳娜娜", "阿卜杜热合曼·买买提", "𠀀𪚥龘", "李" * 30]
)
def test_round_trip(name, new_key, trust):
    original = claims(holder_name=name)
    verified = decode_token(signed(new_key, holder_name=name), trust)
    assert verified.claims == original
    assert (verified.kid, verified.station_code, verified.version) == (
        kid_of(new_key),
        "ST440301",
        1,
    )
    assert verified.claims.level == 4 and verified.claims.level_name == "四级/中级工"


def test_one_plus_x_naming_survives(new_key, trust):
    verified = decode_token(signed(new_key, one_plus_x=True), trust)
    assert verified.claims.one_plus_x and verified.claims.level_name == "中级"


@pytest.mark.parametrize(
    "number",
    [
        "S000011000000191000001",  # smallest parts
        "Y999982999999995999999",  # largest parts
        "Y123465432109992654321",
    ],
)
def test_packed_number_extremes(number, new_key):
    year = 2000 + int(number[13:15])
    forever = TrustList(
        [StationKey(kid_of(new_key), "ST1", new_key.public_key(), dt.date(2019, 1, 1))]
    )
    token = signed(new_key, number=number, issue_date=dt.date(year, 8, 1))
    assert decode_token(token, forever).claims.number == number


def test_token_is_base32_deterministic_and_tolerant(new_key, trust):
    token = signed(new_key)
    assert re.fullmatch(r"[A-Z2-7]+", token)
    assert signed(new_key) == token
    mangled = " " + token[:30].lower() + "\n" + token[30:90] + "\t " + token[90:].lower() + "\r\n"
    assert decode_token(mangled, trust).claims == claims()


def test_binary_layout_is_as_documented(new_key):
    token = signed(new_key, one_plus_x=True)
    payload = b32decode(token)
    reader = Reader(payload)
    assert reader.u8() == 1
    assert reader.text() == kid_of(new_key)
    packed = int.from_bytes(reader.raw(9), "big")
    assert packed >> 71 == 0  # S
    assert (packed >> 57) & 0x3FFF == 1  # agency 0001
    assert (packed >> 50) & 0x7F == 44
    assert (packed >> 30) & 0xFFFFF == 30001
    assert (packed >> 23) & 0x7F == 26
    assert (packed >> 20) & 0x7 == 4
    assert packed & 0xFFFFF == 123
    assert reader.u16() == (dt.date(2026, 12, 5) - dt.date(2000, 1, 1)).days
    assert reader.u8() == 0x14  # 1+X naming, level digit 4
    assert reader.text() == "6-31-01-10"
    assert reader.text() == "欧阳娜"
    assert reader.text() == MASKED_ID
    body_end = reader.pos
    signature = reader.raw(64)
    assert reader.remaining == 0
    new_key.public_key().verify(signature, SIGNING_CONTEXT + payload[:body_end])


def test_claims_from_record_masks_the_id(new_key, trust):
    record = CertificateRecord(
        holder_name="欧阳娜",
        id_type=IdType.resident_id,
        id_number=FULL_ID,
        occupation="工业机器人系统操作员",
        occupation_code="6-31-01-10",
        direction="",
        level="中级",
        issuer="广东省机械行业职业技能鉴定中心",
        issue_date=dt.date(2026, 12, 5),
        number=NUMBER,
        photo_sha256=hashlib.sha256(b"p").hexdigest(),
        programme_code="IRAP",
        programme_name="工业机器人应用编程",
        session_code="S20261205-03",
        theory_score=80,
        practical_score=75,
        review_score=None,
        station_code="ST440301",
        kid=kid_of(new_key),
    )
    made = claims_from_record(record)
    assert made == claims(one_plus_x=True)
    token = sign_token(made, private_key=new_key, kid=record.kid)
    assert FULL_ID.encode() not in b32decode(token)
    assert FULL_ID[3:14].encode() not in b32decode(token)  # the hidden birth date is nowhere
    assert decode_token(token, trust).claims.masked_id == MASKED_ID


# --------------------------------------------------------------------------- decoder errors


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   ", "blank"),
        ("A", "impossible base32 length"),
        ("AEBA!GBA", "character outside base32"),
        ("AEBA0GBA", "0 is not base32"),
        ("AB", "non-canonical trailing bits"),
        ("AE======", "padding"),
        ("SKT1:AEBAGBAF", "an admission ticket"),
    ],
)
def test_malformed_encoding(text, why, trust):
    with pytest.raises(MalformedTokenError, match="已损坏或不完整"):
        decode_token(text, trust)


def test_not_text_is_malformed(trust):
    assert code_of(b"AEBA", trust) == "malformed"  # type: ignore[arg-type]


def test_unknown_version(new_key, trust):
    payload = bytearray(b32decode(signed(new_key)))
    for version in (0, 2, 255):
        payload[0] = version
        with pytest.raises(UnknownTokenVersionError, match=f"格式版本 {version}"):
            decode_token(b32encode(bytes(payload)), trust)


def test_truncated_anywhere_is_malformed(new_key, trust):
    payload = b32decode(signed(new_key))
    for cut in range(1, len(payload)):
        assert code_of(b32encode(payload[:cut]), trust) == "malformed", cut


def test_trailing_bytes_are_malformed(new_key, trust):
    payload = b32decode(signed(new_key))
    with pytest.raises(MalformedTokenError, match="多出 1 字节"):
        decode_token(b32encode(payload + b"\0"), trust)


def test_invalid_utf8_is_malformed(new_key, trust):
    body = Writer().u8(1).text(kid_of(new_key)).raw(bytes(12)).raw(b"\x02\xff\xfe").getvalue()
    with pytest.raises(MalformedTokenError, match="UTF-8"):
        decode_token(b32encode(body + b"\x00\x00" + bytes(64)), trust)


def test_unknown_key(new_key):
    token = signed(new_key)
    other = keys.generate()
    stranger_list = TrustList([StationKey(kid_of(other), "ST1", other.public_key(), ROTATED_ON)])
    with pytest.raises(UnknownTokenKeyError, match="未知密钥") as info:
        decode_token(token, stranger_list)
    assert info.value.kid == kid_of(new_key)
    assert code_of(token, TrustList()) == "unknown_key"


def test_impostor_and_swapped_keys_are_bad_signatures(new_key, old_key, trust):
    impostor = keys.generate()
    forged = sign_token(claims(), private_key=impostor, kid=kid_of(new_key))
    with pytest.raises(BadTokenSignatureError, match="签名无效"):
        decode_token(forged, trust)
    swapped = TrustList([StationKey(kid_of(new_key), "ST440301", old_key.public_key(), ROTATED_ON)])
    assert code_of(signed(new_key), swapped) == "bad_signature"


def test_signature_without_context_is_refused(new_key, trust):
    body = b32decode(signed(new_key))[:-64]
    assert code_of(b32encode(body + new_key.sign(body)), trust) == "bad_signature"


def _signed_body(private, body: bytes) -> str:
    return b32encode(body + private.sign(SIGNING_CONTEXT + body))


def _body(private, *, packed: bytes, days: int, level: int, masked: str = MASKED_ID) -> bytes:
    return (
        Writer()
        .u8(1)
        .text(kid_of(private))
        .raw(packed)
        .u16(days)
        .u8(level)
        .text("6-31-01-10")
        .text("张三")
        .text(masked)
        .getvalue()
    )


def _pack(agency_type, agency, province, site, year, level, serial) -> bytes:
    value = agency_type
    for width, part in (
        (14, agency),
        (7, province),
        (20, site),
        (7, year),
        (3, level),
        (20, serial),
    ):
        value = (value << width) | part
    return value.to_bytes(9, "big")


DAYS_2026 = (dt.date(2026, 12, 5) - dt.date(2000, 1, 1)).days


@pytest.mark.parametrize(
    ("packed", "days", "level", "masked", "message"),
    [
        (_pack(0, 1, 44, 30001, 26, 4, 123), DAYS_2026, 4, FULL_ID, "掩码"),
        (_pack(0, 1, 44, 30001, 26, 4, 123), DAYS_2026, 5, MASKED_ID, "等级字节"),
        (_pack(0, 1, 44, 30001, 26, 4, 123), DAYS_2026, 0x24, MASKED_ID, "等级字节"),
        (_pack(0, 1, 44, 30001, 26, 2, 123), DAYS_2026, 0x12, MASKED_ID, "1\\+X 证书只有"),
        (_pack(0, 16000, 44, 30001, 26, 4, 123), DAYS_2026, 4, MASKED_ID, "证书编号无效"),
        (_pack(0, 1, 99, 30001, 26, 4, 123), DAYS_2026, 4, MASKED_ID, "省级代码 99"),
        (_pack(0, 1, 44, 1_000_000, 26, 4, 123), DAYS_2026, 4, MASKED_ID, "证书编号无效"),
        (_pack(0, 1, 44, 30001, 26, 7, 123), DAYS_2026, 7, MASKED_ID, "等级代码应为 1–5"),
        (_pack(0, 1, 44, 30001, 26, 4, 0), DAYS_2026, 4, MASKED_ID, "000000"),
        (_pack(0, 1, 44, 30001, 25, 4, 123), DAYS_2026, 4, MASKED_ID, "与发证日期 2026-12-05 不符"),
    ],
)
def test_signed_but_invalid_fields_are_malformed(
    packed, days, level, masked, message, new_key, trust
):
    """Even a genuine station signature cannot make impossible claims acceptable."""
    token = _signed_body(
        new_key, _body(new_key, packed=packed, days=days, level=level, masked=masked)
    )
    with pytest.raises(MalformedTokenError, match=message) as info:
        decode_token(token, trust)
    assert info.value.kid == kid_of(new_key)


def test_every_flipped_bit_is_refused(new_key, trust):
    payload = b32decode(signed(new_key))
    kid_end = 2 + len(kid_of(new_key))
    for index in range(len(payload)):
        for mask in [1 << bit for bit in range(8)] + [0xFF]:
            tampered = bytearray(payload)
            tampered[index] ^= mask
            code = code_of(b32encode(bytes(tampered)), trust)
            if index == 0:
                assert code == "unknown_version"
            elif index < kid_end:
                assert code in {"unknown_key", "malformed"}, (index, mask, code)
            else:
                assert code in {"bad_signature", "malformed"}, (index, mask, code)


def test_every_changed_character_is_refused(new_key, trust):
    token = signed(new_key)
    for index in range(len(token)):
        for replacement in {"A", "B", "7"} - {token[index]}:
            changed = token[:index] + replacement + token[index + 1 :]
            assert code_of(changed, trust) in {
                "malformed",
                "unknown_version",
                "unknown_key",
                "bad_signature",
            }, (index, replacement)


# --------------------------------------------------------------------------- rotation


def test_old_and_new_keys_both_verify_after_rotation(old_key, new_key, trust):
    before = signed(old_key, issue_date=dt.date(2026, 3, 1))
    on_the_day = signed(old_key, issue_date=ROTATED_ON)
    after = signed(new_key, issue_date=dt.date(2026, 12, 5))
    assert decode_token(before, trust).kid == kid_of(old_key)
    assert decode_token(on_the_day, trust).claims.issue_date == ROTATED_ON
    assert decode_token(after, trust).kid == kid_of(new_key)


def test_old_key_after_its_window_is_key_not_valid(old_key, new_key, trust):
    late = signed(old_key, issue_date=dt.date(2026, 7, 2))
    with pytest.raises(KeyNotValidError, match="有效期为 2025-01-01 至 2026-07-01") as info:
        decode_token(late, trust)
    assert info.value.code == "key_not_valid"
    early = signed(new_key, issue_date=dt.date(2026, 6, 30))
    assert code_of(early, trust) == "key_not_valid"


def test_key_not_valid_only_after_the_signature(old_key, trust):
    """A forged token dated outside the window is a bad signature, not key_not_valid."""
    impostor = keys.generate()
    forged = sign_token(
        claims(issue_date=dt.date(2026, 9, 1)), private_key=impostor, kid=kid_of(old_key)
    )
    assert code_of(forged, trust) == "bad_signature"


# --------------------------------------------------------------------------- revocation


def test_revoked_in_the_trust_list(new_key, trust):
    revoked_list = trust.with_revocation(NUMBER, Revocation(REVOKED_AT, "以欺骗手段取得证书"))
    with pytest.raises(
        RevokedTokenError, match="已于 2027-03-01 被撤销：以欺骗手段取得证书"
    ) as info:
        decode_token(signed(new_key), revoked_list)
    assert info.value.code == "revoked"
    assert info.value.token.claims == claims()
    assert info.value.revocation.reason == "以欺骗手段取得证书"
    other = signed(new_key, number="S000144030001264000124")
    assert decode_token(other, revoked_list).claims.number.endswith("124")


def test_revocation_date_is_shown_in_shanghai_time(new_key, trust):
    late_evening_utc = dt.datetime(2027, 3, 1, 20, 0, tzinfo=dt.UTC)  # 04:00 on 2 March in Beijing
    revoked_list = trust.with_revocation(NUMBER, Revocation(late_evening_utc, "撤销"))
    with pytest.raises(RevokedTokenError, match="已于 2027-03-02 被撤销"):
        decode_token(signed(new_key), revoked_list)


def test_revoked_by_the_keyword_list(new_key, trust):
    revocations = {NUMBER: Revocation(REVOKED_AT, "证书信息有误")}
    assert code_of(signed(new_key), trust, revocations=revocations) == "revoked"
    assert decode_token(signed(new_key), trust, revocations={}).claims == claims()


def test_revocation_is_checked_only_after_the_signature(new_key, trust):
    revoked_list = trust.with_revocation(NUMBER, Revocation(REVOKED_AT, "撤销"))
    impostor = keys.generate()
    forged = sign_token(claims(), private_key=impostor, kid=kid_of(new_key))
    assert code_of(forged, revoked_list) == "bad_signature"
    payload = bytearray(b32decode(signed(new_key)))
    payload[-1] ^= 1
    assert code_of(b32encode(bytes(payload)), revoked_list) == "bad_signature"


# --------------------------------------------------------------------------- claims


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"number": "S0001"}, "证书编号无效"),
        ({"occupation_code": ""}, "职业编码"),
        ({"occupation_code": "6-31 01"}, "职业编码"),
        ({"occupation_code": "职业"}, "职业编码"),
        ({"occupation_code": "1" * 33}, "职业编码"),
        ({"holder_name": ""}, "不能为空"),
        ({"holder_name": "李" * 31}, "超过上限 30"),
        ({"holder_name": "张\u200b三"}, "控制字符"),
        ({"masked_id": FULL_ID}, "掩码"),
        ({"masked_id": "1101051990******"}, "掩码"),
        ({"issue_date": dt.datetime(2026, 12, 5, 9)}, "必须是日期"),
        ({"issue_date": dt.date(2027, 1, 1)}, "年份 2026 与发证日期"),
        ({"one_plus_x": 1}, "布尔值"),
        ({"number": "S000144030001262000123", "one_plus_x": True}, "1\\+X 证书只有"),
    ],
)
def test_claims_validation(changes, message):
    with pytest.raises(InvalidTokenClaimsError, match=message):
        claims(**changes)


@pytest.mark.parametrize("bad_kid", ["", "has space", "k" * 33, "密钥", None])
def test_sign_refuses_a_bad_kid(bad_kid, new_key):
    with pytest.raises(InvalidTokenClaimsError, match="密钥编号"):
        sign_token(claims(), private_key=new_key, kid=bad_kid)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- URLs


def test_token_url_round_trip(new_key, trust):
    token = signed(new_key)
    url = token_url(REGISTRY + "/", token)
    assert url == "HTTPS://ZSCX.HRSS.GUANGDONG.GOV.CN/V/" + token
    assert re.fullmatch(r"[0-9A-Z $%*+\-./:]+", url), "must stay in QR alphanumeric mode"
    assert parse_token_url(url) == token
    assert parse_token_url(url.lower() + "/") == token
    assert parse_token_url(url + "?utm=wechat#x") == token
    assert parse_token_url(url, registry_base=REGISTRY) == token
    assert decode_token(url, trust).claims == claims()
    with_path = token_url("https://rst.gd.gov.cn/ZSCX", token)
    assert with_path == "HTTPS://RST.GD.GOV.CN/ZSCX/V/" + token
    assert parse_token_url(with_path, registry_base="https://RST.gd.gov.cn/ZSCX/") == token


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://zscx.example.cn/V/AEBA", "不是 http\\(s\\) 网址"),
        ("zscx.example.cn/V/AEBA", "不是 http\\(s\\) 网址"),
        ("https://zscx.example.cn/verify/AEBA", "不是证书核验地址"),
        ("https://zscx.example.cn/V/", "不是证书核验地址"),
        ("https://zscx.example.cn/XV/AEBA", "不是证书核验地址"),
        ("https://zscx.example.cn/V/AEB0", "base32 以外"),
    ],
)
def test_parse_token_url_refusals(url, message):
    with pytest.raises(MalformedTokenError, match=message):
        parse_token_url(url)


def test_parse_token_url_checks_the_registry():
    url = "HTTPS://EVIL.EXAMPLE.CN/V/AEBA"
    with pytest.raises(MalformedTokenError, match="不属于核验服务"):
        parse_token_url(url, registry_base=REGISTRY)
    with pytest.raises(MalformedTokenError, match="不属于核验服务"):
        parse_token_url(
            "https://rst.gd.gov.cn/other/V/AEBA", registry_base="https://rst.gd.gov.cn/zscx"
        )


@pytest.mark.parametrize(
    ("base", "token"),
    [
        ("zscx.example.cn", "AEBA"),
        ("https://", "AEBA"),
        ("https://x.cn/?a=1", "AEBA"),
        (REGISTRY, "aeba"),
        (REGISTRY, ""),
    ],
)
def test_token_url_refusals(base, token):
    with pytest.raises(ValueError):
        token_url(base, token)


def test_extract_token(new_key):
    token = signed(new_key)
    assert extract_token(token_url(REGISTRY, token)) == token
    assert extract_token(token.lower()) == token
    assert extract_token("SKT1:" + token) is None  # an admission ticket
    assert extract_token("https://www.example.cn/about") is None
    assert extract_token("AEBAGBAF") is None  # too short to be a token
    assert extract_token(None) is None  # type: ignore[arg-type]


# --------------------------------------------------------------------------- QR size


def _best_fit(text: str) -> int:
    qr = qrcode.QRCode(version=None, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    return qr.best_fit()


@pytest.mark.parametrize(
    ("host", "name", "occupation_code"),
    [
        (REGISTRY, "欧阳娜", "4-04-05-03-02"),
        ("https://jnjd.rst.xinjiang.gov.cn", "买买提", "2-02-38-06-01"),
        ("https://zscx.hrss.guangdong.gov.cn/zscx", "司马相", "X-2024-0501-03-02-01"),
    ],
)
def test_realistic_url_fits_qr_version_10_at_m(host, name, occupation_code, new_key, trust):
    token = signed(new_key, holder_name=name, occupation_code=occupation_code)
    url = token_url(host, token)
    version = _best_fit(url)
    assert version <= 10, (len(url), version)  # measured: version 9 or 10 (53-57 modules)
    png = qr_png(url, box_size=4, error="M")
    assert decode_image(Image.open(io.BytesIO(png))) == [url]
    assert decode_token(parse_token_url(url), trust).claims.holder_name == name


def test_token_size_is_pinned(new_key):
    """Typical token: 134 bytes -> 215 base32 characters; growth here is a format change."""
    token = signed(new_key, holder_name="欧阳娜", occupation_code="4-04-05-03-02")
    assert len(b32decode(token)) == 134
    assert len(token) == 215


# --------------------------------------------------------------------------- fast base32


def _reference_b32decode(text: str) -> bytes:
    """The standard library's decoder, made as strict as the codec promises to be."""
    import base64

    if set(text) - set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") or len(text) % 8 in (1, 3, 6):
        raise ValueError(text)
    data = base64.b32decode(text + "=" * (-len(text) % 8))
    if base64.b32encode(data).decode().rstrip("=") != text:
        raise ValueError(text)
    return data


def test_fast_base32_decoder_agrees_with_the_standard_library():
    """certs.codec.b32decode (one int() call) accepts and refuses exactly what a strict
    standard-library decode does; decode_token reports a refusal as a malformed token."""
    import random

    from certs.codec import CodecError

    rng = random.Random(2026)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    samples = [b32encode(rng.randbytes(n)) for n in range(1, 200)]
    samples += ["".join(rng.choice(alphabet) for _ in range(n)) for n in range(1, 60)]
    samples += ["A0", "AB", "AE==", "AE ", "+AE", "-AEBA", "AE_A", "ae", "AEBAGBAF", "A" * 1000]
    for text in samples:
        try:
            expected = _reference_b32decode(text)
        except ValueError:
            with pytest.raises(CodecError):
                b32decode(text)
        else:
            assert b32decode(text) == expected, text
