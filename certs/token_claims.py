"""What a certificate token asserts (:class:`TokenClaims`), the token that verified
(:class:`VerifiedToken`) and why a token is refused (:class:`TokenError` and its kinds).

:mod:`certs.cert_token` lays these out in bytes, signs and decodes them, and exports the claims,
the verified token, :func:`claims_from_record` and the errors too (``cert_token.TokenClaims`` …),
which is how the rest of the code reaches them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from certs.identity import mask_id
from certs.numbers import (
    CertificateNumber,
    CertificateNumberError,
    is_one_plus_x,
    level_name,
    parse_number,
)
from certs.record import CertificateRecord, control_character
from certs.ticket_token import is_masked_id

if TYPE_CHECKING:
    from certs.trust import Revocation

FORMAT_VERSION = 1
EPOCH = dt.date(2000, 1, 1)
LAST_DATE = EPOCH + dt.timedelta(days=0xFFFF)  # issue dates travel as uint16 days since EPOCH

MAX_OCCUPATION_CODE = 32
MAX_HOLDER_NAME = 30
MAX_MASKED_ID = 32

_ASCII_CODE = re.compile(rf"[!-~]{{1,{MAX_OCCUPATION_CODE}}}")


# --------------------------------------------------------------------------- errors


class TokenError(ValueError):
    """A certificate token was refused. ``code`` is stable for programs; the message is for people."""

    code = "token_error"

    def __init__(self, message: str, *, kid: str | None = None) -> None:
        super().__init__(message)
        self.kid = kid


class MalformedTokenError(TokenError):
    code = "malformed"


class UnknownTokenVersionError(TokenError):
    code = "unknown_version"


class UnknownTokenKeyError(TokenError):
    code = "unknown_key"


class KeyNotValidError(TokenError):
    code = "key_not_valid"


class BadTokenSignatureError(TokenError):
    code = "bad_signature"


class RevokedTokenError(TokenError):
    """A genuine certificate that has been revoked; ``token`` and ``revocation`` say which and why."""

    code = "revoked"

    def __init__(self, message: str, *, token: VerifiedToken, revocation: Revocation) -> None:
        super().__init__(message, kid=token.kid)
        self.token = token
        self.revocation = revocation


class InvalidTokenClaimsError(TokenError):
    """Claims that cannot be put into a token (raised when signing, never when decoding)."""

    code = "invalid_claims"


# --------------------------------------------------------------------------- claims


def _check_text(label: str, value: object, limit: int) -> None:
    if not isinstance(value, str):
        raise InvalidTokenClaimsError(f"{label}必须是文本 ({label}: expected str)")
    if not value or value != value.strip():
        raise InvalidTokenClaimsError(f"{label}不能为空，首尾不能有空格 ({label}: empty or padded)")
    if len(value) > limit:
        raise InvalidTokenClaimsError(
            f"{label}“{value}”共 {len(value)} 个字符，超过上限 {limit} ({label}: too long)"
        )
    char = control_character(value)
    if char is not None:
        raise InvalidTokenClaimsError(
            f"{label}含有控制字符 U+{ord(char):04X} ({label}: control character)"
        )


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What the QR code asserts about a certificate. Construction validates every field."""

    number: str
    occupation_code: str
    issue_date: dt.date
    holder_name: str
    masked_id: str
    one_plus_x: bool = False  # print the level as 1+X 初级/中级/高级
    _parsed: CertificateNumber | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            parsed = parse_number(self.number)
        except CertificateNumberError as exc:
            raise InvalidTokenClaimsError(f"证书编号无效：{exc}") from exc
        object.__setattr__(self, "number", str(parsed))
        object.__setattr__(self, "_parsed", parsed)
        if not isinstance(self.occupation_code, str) or not _ASCII_CODE.fullmatch(
            self.occupation_code
        ):
            raise InvalidTokenClaimsError(
                f"职业编码 {self.occupation_code!r} 应为 1–{MAX_OCCUPATION_CODE} 个可打印 ASCII "
                "字符 (occupation_code: invalid)"
            )
        _check_text("持证人姓名", self.holder_name, MAX_HOLDER_NAME)
        _check_text("证件号码掩码", self.masked_id, MAX_MASKED_ID)
        if not is_masked_id(self.masked_id):
            raise InvalidTokenClaimsError(
                "证件号码必须以掩码形式写入二维码（如 110***********123X），不得包含完整号码 "
                "(masked_id: not masked)"
            )
        if isinstance(self.issue_date, dt.datetime) or not isinstance(self.issue_date, dt.date):
            raise InvalidTokenClaimsError("发证日期必须是日期 (issue_date: expected datetime.date)")
        if not EPOCH <= self.issue_date <= LAST_DATE:
            raise InvalidTokenClaimsError(
                f"发证日期 {self.issue_date} 超出可表示范围 (issue_date: out of range)"
            )
        if parsed.year != self.issue_date.year:
            raise InvalidTokenClaimsError(
                f"证书编号年份 {parsed.year} 与发证日期 {self.issue_date} 不符 "
                "(number: year differs from the issue date)"
            )
        if not isinstance(self.one_plus_x, bool):
            raise InvalidTokenClaimsError("one_plus_x 应为布尔值 (one_plus_x: expected bool)")
        try:
            level_name(parsed.level, one_plus_x=self.one_plus_x)
        except CertificateNumberError as exc:
            raise InvalidTokenClaimsError(str(exc)) from exc

    @property
    def parsed_number(self) -> CertificateNumber:
        """The number's parts, as validation parsed them (the number is canonical: its text is
        ``str`` of this)."""
        assert self._parsed is not None  # set by __post_init__
        return self._parsed

    @property
    def level(self) -> int:
        """The level digit (1-5), as in the certificate number."""
        return int(self.number[15])

    @property
    def level_name(self) -> str:
        return level_name(self.level, one_plus_x=self.one_plus_x)


def claims_from_record(record: CertificateRecord) -> TokenClaims:
    """The token claims for a certificate record: its ID number masked, its level's naming kept."""
    return TokenClaims(
        number=record.number,
        occupation_code=record.occupation_code,
        issue_date=record.issue_date,
        holder_name=record.holder_name,
        masked_id=mask_id(record.id_number),
        one_plus_x=is_one_plus_x(record.level),
    )


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token whose signature verified with a trusted key valid on its issue date."""

    claims: TokenClaims
    kid: str
    station_code: str
    version: int = FORMAT_VERSION
