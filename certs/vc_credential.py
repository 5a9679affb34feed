"""The certificate as a W3C Verifiable Credential 2.0 document (unsigned; sign it with
:func:`certs.vc.add_proof`). The claims and their checks are in docs/verifiable-credentials.md.
A pure library module."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from certs.identity import IdTypeError, parse_id_type
from certs.numbers import (
    CertificateNumberError,
    is_one_plus_x,
    level_digit,
    level_name,
    parse_number,
)
from certs.ticket_token import is_masked_id
from certs.vc import CREDENTIAL_TYPES, CREDENTIALS_V2, CredentialClaimsError, _timestamp

__all__ = ["certificate_credential"]

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


_REQUIRED = (
    "certificate_number",
    "holder_name",
    "id_type",
    "masked_id",
    "occupation",
    "level",
    "issue_date",
    "issuing_body",
)
_OPTIONAL = ("occupation_code", "direction", "holder_id")


def _text(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value or value != value.strip():
        raise CredentialClaimsError(
            f"{field}: 应为非空文本，首尾不能有空格 (empty, padded or not text)"
        )
    if len(value) > limit:
        raise CredentialClaimsError(f"{field}: 超过 {limit} 个字符 (too long)")
    if any(unicodedata.category(char).startswith("C") for char in value):
        raise CredentialClaimsError(f"{field}: 含有控制字符 (control character)")
    return value


def _url(field: str, value: object) -> str:
    if not isinstance(value, str) or not _URL.fullmatch(value):
        raise CredentialClaimsError(
            f"{field}: 应为 URL（如 did:key:… 或 urn:uuid:…），实际为 {value!r} (expected a URL)"
        )
    return value


def _date(field: str, value: object) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise CredentialClaimsError(f"{field}: 日期 {value} 不存在 (impossible date)") from None
    raise CredentialClaimsError(
        f"{field}: 应为 YYYY-MM-DD 日期，实际为 {value!r} (expected a date)"
    )


def _subject(claims: Mapping[str, Any]) -> dict[str, Any]:
    """``credentialSubject`` from the plain claims, each checked and cross-checked."""
    unknown = sorted(set(claims) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise CredentialClaimsError(
            f"subject: 未知字段 {unknown}，可用字段为 {list(_REQUIRED + _OPTIONAL)} (unknown claims)"
        )
    missing = [field for field in _REQUIRED if claims.get(field) in (None, "")]
    if missing:
        raise CredentialClaimsError(f"subject: 缺少必填字段 {missing} (missing claims)")
    try:
        number = parse_number(claims["certificate_number"])
    except (CertificateNumberError, TypeError) as exc:
        raise CredentialClaimsError(f"certificate_number: {exc}") from exc
    try:
        id_type = parse_id_type(claims["id_type"])
    except IdTypeError as exc:
        raise CredentialClaimsError(f"id_type: {exc}") from exc
    masked_id = _text("masked_id", claims["masked_id"], 32)
    if not is_masked_id(masked_id):
        raise CredentialClaimsError(
            "masked_id: 证件号码必须是掩码形式，凭证中不得出现完整号码 (must be masked)"
        )
    level = claims["level"]
    try:
        digit = level_digit(level)
    except CertificateNumberError as exc:
        raise CredentialClaimsError(f"level: {exc}") from exc
    if digit != number.level:
        raise CredentialClaimsError(
            f"level: 等级“{level}”（代码 {digit}）与证书编号中的等级代码 {number.level} 不一致 "
            "(level does not match the certificate number)"
        )
    one_plus_x = isinstance(level, str) and is_one_plus_x(level)
    issue_date = _date("issue_date", claims["issue_date"])
    if issue_date.year != number.year:
        raise CredentialClaimsError(
            f"issue_date: 发证年份 {issue_date.year} 与证书编号中的年份 {number.year} 不一致 "
            "(issue year does not match the certificate number)"
        )
    subject: dict[str, Any] = {}
    if claims.get("holder_id") is not None:
        subject["id"] = _url("holder_id", claims["holder_id"])
    subject["name"] = _text("holder_name", claims["holder_name"], 50)
    subject["idType"] = id_type.value
    subject["maskedIdNumber"] = masked_id
    subject["certificateNumber"] = str(number)
    subject["occupation"] = _text("occupation", claims["occupation"], 100)
    if claims.get("occupation_code") is not None:
        subject["occupationCode"] = _text("occupation_code", claims["occupation_code"], 32)
    if claims.get("direction") is not None:
        subject["direction"] = _text("direction", claims["direction"], 100)
    subject["level"] = level_name(digit, one_plus_x=one_plus_x)
    subject["levelCode"] = digit
    subject["issueDate"] = issue_date.isoformat()
    subject["issuingBody"] = _text("issuing_body", claims["issuing_body"], 100)
    return subject


def certificate_credential(
    subject: Mapping[str, Any],
    *,
    issuer_did: str,
    credential_id: str,
    valid_from: dt.datetime | str,
    valid_until: dt.datetime | str | None = None,
    name: str = "职业技能等级证书",
    description: str | None = None,
    issuer_name: str | None = None,
) -> dict[str, Any]:
    """An unsigned VC 2.0 document for one certificate; sign it with :func:`add_proof`.

    ``subject`` holds the plain claims (docs/verifiable-credentials.md lists them): the
    certificate number, holder name, ID type and *masked* ID number, occupation, level, issue
    date and issuing body are required; ``occupation_code``, ``direction`` and ``holder_id``
    are optional. Unknown or missing claims, a full ID number, or a level or year that
    disagrees with the certificate number raise :class:`CredentialClaimsError`.
    """
    if not isinstance(subject, Mapping):
        raise CredentialClaimsError(
            f"subject: 应为字典 (expected a mapping, got {type(subject).__name__})"
        )
    claims = _subject(subject)
    credential: dict[str, Any] = {
        "@context": [CREDENTIALS_V2],
        "id": _url("credential_id", credential_id),
        "type": list(CREDENTIAL_TYPES),
        "name": _text("name", name, 100),
    }
    if description is not None:
        credential["description"] = _text("description", description, 500)
    issuer = _url("issuer_did", issuer_did)
    if issuer_name is not None:
        credential["issuer"] = {"id": issuer, "name": _text("issuer_name", issuer_name, 100)}
    else:
        credential["issuer"] = issuer
    credential["validFrom"] = _timestamp("valid_from", valid_from, CredentialClaimsError)
    if valid_until is not None:
        until = _timestamp("valid_until", valid_until, CredentialClaimsError)
        if dt.datetime.fromisoformat(until) <= dt.datetime.fromisoformat(credential["validFrom"]):
            raise CredentialClaimsError(
                f"valid_until: {until} 不晚于 validFrom {credential['validFrom']} (not after validFrom)"
            )
        credential["validUntil"] = until
    credential["credentialSubject"] = claims
    return credential
