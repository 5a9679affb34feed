"""The signed admission-ticket token (准考证二维码) scanned at check-in.

A ticket token is small enough for a QR code a USB scanner reads at arm's length, carries
only what check-in needs (no full ID number), names the station key that signed it, and
has a format version so that the layout can change later. Text form::

    SKT1:<base32 of body || signature>

Binary layout of format version 1 (big-endian; ``str`` = one length byte ``n``, then ``n``
bytes of UTF-8)::

    offset  size  field
    0       1     format version = 0x01
    1       1+n   kid              station key id, ASCII, 1-32 characters
    .       1+n   session_code     exam session code, 1-32 characters
    .       1+n   admission_number 准考证号, 1-32 characters
    .       1+n   candidate_name   1-30 characters
    .       1+n   masked_id        e.g. 110***********123X, 1-32 characters, at least one "*"
    .       2     exam_date        days since 2000-01-01, uint16
    .       64    signature        Ed25519 over SIGNING_CONTEXT || every byte above

The signature covers a domain-separation prefix (:data:`SIGNING_CONTEXT`) followed by the
body, so that a station signature made for any other purpose can never pass as a ticket.
The full description, with measured sizes, is docs/admission-ticket.md.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs.codec import CodecError, Reader, Writer, b32decode, b32encode
from certs.keys import verify as verify_signature

__all__ = [
    "FORMAT_VERSION",
    "PREFIX",
    "SIGNING_CONTEXT",
    "BadTicketSignatureError",
    "InvalidTicketClaimsError",
    "MalformedTicketError",
    "NotATicketError",
    "TicketClaims",
    "TicketError",
    "UnknownTicketKeyError",
    "UnknownTicketVersionError",
    "is_masked_id",
    "sign_ticket",
    "verify_ticket",
]

FORMAT_VERSION = 1
PREFIX = "SKT1:"
SIGNING_CONTEXT = b"SkillCert admission ticket\x00"
SIGNATURE_SIZE = 64
EPOCH = dt.date(2000, 1, 1)
LAST_DATE = EPOCH + dt.timedelta(days=0xFFFF)  # 2179-06-06

MAX_KID = 32
MAX_SESSION_CODE = 32
MAX_ADMISSION_NUMBER = 32
MAX_CANDIDATE_NAME = 30
MAX_MASKED_ID = 32
MAX_REVEALED_ID_CHARS = 7  # 110***********123X shows 3 + 4

_OTHER_PREFIX = re.compile(r"SKT(\d+):")
_KID = re.compile(rf"[!-~]{{1,{MAX_KID}}}")  # printable ASCII, no spaces


# --------------------------------------------------------------------------- errors


class TicketError(ValueError):
    """A ticket token was refused. ``code`` is stable for programs; the message is for people."""

    code = "ticket_error"

    def __init__(self, message: str, *, kid: str | None = None) -> None:
        super().__init__(message)
        self.kid = kid


class NotATicketError(TicketError):
    code = "not_a_ticket"


class MalformedTicketError(TicketError):
    code = "malformed"


class UnknownTicketVersionError(TicketError):
    code = "unknown_version"


class UnknownTicketKeyError(TicketError):
    code = "unknown_key"


class BadTicketSignatureError(TicketError):
    code = "bad_signature"


class InvalidTicketClaimsError(TicketError):
    """Claims that cannot be put into a ticket (raised when signing, never when verifying)."""

    code = "invalid_claims"


# --------------------------------------------------------------------------- claims


def is_masked_id(value: str) -> bool:
    """True when ``value`` is a masked ID number: at least one ``*`` and at most 7 characters shown.

    ``certs.identity.mask_id`` makes such strings (``110***********123X``); a full number has
    no ``*`` and is refused, and so is a "mask" that still shows most of the number.
    """
    stars = value.count("*")
    return stars > 0 and len(value) - stars <= MAX_REVEALED_ID_CHARS


def _check_text(label: str, value: object, limit: int) -> None:
    if not isinstance(value, str):
        raise InvalidTicketClaimsError(f"{label}必须是文本 ({label}: expected str)")
    if not value or value != value.strip():
        raise InvalidTicketClaimsError(
            f"{label}不能为空，首尾不能有空格 ({label}: empty or padded)"
        )
    if len(value) > limit:
        raise InvalidTicketClaimsError(
            f"{label}“{value}”共 {len(value)} 个字符，超过上限 {limit} ({label}: too long)"
        )
    for char in value:
        if unicodedata.category(char).startswith("C"):
            raise InvalidTicketClaimsError(
                f"{label}含有控制字符 U+{ord(char):04X} ({label}: control character)"
            )


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """What an admission ticket asserts. Construction validates every field."""

    session_code: str
    admission_number: str
    candidate_name: str
    masked_id: str
    exam_date: dt.date

    def __post_init__(self) -> None:
        _check_text("场次编号", self.session_code, MAX_SESSION_CODE)
        _check_text("准考证号", self.admission_number, MAX_ADMISSION_NUMBER)
        _check_text("考生姓名", self.candidate_name, MAX_CANDIDATE_NAME)
        _check_text("证件号码掩码", self.masked_id, MAX_MASKED_ID)
        if not is_masked_id(self.masked_id):
            raise InvalidTicketClaimsError(
                "证件号码必须以掩码形式写入准考证（如 110***********123X），不得包含完整号码 "
                "(masked_id: not masked)"
            )
        if isinstance(self.exam_date, dt.datetime) or not isinstance(self.exam_date, dt.date):
            raise InvalidTicketClaimsError("考试日期必须是日期 (exam_date: expected datetime.date)")
        if not EPOCH <= self.exam_date <= LAST_DATE:
            raise InvalidTicketClaimsError(
                f"考试日期 {self.exam_date} 超出可表示范围 {EPOCH}–{LAST_DATE} (exam_date: out of range)"
            )


# --------------------------------------------------------------------------- sign / verify


def sign_ticket(claims: TicketClaims, *, private_key: Ed25519PrivateKey, kid: str) -> str:
    """The QR text for ``claims``, signed with the station key ``private_key`` named ``kid``."""
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise InvalidTicketClaimsError(
            f"密钥编号 {kid!r} 无效：应为 1–{MAX_KID} 个可打印 ASCII 字符 (kid: invalid)"
        )
    body = (
        Writer()
        .u8(FORMAT_VERSION)
        .text(kid)
        .text(claims.session_code)
        .text(claims.admission_number)
        .text(claims.candidate_name)
        .text(claims.masked_id)
        .u16((claims.exam_date - EPOCH).days)
        .getvalue()
    )
    signature = private_key.sign(SIGNING_CONTEXT + body)
    return PREFIX + b32encode(body + signature)


def verify_ticket(token: str, *, keys: Mapping[str, Ed25519PublicKey]) -> TicketClaims:
    """Check a scanned ticket token against the trusted station ``keys`` (key id → public key).

    Whitespace anywhere is ignored and lower case is accepted (scanners and people retyping
    a token do both). Raises a :class:`TicketError` subclass saying exactly what is wrong.
    """
    if not isinstance(token, str):
        raise NotATicketError("不是准考证二维码：内容不是文本 (not an admission ticket)")
    text = "".join(token.split()).upper()
    if not text.startswith(PREFIX):
        other = _OTHER_PREFIX.match(text)
        if other:
            raise UnknownTicketVersionError(
                f"准考证二维码格式 SKT{other[1]} 不受支持，请升级站点软件 (unknown format version)"
            )
        raise NotATicketError(f"不是准考证二维码：内容应以 {PREFIX} 开头 (not an admission ticket)")

    try:
        payload = b32decode(text[len(PREFIX) :])
    except CodecError as exc:
        raise _malformed(f"编码错误：{exc}") from exc
    if not payload:
        raise _malformed("内容为空")
    reader = Reader(payload)
    version = reader.u8()
    if version != FORMAT_VERSION:
        raise UnknownTicketVersionError(
            f"准考证格式版本 {version} 不受支持（本软件支持版本 {FORMAT_VERSION}），"
            "请升级站点软件 (unknown format version)"
        )
    try:
        kid = reader.text()
        fields = [reader.text() for _ in range(4)]
        days = reader.u16()
    except CodecError as exc:
        raise _malformed(str(exc)) from exc
    body_end = reader.pos
    if reader.remaining < SIGNATURE_SIZE:
        raise _malformed(f"签名不完整（{reader.remaining}/{SIGNATURE_SIZE} 字节）")
    if reader.remaining > SIGNATURE_SIZE:
        raise _malformed(f"签名后多出 {reader.remaining - SIGNATURE_SIZE} 字节")
    signature = reader.raw(SIGNATURE_SIZE)

    public_key = keys.get(kid)
    if public_key is None:
        raise UnknownTicketKeyError(
            f"准考证由未知密钥 {kid!r} 签发：不是本站点签发的准考证，或该密钥尚未导入 (unknown key)",
            kid=kid,
        )
    try:
        verify_signature(public_key, signature, SIGNING_CONTEXT + payload[:body_end])
    except InvalidSignature as exc:
        raise BadTicketSignatureError(
            f"准考证签名无效（密钥 {kid}）：内容被篡改或系伪造 (bad signature)", kid=kid
        ) from exc

    try:
        return TicketClaims(
            session_code=fields[0],
            admission_number=fields[1],
            candidate_name=fields[2],
            masked_id=fields[3],
            exam_date=EPOCH + dt.timedelta(days=days),
        )
    except InvalidTicketClaimsError as exc:  # signed, but not something sign_ticket writes
        raise _malformed(str(exc), kid=kid) from exc


def _malformed(detail: str, *, kid: str | None = None) -> MalformedTicketError:
    return MalformedTicketError(f"准考证二维码已损坏或不完整：{detail} (malformed ticket)", kid=kid)
