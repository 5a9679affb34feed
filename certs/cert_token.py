"""The signed certificate token: the QR code on a certificate, verifiable with no network.

The QR code holds a URL, ``<REGISTRY>/V/<TOKEN>``: a phone camera opens the registry's verify
page; an offline verifier takes the token from the URL and checks its Ed25519 signature against
a cached :class:`certs.trust.TrustList`. The token is upper-case base32 (:func:`certs.codec.
b32encode`) and :func:`token_url` upper-cases the scheme and host, so the whole URL stays in
the QR alphanumeric mode (5.5 bits a character).

Binary layout of format version 1 (big-endian; ``str`` = one length byte ``n``, then ``n``
bytes of UTF-8)::

    offset  size  field
    0       1     format version = 0x01
    1       1+n   kid              station key id, printable ASCII, 1-32 characters
    .       9     number           the 22-character certificate number, packed (below)
    .       2     issue_date       days since 2000-01-01, uint16
    .       1     level            low nibble: level digit 1-5 (equal to the number's);
                                   high nibble: naming, 0 = 五级…一级, 1 = 1+X 初级/中级/高级
    .       1+n   occupation_code  职业编码, printable ASCII, 1-32 characters
    .       1+n   holder_name      1-30 characters
    .       1+n   masked_id        certs.identity.mask_id output: never the full ID number
    .       64    signature        Ed25519 over SIGNING_CONTEXT || every byte above

The certificate number is packed into 72 bits, most significant first: agency type (1 bit,
S = 0, Y = 1), agency code (14), province code (7), site code (20), year - 2000 (7), level
digit (3), serial (20). That is 9 bytes instead of 23 as text.

:func:`decode_token` checks, in this order: the encoding and structure (``malformed``), the
version (``unknown_version``), the key id (``unknown_key``), the signature (``bad_signature``),
the signed fields (``malformed``), the key's validity window on the issue date
(``key_not_valid``) and, only for a genuine token, revocation (``revoked``).

The claims, the verified token and the errors live in :mod:`certs.token_claims`; this module
exports them too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from certs.codec import CodecError, Reader, Writer, b32decode, b32encode
from certs.identity import SHANGHAI
from certs.keys import verify as verify_signature
from certs.numbers import CertificateNumber
from certs.token_claims import (
    EPOCH,
    FORMAT_VERSION,
    BadTokenSignatureError,
    InvalidTokenClaimsError,
    KeyNotValidError,
    MalformedTokenError,
    RevokedTokenError,
    TokenClaims,
    TokenError,
    UnknownTokenKeyError,
    UnknownTokenVersionError,
    VerifiedToken,
    claims_from_record,
)
from certs.trust import Revocation, TrustList

__all__ = [
    "FORMAT_VERSION",
    "SIGNING_CONTEXT",
    "BadTokenSignatureError",
    "InvalidTokenClaimsError",
    "KeyNotValidError",
    "MalformedTokenError",
    "RevokedTokenError",
    "TokenClaims",
    "TokenError",
    "UnknownTokenKeyError",
    "UnknownTokenVersionError",
    "VerifiedToken",
    "claims_from_record",
    "decode_token",
    "extract_token",
    "parse_token_url",
    "sign_token",
    "token_url",
]

SIGNING_CONTEXT = b"SkillCert certificate token\x00"
SIGNATURE_SIZE = 64
NUMBER_SIZE = 9
URL_MARKER = "/V/"

MAX_KID = 32
MIN_TOKEN_CHARS = 120  # version + 1-char kid + number + date + level + 3 one-char texts + signature

_KID = re.compile(rf"[!-~]{{1,{MAX_KID}}}")
_BASE32 = re.compile(r"[A-Z2-7]+")


# --------------------------------------------------------------------------- number packing


def _pack_number(number: CertificateNumber) -> bytes:
    value = 1 if number.agency_type == "Y" else 0
    for width, part in (
        (14, int(number.agency_code)),
        (7, int(number.province_code)),
        (20, int(number.site_code)),
        (7, number.year - 2000),
        (3, number.level),
        (20, number.serial),
    ):
        value = (value << width) | part
    return value.to_bytes(NUMBER_SIZE, "big")


def _unpack_number(data: bytes) -> str:
    """The number's text; the parts are only range-checked later, by :func:`parse_number`."""
    value = int.from_bytes(data, "big")
    serial, value = value & 0xFFFFF, value >> 20
    level, value = value & 0x7, value >> 3
    year, value = value & 0x7F, value >> 7
    site, value = value & 0xFFFFF, value >> 20
    province, value = value & 0x7F, value >> 7
    agency, value = value & 0x3FFF, value >> 14
    return f"{'SY'[value]}{agency:04d}{province:02d}{site:06d}{year:02d}{level}{serial:06d}"


# --------------------------------------------------------------------------- sign / decode


def sign_token(claims: TokenClaims, *, private_key: Ed25519PrivateKey, kid: str) -> str:
    """The base32 token for ``claims``, signed with the station key ``private_key`` named ``kid``."""
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise InvalidTokenClaimsError(
            f"密钥编号 {kid!r} 无效：应为 1–{MAX_KID} 个可打印 ASCII 字符 (kid: invalid)"
        )
    number = claims.parsed_number
    body = (
        Writer()
        .u8(FORMAT_VERSION)
        .text(kid)
        .raw(_pack_number(number))
        .u16((claims.issue_date - EPOCH).days)
        .u8((0x10 if claims.one_plus_x else 0) | number.level)
        .text(claims.occupation_code)
        .text(claims.holder_name)
        .text(claims.masked_id)
        .getvalue()
    )
    return b32encode(body + private_key.sign(SIGNING_CONTEXT + body))


def decode_token(
    token: str, trust: TrustList, *, revocations: Mapping[str, Revocation] | None = None
) -> VerifiedToken:
    """Verify a certificate token (or a ``…/V/<TOKEN>`` URL) against ``trust``.

    Whitespace is ignored and lower case accepted. Revocations are looked up in ``trust`` and,
    when given, in ``revocations`` too (e.g. a fresher list fetched on its own). Raises a
    :class:`TokenError` subclass whose ``code`` says what is wrong.
    """
    if not isinstance(token, str):
        raise _malformed("内容不是文本")
    text = "".join(token.split())
    if "/" in text:
        text = parse_token_url(text)
    if not text:
        raise _malformed("内容为空")
    try:
        payload = b32decode(text.upper())
    except CodecError as exc:
        raise _malformed(f"编码错误：{exc}") from None
    version = payload[0]  # never empty: b32decode gives at least one byte for non-empty text
    if version != FORMAT_VERSION:
        raise UnknownTokenVersionError(
            f"证书二维码格式版本 {version} 不受支持（本软件支持版本 {FORMAT_VERSION}），"
            "请升级核验软件 (unknown format version)"
        )
    fields = _read_fields(payload)
    if fields is None:  # something is wrong: let the Reader say exactly what
        fields = _read_fields_checked(payload)
    kid, packed, days, level_byte, occupation_code, holder_name, masked_id, body_end = fields
    signature = payload[body_end:]

    key = trust.get(kid)
    if key is None:
        raise UnknownTokenKeyError(
            f"证书由未知密钥 {kid!r} 签发：信任列表中没有该密钥，请更新信任列表 (unknown key)",
            kid=kid,
        )
    try:
        verify_signature(key.public_key, signature, SIGNING_CONTEXT + payload[:body_end])
    except InvalidSignature as exc:
        raise BadTokenSignatureError(
            f"证书二维码签名无效（密钥 {kid}）：内容被篡改或系伪造 (bad signature)", kid=kid
        ) from exc

    try:
        claims = TokenClaims(
            number=_unpack_number(packed),
            occupation_code=occupation_code,
            issue_date=EPOCH + dt.timedelta(days=days),
            holder_name=holder_name,
            masked_id=masked_id,
            one_plus_x=bool(level_byte & 0x10),
        )
    except InvalidTokenClaimsError as exc:  # signed, but not something sign_token writes
        raise _malformed(str(exc), kid=kid) from exc
    if level_byte & 0xEF != claims.level:
        raise _malformed(f"等级字节 0x{level_byte:02X} 与证书编号的等级代码不符", kid=kid)

    if not key.valid_on(claims.issue_date):
        raise KeyNotValidError(
            f"密钥 {kid} 的有效期为 {key.describe_window()}，不能签发 {claims.issue_date} 的证书"
            " (key not valid on the issue date)",
            kid=kid,
        )
    verified = VerifiedToken(claims=claims, kid=kid, station_code=key.station_code)
    revocation = trust.revocation(claims.number)
    if revocation is None and revocations is not None:
        revocation = revocations.get(claims.number)
    if revocation is not None:
        raise RevokedTokenError(
            f"证书 {claims.number} 已于 {revocation.revoked_at.astimezone(SHANGHAI):%Y-%m-%d} "
            f"被撤销：{revocation.reason}"
            " (revoked)",
            token=verified,
            revocation=revocation,
        )
    return verified


_Fields = tuple[str, bytes, int, int, str, str, str, int]


def _read_fields(payload: bytes) -> _Fields | None:
    """The fields after the version byte, and where the signature starts, read by slicing;
    None if anything is off (too short, bad UTF-8, a signature of the wrong length).

    Only a shortcut for :func:`_read_fields_checked`: on a well-formed token both read the
    same bytes the same way (``u8``, ``u16`` big-endian, ``u8``-length UTF-8 strings); on
    anything else this gives up and that function raises the precise error."""
    try:
        pos = 2 + payload[1]
        kid = payload[2:pos]
        packed = payload[pos : pos + NUMBER_SIZE]
        pos += NUMBER_SIZE
        days = payload[pos] << 8 | payload[pos + 1]
        level_byte = payload[pos + 2]
        pos += 3
        texts = []
        for _ in range(3):
            end = pos + 1 + payload[pos]
            texts.append(payload[pos + 1 : end])
            pos = end
        # Every slice but the last text is followed by an index read that fails if the slice
        # ran short; the last text ran short only if ``pos`` passed the end.
        if len(payload) - pos != SIGNATURE_SIZE:
            return None
        return (kid.decode("utf-8"), packed, days, level_byte, texts[0].decode("utf-8"),
                texts[1].decode("utf-8"), texts[2].decode("utf-8"), pos)  # fmt: skip
    except (IndexError, UnicodeDecodeError):
        return None


def _read_fields_checked(payload: bytes) -> _Fields:
    """The fields after the version byte with :class:`Reader`, raising what is wrong."""
    reader = Reader(payload)
    reader.u8()
    try:
        kid = reader.text()
        packed = reader.raw(NUMBER_SIZE)
        days = reader.u16()
        level_byte = reader.u8()
        occupation_code, holder_name, masked_id = reader.text(), reader.text(), reader.text()
    except CodecError as exc:
        raise _malformed(str(exc)) from exc
    body_end = reader.pos
    if reader.remaining != SIGNATURE_SIZE:
        if reader.remaining < SIGNATURE_SIZE:
            raise _malformed(f"签名不完整（{reader.remaining}/{SIGNATURE_SIZE} 字节）")
        raise _malformed(f"签名后多出 {reader.remaining - SIGNATURE_SIZE} 字节")
    return kid, packed, days, level_byte, occupation_code, holder_name, masked_id, body_end


def _malformed(detail: str, *, kid: str | None = None) -> MalformedTokenError:
    return MalformedTokenError(f"证书二维码已损坏或不完整：{detail} (malformed token)", kid=kid)


# --------------------------------------------------------------------------- URLs


def token_url(registry_base: str, token: str) -> str:
    """``<registry_base>/V/<token>``, scheme and host upper-cased (QR alphanumeric mode).

    ``registry_base`` is ``https://host`` with an optional path (``https://host/zscx``); keep
    any path upper case too if the QR code should stay in alphanumeric mode.
    """
    parts = urlsplit(registry_base.strip() if isinstance(registry_base, str) else "")
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        raise ValueError(
            f"核验服务地址 {registry_base!r} 应为 http(s)://主机[/路径] (registry_base: invalid)"
        )
    if parts.query or parts.fragment:
        raise ValueError("核验服务地址不能带查询参数或片段 (registry_base: query or fragment)")
    if not isinstance(token, str) or not _BASE32.fullmatch(token):
        raise ValueError("token 应为大写 base32 文本 (token: not base32)")
    path = parts.path.rstrip("/")
    return f"{parts.scheme.upper()}://{parts.netloc.upper()}{path}{URL_MARKER}{token}"


def parse_token_url(url: str, *, registry_base: str | None = None) -> str:
    """The token in a ``…/V/<TOKEN>`` URL (any case, an optional trailing ``/``).

    With ``registry_base``, the URL must also point at that registry. Raises
    :class:`MalformedTokenError` saying what does not fit; does not verify the token.
    """
    if not isinstance(url, str):
        raise _malformed("网址不是文本")
    text = "".join(url.split())
    parts = urlsplit(text)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        raise _malformed(f"“{text[:80]}”不是 http(s) 网址")
    path = parts.path.rstrip("/")
    head, marker, token = path.rpartition("/")
    if marker != "/" or not head.upper().endswith("/V"):
        raise _malformed(f"网址 {text[:80]} 不是证书核验地址（应为 …{URL_MARKER}<TOKEN>）")
    token = token.upper()
    if not _BASE32.fullmatch(token):
        raise _malformed("网址中的证书码含有 base32 以外的字符")
    if registry_base is not None:
        base = urlsplit(registry_base.strip())
        same_host = (parts.scheme.lower(), parts.netloc.lower()) == (
            base.scheme.lower(),
            base.netloc.lower(),
        )
        if not same_host or head[: -len("/V")] != base.path.rstrip("/"):
            raise _malformed(f"网址不属于核验服务 {registry_base}（not this registry）")
    return token


def extract_token(text: str) -> str | None:
    """The token in a scanned text, a token URL or a bare token; None for anything else."""
    if not isinstance(text, str):
        return None
    compact = "".join(text.split())
    if "://" in compact:
        try:
            return parse_token_url(compact)
        except MalformedTokenError:
            return None
    upper = compact.upper()
    if len(upper) >= MIN_TOKEN_CHARS and _BASE32.fullmatch(upper):
        return upper
    return None
