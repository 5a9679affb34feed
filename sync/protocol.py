"""The sync protocol's records (``skillcert-sync/1``): shared by the station and the registry.

See ``docs/sync-protocol.md``. Everything a station must tell the province travels as a
:class:`SyncRecord`: a uuid made at the station, a kind, a creation time and a JSON payload,
signed with the station key::

    signature = Ed25519(b"SkillCert sync record\\0" + JCS({"format", "id", "kind",
                                                         "created_at", "payload", "kid"}))

The format version and the key id are inside the signed bytes (house rule: every signature
carries both). The payload is signed exactly as it travels (its JCS form), so the registry can
store it verbatim and anyone can re-check it later.

This module is pure: no Flask, no HTTP. The rest of the protocol lives next to it:
:mod:`sync.protocol_payloads` (what each kind's payload holds), :mod:`sync.protocol_keys`
(signed trust list, enrollment proof and messages, key endorsement),
:mod:`sync.protocol_messages` (push / feed / error message shapes), :mod:`sync.protocol_http`
(RFC 9421 signing, station side) and :mod:`sync.protocol_verify` (RFC 9421 verification).
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs.jcs import CanonicalizationError, canonical
from certs.keys import verify as verify_signature
from certs.trust import TrustListError, check_kid

__all__ = [
    "FORMAT",
    "KIND_CERTIFICATE",
    "KIND_RESULT_SUMMARY",
    "KIND_REVOCATION_REQUEST",
    "KIND_SESSION_REPORT",
    "KIND_STATION_KEY",
    "MAX_RECORD_BYTES",
    "PROTOCOL",
    "RECORD_CONTEXT",
    "RECORD_KINDS",
    "BadSignatureError",
    "ProtocolError",
    "SyncRecord",
    "UnknownKeyError",
    "b64url_decode",
    "b64url_encode",
    "estimate_offset",
    "format_time",
    "jcs",
    "parse_time",
    "reason_for",
    "sign_record",
    "verify_record",
]

PROTOCOL = "skillcert-sync/1"
FORMAT = 1
RECORD_CONTEXT = b"SkillCert sync record\x00"

KIND_CERTIFICATE = "certificate"
KIND_RESULT_SUMMARY = "result_summary"
KIND_REVOCATION_REQUEST = "revocation_request"
KIND_SESSION_REPORT = "session_report"
KIND_STATION_KEY = "station_key"
RECORD_KINDS = (
    KIND_CERTIFICATE,
    KIND_RESULT_SUMMARY,
    KIND_REVOCATION_REQUEST,
    KIND_SESSION_REPORT,
    KIND_STATION_KEY,
)

#: Upper bound for one record's signed bytes (JCS). A certificate record is ~2 KB.
MAX_RECORD_BYTES = 32 * 1024

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CREATED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_RECORD_FIELDS = frozenset({"format", "id", "kind", "created_at", "payload", "kid", "signature"})


# --------------------------------------------------------------------------- errors


class ProtocolError(ValueError):
    """A message or record that breaks the protocol. ``field`` names where; ``code`` is stable.

    ``str(error)`` is ``"<field>: <why>"``, for people; ``code`` is for programs (a push
    rejection reason is ``f"{code}: {error}"``, see :func:`reason_for`).
    """

    code = "malformed"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class UnknownKeyError(ProtocolError):
    """Signed by a key id the verifier does not know (or may not use)."""

    code = "unknown_key"


class BadSignatureError(ProtocolError):
    """The signature does not verify: the content was changed, or it was forged."""

    code = "bad_signature"


def reason_for(error: ProtocolError) -> str:
    """The machine-readable rejection reason for a push result: ``"<code>: <field>: <why>"``."""
    return f"{error.code}: {error}"


# --------------------------------------------------------------------------- small helpers


def b64url_encode(raw: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def b64url_decode(field: str, value: object, *, size: int | None = None) -> bytes:
    """Strict base64url (no padding, canonical); ``size`` bytes when given; else ProtocolError."""
    if not isinstance(value, str) or not _B64URL.fullmatch(value):
        raise ProtocolError(field, "应为 base64url 文本 (expected unpadded base64url)")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ProtocolError(field, "不是有效的 base64url (not base64url)") from None
    if b64url_encode(raw) != value:
        raise ProtocolError(field, "非规范的 base64url (non-canonical base64url)")
    if size is not None and len(raw) != size:
        raise ProtocolError(field, f"应为 {size} 字节，实际 {len(raw)} 字节 (wrong length)")
    return raw


def format_time(value: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: the protocol's spelling of every timestamp."""
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError("expected an aware datetime")
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_time(field: str, value: object) -> dt.datetime:
    """An ISO 8601 timestamp with a time zone, as an aware UTC datetime; else ProtocolError."""
    if not isinstance(value, str) or len(value) > 40:
        raise ProtocolError(field, "应为 ISO 8601 时间文本 (expected an ISO 8601 timestamp)")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ProtocolError(field, f"无效的时间 {value!r} (bad ISO 8601 timestamp)") from None
    if parsed.tzinfo is None:
        raise ProtocolError(field, f"时间 {value} 缺少时区 (timestamp without a time zone)")
    return parsed.astimezone(dt.UTC)


def jcs(field: str, value: object) -> bytes:
    """RFC 8785 bytes of ``value``; values JCS cannot represent are a ProtocolError."""
    try:
        return canonical(value)
    except (CanonicalizationError, TypeError, ValueError) as exc:
        raise ProtocolError(field, f"无法规范化为 JSON ({exc})") from None


def estimate_offset(
    sent: dt.datetime, received: dt.datetime, server_time: dt.datetime
) -> dt.timedelta:
    """How far the registry's clock is ahead of ours: ``server_time - midpoint(sent, received)``.

    ``sent`` and ``received`` are our clock when the request left and the response came back;
    the server is assumed to have stamped ``server_time`` half-way. Add the result to local
    time to get registry time (the station signs requests with ``now + offset``).
    """
    for name, value in (("sent", sent), ("received", received), ("server_time", server_time)):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError(f"{name}: expected an aware datetime")
    if received < sent:
        raise ValueError("received: earlier than sent (the local clock jumped back)")
    return server_time - (sent + (received - sent) / 2)


# --------------------------------------------------------------------------- records


class _NotPlainJson(Exception):
    """A payload :func:`_private_copy` leaves to ``copy.deepcopy``."""


_MAX_COPY_DEPTH = 32


def _private_copy(payload: dict[str, Any]) -> dict[str, Any]:
    """``copy.deepcopy(payload)``, fast for what JSON decoding produces.

    A tree of plain ``dict``/``list`` holding ``str`` keys and ``str``/``int``/``float``/
    ``bool``/``None`` leaves is copied by a direct walk: those leaves are immutable and
    ``deepcopy`` returns them as they are, so the copy is equal, with the same types and key
    order. Anything else (other types, subclasses, non-text keys, nesting deeper than
    ``_MAX_COPY_DEPTH``, which includes cycles) is copied by ``deepcopy`` itself. One difference
    that nothing can observe but ``is``: a sub-object referenced twice is copied twice.
    """
    try:
        return _copy_tree(payload, 0)
    except _NotPlainJson:
        return copy.deepcopy(payload)


def _copy_tree(value: Any, depth: int) -> Any:
    if depth > _MAX_COPY_DEPTH:
        raise _NotPlainJson
    if type(value) is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlainJson
            kind = type(item)
            if kind is str or item is None or kind is int or kind is float or kind is bool:
                out[key] = item
            else:
                out[key] = _copy_tree(item, depth + 1)
        return out
    if type(value) is list:
        return [_copy_tree(item, depth + 1) for item in value]
    kind = type(value)
    if kind is str or value is None or kind is int or kind is float or kind is bool:
        return value
    raise _NotPlainJson


@dataclass(frozen=True)
class SyncRecord:
    """One signed record from a station's outbox. Construction validates every field.

    ``created_at`` is an aware datetime with whole seconds (it travels as
    ``YYYY-MM-DDTHH:MM:SSZ``); ``payload`` is the kind's JSON object (see
    :mod:`sync.protocol_payloads`), kept verbatim; ``signature`` is 64 raw bytes.
    """

    id: str
    kind: str
    created_at: dt.datetime
    payload: dict[str, Any]
    kid: str
    signature: bytes
    _signed: bytes = field(default=b"", init=False, repr=False, compare=False)
    _parsed: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _UUID.fullmatch(self.id):
            raise ProtocolError(
                "id", f"应为小写 UUID，实际为 {self.id!r} (expected a lower-case uuid)"
            )
        if self.kind not in RECORD_KINDS:
            raise ProtocolError(
                "kind",
                f"未知的记录类型 {self.kind!r}，应为 {', '.join(RECORD_KINDS)} (unknown kind)",
            )
        created = self.created_at
        if not isinstance(created, dt.datetime) or created.tzinfo is None:
            raise ProtocolError("created_at", "应为带时区的时间 (expected an aware datetime)")
        if created.microsecond:
            raise ProtocolError("created_at", "只能精确到秒 (whole seconds only)")
        object.__setattr__(self, "created_at", created.astimezone(dt.UTC))
        try:
            check_kid(self.kid)
        except TrustListError as exc:
            raise ProtocolError("kid", str(exc)) from None
        if not isinstance(self.signature, bytes) or len(self.signature) != 64:
            raise ProtocolError("signature", "应为 64 字节 Ed25519 签名 (expected 64 bytes)")
        if not isinstance(self.payload, dict):
            raise ProtocolError("payload", "应为 JSON 对象 (expected an object)")
        object.__setattr__(self, "payload", _private_copy(self.payload))
        from sync import protocol_payloads  # imports this module: import it late

        object.__setattr__(self, "_parsed", protocol_payloads.check(self.kind, self.payload))
        # Computed once: the payload is a private copy, so these bytes stay what is signed.
        object.__setattr__(self, "_signed", RECORD_CONTEXT + jcs("payload", self.signed_content()))
        size = len(self._signed)
        if size > MAX_RECORD_BYTES:
            raise ProtocolError(
                "payload", f"记录共 {size} 字节，超过上限 {MAX_RECORD_BYTES} (record too large)"
            )

    def signed_content(self) -> dict[str, Any]:
        """The object whose JCS bytes the signature covers."""
        return {
            "format": FORMAT,
            "id": self.id,
            "kind": self.kind,
            "created_at": format_time(self.created_at),
            "payload": self.payload,
            "kid": self.kid,
        }

    def signed_bytes(self) -> bytes:
        """What the signature covers: the context prefix and the JCS of :meth:`signed_content`."""
        return self._signed

    def parsed_payload(self) -> Any:
        """What validating the payload parsed out of it, made at construction from the private
        copy (so it is what was signed): a certificate's :class:`certs.record.SignedRecord`,
        None for the other kinds."""
        return self._parsed

    def to_dict(self) -> dict[str, Any]:
        return {**self.signed_content(), "signature": b64url_encode(self.signature)}

    @classmethod
    def from_dict(cls, data: object, *, where: str = "record") -> SyncRecord:
        """Read :meth:`to_dict` output. Checks shape, not the signature (:func:`verify_record`)."""
        if not isinstance(data, Mapping):
            raise ProtocolError(where, "应为 JSON 对象 (expected an object)")
        version = data.get("format")
        if isinstance(version, bool) or not isinstance(version, int):
            raise ProtocolError(f"{where}.format", f"缺少或无效的格式版本 {version!r} (missing)")
        if version != FORMAT:
            raise ProtocolError(
                f"{where}.format", f"记录格式版本 {version} 不受支持（支持 {FORMAT}）(unsupported)"
            )
        keys = set(data)
        missing = sorted(_RECORD_FIELDS - keys)
        if missing:
            raise ProtocolError(where, f"缺少字段 {', '.join(missing)} (missing fields)")
        unknown = sorted(keys - _RECORD_FIELDS)
        if unknown:
            raise ProtocolError(where, f"未知字段 {', '.join(unknown)} (unknown fields)")
        created = data["created_at"]
        if not isinstance(created, str) or not _CREATED_AT.fullmatch(created):
            raise ProtocolError(
                f"{where}.created_at",
                f"应为 YYYY-MM-DDTHH:MM:SSZ，实际为 {created!r} (expected UTC, whole seconds)",
            )
        try:
            return cls(
                id=data["id"],
                kind=data["kind"],
                created_at=parse_time(f"{where}.created_at", created),
                payload=data["payload"],
                kid=data["kid"],
                signature=b64url_decode(f"{where}.signature", data["signature"], size=64),
            )
        except ProtocolError as exc:
            if exc.field.startswith(where):
                raise
            raise type(exc)(f"{where}.{exc.field}", exc.message) from None


def sign_record(
    kind: str,
    payload: Mapping[str, Any],
    *,
    private_key: Ed25519PrivateKey,
    kid: str,
    record_id: str | None = None,
    created_at: dt.datetime | None = None,
) -> SyncRecord:
    """A new record of ``kind``, signed with the station key ``kid``.

    ``record_id`` defaults to a fresh uuid4 (pass the outbox row's id when re-signing is
    needed: the id is what makes a retry a duplicate); ``created_at`` defaults to now and is
    truncated to whole seconds.
    """
    when = created_at or dt.datetime.now(dt.UTC)
    unsigned = SyncRecord(
        id=record_id or str(uuid.uuid4()),
        kind=kind,
        created_at=when.replace(microsecond=0),
        payload=dict(payload),
        kid=kid,
        signature=bytes(64),
    )
    signature = private_key.sign(unsigned.signed_bytes())
    return SyncRecord(
        unsigned.id, unsigned.kind, unsigned.created_at, unsigned.payload, kid, signature
    )


def verify_record(
    record: SyncRecord | Mapping[str, Any],
    public_key_for_kid: Callable[[str], Ed25519PublicKey | None],
) -> SyncRecord:
    """The record, if its signature verifies with the key ``public_key_for_kid(kid)`` returns.

    Accepts a :class:`SyncRecord` or its JSON dict. Raises :class:`ProtocolError` (malformed),
    :class:`UnknownKeyError` (the callback returned None) or :class:`BadSignatureError`.
    Whether the key may be used (its station, its window) is the callback's policy.
    """
    if not isinstance(record, SyncRecord):
        record = SyncRecord.from_dict(record)
    public_key = public_key_for_kid(record.kid)
    if public_key is None:
        raise UnknownKeyError("kid", f"未知的密钥 {record.kid} (unknown key)")
    try:
        verify_signature(public_key, record.signature, record.signed_bytes())
    except InvalidSignature:
        raise BadSignatureError(
            "signature", f"记录 {record.id} 的签名无效（密钥 {record.kid}）：内容被篡改或系伪造"
        ) from None
    return record
