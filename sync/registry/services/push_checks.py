"""Checking one pushed record on its own, before any lock is taken (the CPU-heavy part).

:func:`prepare` verifies a record's sync signature with the pushing station's keys and, per
kind, everything that does not depend on what is already stored: a certificate's own signed
record against the station's keys (key valid on the issue date), that it belongs to this
station, that the QR token is genuine and says what the record says; a key endorsement. It
returns a :class:`Prepared` (with the copy to store, ID number masked) or raises
:class:`Reject` with the machine-readable reason the push answer carries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from certs import cert_token, jcs
from certs import keys as key_tools
from certs.identity import mask_id, normalise_number
from certs.numbers import is_one_plus_x
from certs.record import CertificateRecord, RecordError, SignedRecord
from certs.record import verify_record_bytes as verify_certificate_record
from certs.trust import StationKey, TrustList
from sync import protocol, protocol_keys
from sync.protocol import ProtocolError, SyncRecord
from sync.registry.models import Station
from sync.registry.services.stations import local_date


class Reject(Exception):  # noqa: N818 - a verdict, not an error
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Prepared:
    """A record whose signatures check out, ready for the stored-state checks."""

    index: int
    record: SyncRecord
    content_sha256: str  # SHA-256 of JCS({id, kind, created_at, payload}) as received
    stored_payload: dict[str, Any]
    certificate: CertificateRecord | None = None
    signed_record: dict[str, Any] | None = None  # SignedRecord JSON, ID number masked
    record_sha256: str | None = None
    id_hash: str | None = None
    id_masked: str | None = None
    new_key: StationKey | None = None

    leaf: bytes | None = None  # a certificate's log leaf data, made before the log lock

    def record_values(
        self, *, station_id: int, batch: str, now: datetime, receipt: dict[str, Any]
    ) -> dict[str, Any]:
        """The ``sync_record`` row, as insert values."""
        record = self.record
        return {
            "id": record.id,
            "station_id": station_id,
            "kind": record.kind,
            "created_at": record.created_at,
            "received_at": now,
            "batch": batch,
            "kid": record.kid,
            "content_sha256": self.content_sha256,
            "payload": self.stored_payload,
            "receipt": receipt,
        }

    def certificate_values(self, station_id: int, leaf_index: int, now: datetime) -> dict[str, Any]:
        """The ``certificate`` row of an accepted certificate, as insert values (plain dicts,
        not model objects: building 200 ORM objects per push cost more than inserting them)."""
        cert = self.certificate
        assert cert is not None
        return {
            "number": cert.number,
            "station_id": station_id,
            "record_id": self.record.id,
            "kid": cert.kid,
            "holder_name": cert.holder_name,
            "id_type": cert.id_type.value,
            "id_hash": self.id_hash,
            "id_masked": self.id_masked,
            "occupation": cert.occupation,
            "occupation_code": cert.occupation_code,
            "direction": cert.direction,
            "level": cert.level,
            "level_digit": int(cert.number[15]),
            "issuer": cert.issuer,
            "issue_date": cert.issue_date,
            "programme_code": cert.programme_code,
            "programme_name": cert.programme_name,
            "session_code": cert.session_code,
            "theory_score": cert.theory_score,
            "practical_score": cert.practical_score,
            "review_score": cert.review_score,
            "photo_sha256": cert.photo_sha256,
            "record": self.signed_record,
            "record_sha256": self.record_sha256,
            "token": self.record.payload["token"],
            "accepted_at": now,
            "leaf_index": leaf_index,
        }

    def summary_values(self, station: Station) -> dict[str, Any]:
        """The ``result_summary`` row of a result summary record, as insert values."""
        payload = self.record.payload
        return {
            "record_id": self.record.id,
            "station_id": station.id,
            "session_code": payload["session"],
            "programme_code": payload["programme"],
            "level": str(payload["level"]),
            "signed_off_at": protocol.parse_time("signed_off_at", payload["signed_off_at"]),
            "candidates": payload["candidates"],
            "passed": payload["passed"],
            "city": payload["city"] or station.city,
            "by_outcome": dict(payload["by_outcome"]),
        }


def id_hash(secret: bytes, number: str) -> str:
    """HMAC-SHA256 (hex) of an ID number (normalised: NFKC, trimmed, upper case)."""
    return hmac.new(secret, normalise_number(number).encode("utf-8"), hashlib.sha256).hexdigest()


_TEXT_ENCODER = json.JSONEncoder(ensure_ascii=False)  # json.dumps(…, ensure_ascii=False) builds
# one per call, which cost more than the encoding itself


def _json_text(value: str) -> bytes:
    return _TEXT_ENCODER.encode(value).encode("utf-8")


def content_sha256(record: SyncRecord) -> str:
    """SHA-256 of JCS({id, kind, created_at, payload}): what a resend must match.

    The payload's JCS bytes are already inside the record's signed bytes (JCS sorts the keys:
    created_at, format, id, kid, kind, payload), so they are cut out of those rather than
    canonicalised a second time; if the signed bytes ever look otherwise, the object is
    canonicalised from scratch.
    """
    created = _json_text(protocol.format_time(record.created_at))
    rid, kind = _json_text(record.id), _json_text(record.kind)
    head = b"".join(
        (protocol.RECORD_CONTEXT, b'{"created_at":', created, b',"format":',
         str(protocol.FORMAT).encode(), b',"id":', rid, b',"kid":', _json_text(record.kid),
         b',"kind":', kind, b',"payload":')
    )  # fmt: skip
    signed = record.signed_bytes()
    if signed.startswith(head) and signed.endswith(b"}"):
        payload = signed[len(head) : -1]
        body = b"".join(
            (b'{"created_at":', created, b',"id":', rid, b',"kind":', kind, b',"payload":',
             payload, b"}")
        )  # fmt: skip
    else:  # pragma: no cover - only if the record format changes
        body = jcs.canonical(
            {
                "id": record.id,
                "kind": record.kind,
                "created_at": protocol.format_time(record.created_at),
                "payload": record.payload,
            }
        )
    return hashlib.sha256(body).hexdigest()


class StationKeys:
    """The pushing station's keys as the batch sees them (a rotation earlier in the batch
    adds the new key and closes the old windows for the records after it)."""

    def __init__(self, keys: list[StationKey]):
        self.by_kid = {k.kid: k for k in keys}
        self.trust = TrustList(keys)

    def rotate_in(self, new: StationKey) -> None:
        for kid, old in list(self.by_kid.items()):
            if old.valid_until is None or old.valid_until > new.valid_from:
                self.by_kid[kid] = StationKey(
                    kid,
                    old.station_code,
                    old.public_key,
                    old.valid_from,
                    max(new.valid_from, old.valid_from),
                )
        self.by_kid[new.kid] = new
        self.trust = TrustList(self.by_kid.values())


def _protocol_reject(exc: ProtocolError) -> Reject:
    return Reject(protocol.reason_for(exc))


def prepare(
    index: int, raw: Any, *, station: Station, keys: StationKeys, secret: bytes
) -> Prepared:
    try:
        record = SyncRecord.from_dict(raw)
    except ProtocolError as exc:
        raise _protocol_reject(exc) from None
    announced: StationKey | None = None
    if record.kind == protocol.KIND_STATION_KEY:
        announced = _endorsed_key(record, keys)

    def lookup(kid: str):
        key = keys.by_kid.get(kid) or (announced if announced and announced.kid == kid else None)
        return key.public_key if key else None

    try:
        protocol.verify_record(record, lookup)
    except ProtocolError as exc:
        raise _protocol_reject(exc) from None
    signer = keys.by_kid.get(record.kid) or announced
    assert signer is not None  # verify_record found it
    if not signer.valid_on(local_date(record.created_at)):
        raise Reject(
            f"key_not_valid: kid: 密钥 {signer.kid} 的有效期为 {signer.describe_window()}，"
            f"记录创建于 {local_date(record.created_at)} (key not valid on the record's date)"
        )
    prepared = Prepared(index, record, content_sha256(record), dict(record.payload))
    if record.kind == protocol.KIND_CERTIFICATE:
        _certificate(prepared, station=station, keys=keys, secret=secret)
    elif record.kind == protocol.KIND_STATION_KEY:
        prepared.new_key = announced
        keys.rotate_in(announced)  # type: ignore[arg-type]
    return prepared


def _endorsed_key(record: SyncRecord, keys: StationKeys) -> StationKey:
    endorser = keys.by_kid.get(record.payload["endorsed_by"])
    if endorser is None:
        raise Reject(
            f"unknown_key: payload.endorsed_by: {record.payload['endorsed_by']} 不是本站点的密钥"
            " (endorsing key unknown)"
        )
    try:
        new = protocol_keys.verify_key_endorsement(record.payload, endorser)
    except ProtocolError as exc:
        raise _protocol_reject(exc) from None
    if new.kid != key_tools.key_id(new.public_key, protocol_keys.STATION_KID_PREFIX):
        raise Reject(f"malformed: payload.kid: 密钥编号 {new.kid} 与公钥不符 (kid/key mismatch)")
    return new


def _certificate(prepared: Prepared, *, station: Station, keys: StationKeys, secret: bytes) -> None:
    payload = prepared.record.payload
    signed = prepared.record.parsed_payload()  # parsed when the protocol checked its shape
    if not isinstance(signed, SignedRecord):  # pragma: no cover - a certificate always has one
        signed = SignedRecord.from_dict(payload["signed_record"])
    try:
        cert, canonical = verify_certificate_record(signed, keys.trust)
    except RecordError as exc:
        raise Reject(f"{exc.code}: payload.signed_record: {exc}") from None
    # ``cert.number`` is canonical (``str(parse_number(…))``), so its site code is simply
    # characters 8-13 (1 + 4 + 2 characters of agency type, agency and province before them).
    if cert.station_code != station.code or cert.number[7:13] != station.code:
        raise Reject(
            f"wrong_station: payload.signed_record: 证书 {cert.number} 属于站点 "
            f"{cert.station_code}，不是推送它的站点 {station.code} (not this station's certificate)"
        )
    try:
        verified = cert_token.decode_token(payload["token"], keys.trust)
    except cert_token.TokenError as exc:
        raise Reject(f"{exc.code}: payload.token: {exc}") from None
    masked = mask_id(cert.id_number)
    if not _token_matches(verified, cert, masked) or verified.kid != signed.kid:
        raise Reject(
            f"token_mismatch: payload.token: 二维码内容与证书记录 {cert.number} 不符 "
            "(token does not match the record)"
        )
    stored = signed.to_dict()
    stored["record"] = {**stored["record"], "id_number": masked}
    prepared.certificate = cert
    prepared.signed_record = stored
    prepared.record_sha256 = hashlib.sha256(canonical).hexdigest()
    prepared.id_hash = id_hash(secret, cert.id_number)
    prepared.id_masked = masked
    prepared.stored_payload = {**payload, "signed_record": stored}


def _token_matches(
    verified: cert_token.VerifiedToken, cert: CertificateRecord, masked: str
) -> bool:
    """``verified.claims == cert_token.claims_from_record(cert)``, without building the claims.

    The token's claims passed :class:`cert_token.TokenClaims` validation when it was decoded.
    When every field equals what ``claims_from_record`` would put there, that call would build
    the same claims from the same values (so it could neither fail nor differ): the answer is
    True. Otherwise the original comparison decides (and raises whatever it raises)."""
    claims = verified.claims
    if (
        claims.number == cert.number
        and claims.holder_name == cert.holder_name
        and claims.masked_id == masked
        and claims.occupation_code == cert.occupation_code
        and claims.issue_date == cert.issue_date
        and claims.one_plus_x == is_one_plus_x(cert.level)
    ):
        return True
    return claims == cert_token.claims_from_record(cert)
