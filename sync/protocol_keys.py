"""Signatures about keys: the registry's signed trust list, enrollment proofs, key endorsements.

Three small signed objects of ``docs/sync-protocol.md`` (Trust, Enrollment, Records), each with
its own context prefix so that a signature made for one can never pass as another:

* **signed trust list** — the registry root key over
  ``b"SkillCert trust list\\0" + JCS({"format", "kid", "trust_list"})``;
* **enrollment proof** — the station's new key over
  ``b"SkillCert enroll\\0" + JCS({"station_code", "token"})``: proves that whoever holds the
  one-time token also holds the private key being enrolled;
* **key endorsement** (``station_key`` records) — the station's current key over
  ``b"SkillCert key\\0" + JCS({"kid", "public_key", "valid_from", "endorsed_by"})`` of the new key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs import keys as keys_module
from certs.trust import StationKey, TrustList, TrustListError, check_kid
from sync import protocol_payloads
from sync.protocol import (
    FORMAT,
    BadSignatureError,
    ProtocolError,
    UnknownKeyError,
    b64url_decode,
    b64url_encode,
    format_time,
    jcs,
    parse_time,
)
from sync.protocol_payloads import kid as kid_field
from sync.protocol_payloads import list_at, object_at, text

__all__ = [
    "ENROLL_CONTEXT",
    "KEY_CONTEXT",
    "ROOT_KID_PREFIX",
    "STATION_KID_PREFIX",
    "TRUST_LIST_CONTEXT",
    "endorse_key",
    "make_enrollment_proof",
    "root_kid",
    "sign_trust_list",
    "verify_enrollment_proof",
    "verify_key_endorsement",
    "verify_signed_trust_list",
    "EnrollRequest",
    "EnrollResponse",
    "parse_enroll_request",
    "parse_enroll_response",
]

TRUST_LIST_CONTEXT = b"SkillCert trust list\x00"
ENROLL_CONTEXT = b"SkillCert enroll\x00"
KEY_CONTEXT = b"SkillCert key\x00"
ROOT_KID_PREFIX = "rg-"
STATION_KID_PREFIX = "st-"
_TOKEN = re.compile(r"[A-Za-z0-9=_-]{16,128}")


def root_kid(public_key: Ed25519PublicKey) -> str:
    """The registry root key's id: ``certs.keys.key_id(public_key, prefix="rg-")``."""
    return keys_module.key_id(public_key, prefix=ROOT_KID_PREFIX)


def _kid(field: str, value: object) -> str:
    try:
        return check_kid(value, label=field)
    except TrustListError as exc:
        raise ProtocolError(field, str(exc)) from None


# --------------------------------------------------------------------------- trust list


def _trust_list_bytes(kid: str, body: object) -> bytes:
    return TRUST_LIST_CONTEXT + jcs(
        "trust_list", {"format": FORMAT, "kid": kid, "trust_list": body}
    )


def sign_trust_list(trust_list: TrustList, private_key: Ed25519PrivateKey, kid: str) -> dict:
    """The document served at ``/.well-known/skillcert-trust.json`` and in ``trust_list`` events.

    The list must carry ``issued_at``: a station keeps the newest list it has verified and
    refuses an older one (a replayed list could hide a revocation or a closed key window).
    """
    if trust_list.issued_at is None:
        raise ValueError("a trust list must have issued_at before it is signed")
    check_kid(kid)
    body = trust_list.to_dict()
    signature = private_key.sign(_trust_list_bytes(kid, body))
    return {"format": FORMAT, "kid": kid, "trust_list": body, "signature": b64url_encode(signature)}


def verify_signed_trust_list(
    doc: object, root_public_key: Ed25519PublicKey, *, expected_kid: str | None = None
) -> TrustList:
    """The trust list in ``doc`` if the root key signed it; else a :class:`ProtocolError`.

    ``expected_kid`` defaults to :func:`root_kid` of ``root_public_key``; a document naming
    another kid raises :class:`UnknownKeyError`. The signature covers the list exactly as sent
    (fields this version does not know included).
    """
    if not isinstance(doc, Mapping):
        raise ProtocolError("signed trust list", "应为 JSON 对象 (expected an object)")
    version = doc.get("format")
    if version != FORMAT or isinstance(version, bool):
        raise ProtocolError("format", f"签名信任列表格式 {version!r} 不受支持 (unsupported format)")
    expected = {"format", "kid", "trust_list", "signature"}
    if set(doc) != expected:
        wrong = sorted(set(doc) ^ expected)
        raise ProtocolError("signed trust list", f"字段不符：{', '.join(wrong)} (wrong fields)")
    kid = _kid("kid", doc["kid"])
    wanted = expected_kid or root_kid(root_public_key)
    if kid != wanted:
        raise UnknownKeyError("kid", f"签名密钥 {kid} 不是省级根密钥 {wanted} (not the root key)")
    signature = b64url_decode("signature", doc["signature"], size=64)
    try:
        keys_module.verify(root_public_key, signature, _trust_list_bytes(kid, doc["trust_list"]))
    except InvalidSignature:
        raise BadSignatureError("signature", "信任列表签名无效：内容被篡改或系伪造") from None
    try:
        trust_list = TrustList.from_dict(doc["trust_list"])
    except TrustListError as exc:
        raise ProtocolError("trust_list", str(exc)) from None
    if trust_list.issued_at is None:
        raise ProtocolError("trust_list.issued_at", "签名的信任列表必须有签发时间 (missing)")
    return trust_list


# --------------------------------------------------------------------------- enrollment


def _enroll_bytes(token: str, station_code: str) -> bytes:
    return ENROLL_CONTEXT + jcs("proof", {"station_code": station_code, "token": token})


def make_enrollment_proof(private_key: Ed25519PrivateKey, *, token: str, station_code: str) -> str:
    """The ``proof`` of ``POST /api/v1/enroll``: base64url Ed25519 by the key being enrolled."""
    return b64url_encode(private_key.sign(_enroll_bytes(token, station_code)))


def verify_enrollment_proof(
    proof: str, keys: Iterable[StationKey], *, token: str, station_code: str
) -> StationKey:
    """The enrolled key that made ``proof`` for this token and station; else BadSignatureError.

    An enrollment may list several keys (e.g. older keys whose certificates must keep
    verifying); the proof must come from one of them — the station's active key.
    """
    signature = b64url_decode("proof", proof, size=64)
    message = _enroll_bytes(token, station_code)
    for key in keys:
        try:
            keys_module.verify(key.public_key, signature, message)
        except InvalidSignature:
            continue
        return key
    raise BadSignatureError(
        "proof", "注册证明无效：不是所列密钥对此令牌和站点编号的签名 (enrollment proof invalid)"
    )


# --------------------------------------------------------------------------- key rotation


def _endorsed_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {name: payload[name] for name in ("kid", "public_key", "valid_from", "endorsed_by")}


def endorse_key(
    new_public_key: Ed25519PublicKey,
    *,
    new_kid: str,
    valid_from: dt.date,
    old_private_key: Ed25519PrivateKey,
    old_kid: str,
) -> dict[str, Any]:
    """The payload of a ``station_key`` record: the new key, endorsed by the current one."""
    if new_kid == old_kid:
        raise ValueError("the new key needs a key id of its own")
    payload = {
        "kid": check_kid(new_kid),
        "public_key": b64url_encode(keys_module.public_bytes(new_public_key)),
        "valid_from": valid_from.isoformat(),
        "endorsed_by": check_kid(old_kid),
    }
    signature = old_private_key.sign(KEY_CONTEXT + jcs("payload", _endorsed_fields(payload)))
    return {**payload, "endorsement": b64url_encode(signature)}


def verify_key_endorsement(payload: Mapping[str, Any], old_key: StationKey) -> StationKey:
    """The new :class:`StationKey` a ``station_key`` payload announces, if ``old_key`` endorsed it.

    The new key belongs to ``old_key``'s station and starts on its ``valid_from`` (not
    before the old key's). Raises :class:`UnknownKeyError` when the payload names another
    endorsing key, :class:`BadSignatureError` when the endorsement does not verify.
    """
    protocol_payloads.validate("station_key", payload)
    if payload["endorsed_by"] != old_key.kid:
        raise UnknownKeyError(
            "payload.endorsed_by", f"由 {payload['endorsed_by']} 背书，而非 {old_key.kid}"
        )
    signature = b64url_decode("payload.endorsement", payload["endorsement"], size=64)
    try:
        keys_module.verify(
            old_key.public_key, signature, KEY_CONTEXT + jcs("payload", _endorsed_fields(payload))
        )
    except InvalidSignature:
        raise BadSignatureError("payload.endorsement", "新密钥的背书签名无效") from None
    raw = b64url_decode("payload.public_key", payload["public_key"], size=32)
    try:
        public_key = keys_module.public_key_from_raw(raw)
    except keys_module.KeyLoadError as exc:
        raise ProtocolError("payload.public_key", str(exc)) from None
    valid_from = dt.date.fromisoformat(payload["valid_from"])
    if valid_from < old_key.valid_from:
        raise ProtocolError(
            "payload.valid_from", f"新密钥生效日 {valid_from} 早于旧密钥 {old_key.valid_from}"
        )
    if payload["kid"] == old_key.kid:
        raise ProtocolError("payload.kid", "新密钥不能沿用旧密钥编号 (kid reused)")
    return StationKey(
        kid=payload["kid"],
        station_code=old_key.station_code,
        public_key=public_key,
        valid_from=valid_from,
    )


# --------------------------------------------------------------------------- enrollment messages


def _key_to_enroll_dict(key: StationKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "public_key": keys_module.public_pem(key.public_key),
        "valid_from": key.valid_from.isoformat(),
        "valid_until": None if key.valid_until is None else key.valid_until.isoformat(),
    }


@dataclass(frozen=True)
class EnrollRequest:
    """``POST /api/v1/enroll``. Keys travel as PEM; ``proof`` is by one of them (the active one)."""

    token: str
    station_code: str
    station_name: str
    keys: tuple[StationKey, ...]
    proof: str

    @classmethod
    def build(
        cls,
        *,
        token: str,
        station_code: str,
        station_name: str,
        keys: Sequence[StationKey],
        active_private_key: Ed25519PrivateKey,
    ) -> EnrollRequest:
        proof = make_enrollment_proof(active_private_key, token=token, station_code=station_code)
        return cls(token, station_code, station_name, tuple(keys), proof)

    def to_dict(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "station_code": self.station_code,
            "station_name": self.station_name,
            "keys": [_key_to_enroll_dict(k) for k in self.keys],
            "proof": self.proof,
        }


def parse_enroll_request(data: object) -> EnrollRequest:
    """Shape only: the registry then checks the token and :func:`verify_enrollment_proof`."""
    body = object_at("body", data)
    token = body.get("token")
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise ProtocolError("token", "注册令牌格式无效 (malformed enrollment token)")
    station_code = text(body, "station_code", 64, prefix="")
    station_name = text(body, "station_name", 200, prefix="")
    keys: list[StationKey] = []
    for index, item in enumerate(list_at("keys", body.get("keys"), 20)):
        where = f"keys[{index}]"
        item = object_at(where, item)
        kid_field(item, "kid", prefix=where)
        try:
            public_key = keys_module.load_public_pem(str(item.get("public_key")))
        except keys_module.KeyLoadError as exc:
            raise ProtocolError(f"{where}.public_key", str(exc)) from None
        except (ValueError, TypeError):
            raise ProtocolError(f"{where}.public_key", "应为 Ed25519 公钥 PEM") from None
        as_trust = {
            **item,
            "station_code": station_code,
            "public_key": b64url_encode(keys_module.public_bytes(public_key)),
        }
        try:
            keys.append(StationKey.from_dict(as_trust, where=where))
        except TrustListError as exc:
            raise ProtocolError(where, str(exc)) from None
    if not keys:
        raise ProtocolError("keys", "至少需要一个密钥 (at least one key)")
    if len({k.kid for k in keys}) != len(keys):
        raise ProtocolError("keys", "密钥编号重复 (duplicate kid)")
    proof = body.get("proof")
    b64url_decode("proof", proof, size=64)
    return EnrollRequest(token, station_code, station_name, tuple(keys), proof)  # type: ignore[arg-type]


@dataclass(frozen=True)
class EnrollResponse:
    """What enrollment gives the station: the root key and the current signed trust list."""

    server_time: dt.datetime
    root_kid: str
    root_public_key: Ed25519PublicKey
    signed_trust_list: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "server_time": format_time(self.server_time),
            "root_kid": self.root_kid,
            "root_public_key": keys_module.public_pem(self.root_public_key),
            "trust_list": dict(self.signed_trust_list),
        }

    def trust_list(self) -> TrustList:
        return verify_signed_trust_list(self.signed_trust_list, self.root_public_key)


def parse_enroll_response(data: object) -> EnrollResponse:
    """Parse and check: the root kid matches the key and the trust list verifies with it."""
    body = object_at("body", data)
    server_time = parse_time("server_time", body.get("server_time"))
    try:
        root = keys_module.load_public_pem(str(body.get("root_public_key")))
    except (keys_module.KeyLoadError, ValueError, TypeError):
        raise ProtocolError("root_public_key", "应为 Ed25519 公钥 PEM") from None
    rkid = body.get("root_kid")
    if rkid != root_kid(root):
        raise ProtocolError("root_kid", f"{rkid!r} 与根公钥不符，应为 {root_kid(root)}")
    response = EnrollResponse(
        server_time, rkid, root, object_at("trust_list", body.get("trust_list"))
    )
    response.trust_list()  # raises unless signed by this root
    return response
