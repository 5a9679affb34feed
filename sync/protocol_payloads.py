"""What each kind of sync record carries (``docs/sync-protocol.md``, Records and the outbox).

:func:`validate` checks a payload's required fields and their types and raises
:class:`sync.protocol.ProtocolError` naming the field (``payload.passed`` …). Fields a kind does
not list are allowed and kept (a newer station may send more; they are still signed). Payloads
are never rewritten: what is validated is exactly what was signed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from certs.numbers import CertificateNumberError, parse_number
from certs.record import RecordError, SignedRecord, control_character
from certs.trust import TrustListError, check_kid
from sync.protocol import (
    KIND_CERTIFICATE,
    KIND_RESULT_SUMMARY,
    KIND_REVOCATION_REQUEST,
    KIND_SESSION_REPORT,
    KIND_STATION_KEY,
    ProtocolError,
    b64url_decode,
    parse_time,
)

__all__ = [
    "MAX_TOKEN",
    "check",
    "count",
    "kid",
    "list_at",
    "number",
    "object_at",
    "obj",
    "sha256_hex",
    "text",
    "timestamp",
    "validate",
]

MAX_TOKEN = 2048
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _field(payload: Mapping[str, Any], name: str, prefix: str = "payload") -> tuple[str, Any]:
    where = f"{prefix}.{name}" if prefix else name
    if name not in payload:
        raise ProtocolError(where, "缺少此字段 (missing)")
    return where, payload[name]


def text(
    payload: Mapping[str, Any],
    name: str,
    limit: int,
    *,
    empty: bool = False,
    multiline: bool = False,
    prefix: str = "payload",
) -> str:
    """A required text field: no control characters (but newlines when ``multiline``), no
    surrounding spaces, at most ``limit`` characters, not empty unless ``empty``."""
    where, value = _field(payload, name, prefix)
    if not isinstance(value, str):
        raise ProtocolError(where, "应为文本 (expected a string)")
    if value != value.strip() or (not value and not empty):
        raise ProtocolError(where, "不能为空，首尾不能有空格 (empty or padded)")
    if len(value) > limit:
        raise ProtocolError(where, f"共 {len(value)} 个字符，超过 {limit} (too long)")
    if control_character(value, "\n" if multiline else "") is not None:
        raise ProtocolError(where, "含有控制字符 (control character)")
    return value


def count(
    payload: Mapping[str, Any], name: str, *, maximum: int | None = None, prefix: str = "payload"
) -> int:
    where, value = _field(payload, name, prefix)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(where, f"应为非负整数，实际为 {value!r} (expected a count)")
    if maximum is not None and value > maximum:
        raise ProtocolError(where, f"{value} 大于 {maximum} (out of range)")
    return value


def timestamp(payload: Mapping[str, Any], name: str, *, prefix: str = "payload") -> dt.datetime:
    where, value = _field(payload, name, prefix)
    return parse_time(where, value)


def obj(payload: Mapping[str, Any], name: str, *, prefix: str = "payload") -> Mapping[str, Any]:
    where, value = _field(payload, name, prefix)
    if not isinstance(value, Mapping):
        raise ProtocolError(where, "应为 JSON 对象 (expected an object)")
    return value


def kid(payload: Mapping[str, Any], name: str, *, prefix: str = "payload") -> str:
    where, value = _field(payload, name, prefix)
    try:
        return check_kid(value, label=where)
    except TrustListError as exc:
        raise ProtocolError(where, str(exc)) from None


def number(payload: Mapping[str, Any], name: str, *, prefix: str = "payload") -> str:
    """A certificate number, in its canonical 22-character spelling."""
    where, value = _field(payload, name, prefix)
    try:
        canonical = str(parse_number(value))
    except (CertificateNumberError, TypeError, AttributeError) as exc:
        raise ProtocolError(where, str(exc)) from None
    if canonical != value:
        raise ProtocolError(where, f"应写作 {canonical} (non-canonical certificate number)")
    return canonical


def sha256_hex(payload: Mapping[str, Any], name: str, *, prefix: str = "payload") -> str:
    where, value = _field(payload, name, prefix)
    if not isinstance(value, str) or not _SHA256_HEX.fullmatch(value):
        raise ProtocolError(where, "应为 64 位小写十六进制 SHA-256 (expected hex SHA-256)")
    return value


def object_at(where: str, data: object) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ProtocolError(where, "应为 JSON 对象 (expected an object)")
    return data


def list_at(where: str, data: object, limit: int) -> list[Any]:
    if not isinstance(data, list):
        raise ProtocolError(where, "应为数组 (expected a list)")
    if len(data) > limit:
        raise ProtocolError(where, f"共 {len(data)} 项，超过上限 {limit} (too many)")
    return data


# --------------------------------------------------------------------------- kinds


def _certificate(payload: Mapping[str, Any]) -> SignedRecord:
    where, signed = _field(payload, "signed_record")
    try:
        parsed = SignedRecord.from_dict(signed)
    except RecordError as exc:
        raise ProtocolError(where, str(exc)) from None
    token = text(payload, "token", MAX_TOKEN)
    if not token.isascii():
        raise ProtocolError("payload.token", "应为 ASCII 文本 (expected ASCII)")
    return parsed


def _result_summary(payload: Mapping[str, Any]) -> None:
    text(payload, "session", 64)
    text(payload, "programme", 64)
    where, level = _field(payload, "level")
    if isinstance(level, bool) or not isinstance(level, str | int):
        raise ProtocolError(where, "应为等级名称或代码 (expected a level name or digit)")
    if isinstance(level, str):
        text(payload, "level", 20)
    timestamp(payload, "signed_off_at")
    candidates = count(payload, "candidates")
    count(payload, "passed", maximum=candidates)
    outcomes = obj(payload, "by_outcome")
    for outcome in outcomes:
        if not isinstance(outcome, str) or not outcome or len(outcome) > 64:
            raise ProtocolError("payload.by_outcome", f"无效的结果名称 {outcome!r} (bad key)")
        count(outcomes, outcome, prefix="payload.by_outcome")
    text(payload, "city", 64, empty=True)


def _revocation_request(payload: Mapping[str, Any]) -> None:
    number(payload, "number")
    text(payload, "reason", 500)
    timestamp(payload, "requested_at")


def _session_report(payload: Mapping[str, Any]) -> None:
    text(payload, "session", 64)
    obj(payload, "attendance")
    count(payload, "irregularities")
    sha256_hex(payload, "timeline_digest")


def _station_key(payload: Mapping[str, Any]) -> None:
    kid(payload, "kid")
    where, raw = _field(payload, "public_key")
    b64url_decode(where, raw, size=32)
    where, day = _field(payload, "valid_from")
    if not isinstance(day, str) or not _DATE.fullmatch(day):
        raise ProtocolError(where, f"应为 YYYY-MM-DD 日期，实际为 {day!r} (expected a date)")
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        raise ProtocolError(where, f"日期 {day} 不存在 (impossible date)") from None
    kid(payload, "endorsed_by")
    where, endorsement = _field(payload, "endorsement")
    b64url_decode(where, endorsement, size=64)


_VALIDATORS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    KIND_CERTIFICATE: _certificate,
    KIND_RESULT_SUMMARY: _result_summary,
    KIND_REVOCATION_REQUEST: _revocation_request,
    KIND_SESSION_REPORT: _session_report,
    KIND_STATION_KEY: _station_key,
}


def validate(kind: str, payload: object) -> None:
    """Raise :class:`ProtocolError` unless ``payload`` has what ``kind`` requires."""
    check(kind, payload)


def check(kind: str, payload: object) -> Any:
    """:func:`validate`, returning what the check had to parse anyway: a certificate's
    :class:`certs.record.SignedRecord` (so the registry does not parse it a second time),
    None for the other kinds."""
    if not isinstance(payload, Mapping):
        raise ProtocolError("payload", "应为 JSON 对象 (expected an object)")
    if any(not isinstance(key, str) for key in payload):
        raise ProtocolError("payload", "对象的键应为文本 (keys must be strings)")
    try:
        validator = _VALIDATORS[kind]
    except KeyError:
        raise ProtocolError("kind", f"未知的记录类型 {kind!r} (unknown kind)") from None
    return validator(payload)
