"""Stations, their enrollment and keys, and the signed trust list built from them.

Enrollment (docs/sync-protocol.md): ``registry stations add`` records a station and hands out a
one-time token (32 random bytes, base32; only its SHA-256 is stored; 7 days; single use). The
station posts the token with its public keys and a proof made with its active key; the registry
stores the keys and answers with its root key and the signed trust list.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func
from sqlmodel import Session, col, select

from certs import keys as key_tools
from certs.trust import Revocation as TrustRevocation
from certs.trust import StationKey, TrustList
from sync import protocol_keys
from sync.protocol import ProtocolError
from sync.registry.keys import RootSigner
from sync.registry.models import (
    EnrollmentToken,
    Revocation,
    Station,
    StationKeyRow,
)
from sync.registry.models_common import utcnow
from sync.registry.services import audit, feed
from sync.registry.services.errors import EnrollmentError, InvalidInput, NotFound

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOKEN_TTL = timedelta(days=7)
_CODE = re.compile(r"\d{6}")


def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def _text(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field}: 不能为空 (required)")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{field}: 超过 {limit} 个字符 (too long)")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InvalidInput(f"{field}: 含有控制字符 (control character)")
    return value


def check_code(code: object) -> str:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise InvalidInput(f"station_code: 站点编号应为 6 位数字，实际为 {code!r} (6 digits)")
    return code


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a token as typed: spaces and case do not matter."""
    return hashlib.sha256("".join(token.split()).upper().encode("ascii", "replace")).hexdigest()


# --------------------------------------------------------------------------- stations


def get_station(session: Session, code: str) -> Station:
    station = session.exec(select(Station).where(Station.code == code)).first()
    if station is None:
        raise NotFound(f"station_code: 没有编号为 {code} 的站点 (unknown station)")
    return station


def add_station(
    session: Session, *, code: str, name: str, city: str, actor: str, now: datetime | None = None
) -> tuple[Station, str]:
    """Record a station; return it and its one-time enrollment token (shown once)."""
    code = check_code(code)
    if session.exec(select(Station).where(Station.code == code)).first() is not None:
        raise InvalidInput(f"station_code: 站点 {code} 已存在 (already exists)")
    station = Station(
        code=code,
        name=_text("name", name, 100),
        city=_text("city", city, 50),
        created_at=now or utcnow(),
    )
    session.add(station)
    session.flush()
    audit.record(session, actor=actor, action="station.add", subject=f"station:{code}",
                 data={"name": station.name, "city": station.city})  # fmt: skip
    return station, issue_enrollment_token(session, code=code, actor=actor, now=now)


def issue_enrollment_token(
    session: Session, *, code: str, actor: str, now: datetime | None = None
) -> str:
    """A fresh one-time token for ``code`` (e.g. the first expired, or a station was rebuilt).
    Earlier unused tokens of the station stop working."""
    station = get_station(session, code)
    now = now or utcnow()
    for old in session.exec(
        select(EnrollmentToken).where(
            EnrollmentToken.station_id == station.id, col(EnrollmentToken.used_at).is_(None)
        )
    ):
        old.expires_at = min(old.expires_at, now)
        session.add(old)
    token = base64.b32encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
    session.add(
        EnrollmentToken(
            station_id=station.id,
            token_sha256=token_digest(token),
            created_by=actor,
            created_at=now,
            expires_at=now + TOKEN_TTL,
        )
    )
    session.flush()
    audit.record(session, actor=actor, action="station.enrollment_token",
                 subject=f"station:{code}",
                 data={"expires_at": (now + TOKEN_TTL).isoformat()})  # the token itself never  # fmt: skip
    return token


@dataclass(frozen=True)
class StationSummary:
    station: Station
    keys: list[StationKeyRow]
    token_expires_at: datetime | None  # of the newest unused token


def list_stations(session: Session) -> list[StationSummary]:
    stations = list(session.exec(select(Station).order_by(Station.code)))
    keys: dict[int, list[StationKeyRow]] = {}
    for row in session.exec(select(StationKeyRow).order_by(StationKeyRow.valid_from)):
        keys.setdefault(row.station_id, []).append(row)
    tokens = dict(
        session.exec(
            select(EnrollmentToken.station_id, func.max(EnrollmentToken.expires_at))
            .where(col(EnrollmentToken.used_at).is_(None))
            .group_by(EnrollmentToken.station_id)
        ).all()
    )
    return [StationSummary(s, keys.get(s.id, []), tokens.get(s.id)) for s in stations]


# --------------------------------------------------------------------------- keys


def trust_key(row: StationKeyRow, station_code: str) -> StationKey:
    raw = base64.urlsafe_b64decode(row.public_key + "=" * (-len(row.public_key) % 4))
    return StationKey(
        kid=row.kid,
        station_code=station_code,
        public_key=Ed25519PublicKey.from_public_bytes(raw),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


def station_keys(session: Session, station: Station) -> list[StationKey]:
    rows = session.exec(select(StationKeyRow).where(StationKeyRow.station_id == station.id))
    return [trust_key(row, station.code) for row in rows]


def _encode_public(key: StationKey) -> str:
    return base64.urlsafe_b64encode(key_tools.public_bytes(key.public_key)).decode().rstrip("=")


def add_key(
    session: Session,
    station: Station,
    key: StationKey,
    *,
    source: str,
    endorsed_by: str | None = None,
    now: datetime | None = None,
) -> StationKeyRow:
    """Store a station key; a key that rotates in closes the window of the keys it follows."""
    existing = session.exec(select(StationKeyRow).where(StationKeyRow.kid == key.kid)).first()
    if existing is not None:
        raise InvalidInput(f"kid: 密钥编号 {key.kid} 已登记 (kid already registered)")
    if source == "rotation":
        for old in session.exec(
            select(StationKeyRow).where(StationKeyRow.station_id == station.id)
        ):
            if old.valid_until is None or old.valid_until > key.valid_from:
                old.valid_until = max(key.valid_from, old.valid_from)
                session.add(old)
    row = StationKeyRow(
        kid=key.kid,
        station_id=station.id,
        public_key=_encode_public(key),
        valid_from=key.valid_from,
        valid_until=key.valid_until,
        source=source,
        endorsed_by=endorsed_by,
        added_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    if source == "rotation":  # enrollment's keys are audited with the enrollment
        audit.record(session, actor=f"station:{station.code}", action="station.key_rotate",
                     subject=f"station:{station.code}",
                     data={"kid": key.kid, "endorsed_by": endorsed_by,
                           "valid_from": key.valid_from.isoformat()})  # fmt: skip
    return row


# --------------------------------------------------------------------------- trust list


def trust_list(session: Session) -> TrustList:
    """Every enrolled station's keys plus every revocation. ``issued_at`` is the time of the
    newest change, so the same state always gives the same list (and the same signature)."""
    codes = dict(session.exec(select(Station.id, Station.code)).all())
    rows = list(session.exec(select(StationKeyRow)))
    revocations = list(session.exec(select(Revocation)))
    stamps = [r.added_at for r in rows] + [r.revoked_at for r in revocations]
    return TrustList(
        [trust_key(row, codes[row.station_id]) for row in rows],
        {r.number: TrustRevocation(r.revoked_at, r.reason) for r in revocations},
        issued_at=max(stamps) if stamps else datetime(2000, 1, 1, tzinfo=SHANGHAI),
    )


def signed_trust_list(session: Session, signer: RootSigner) -> dict:
    """The document of ``/.well-known/skillcert-trust.json`` (signed by the root key)."""
    return protocol_keys.sign_trust_list(trust_list(session), signer.private_key, signer.kid)


# --------------------------------------------------------------------------- enrollment


def _enroll_keys(code: str, raw_keys: object) -> list[StationKey]:
    if not isinstance(raw_keys, list) or not raw_keys:
        raise InvalidInput("keys: 应为非空数组 (expected a non-empty list)")
    if len(raw_keys) > 20:
        raise InvalidInput("keys: 最多 20 个密钥 (too many keys)")
    out = []
    for i, item in enumerate(raw_keys):
        where = f"keys[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{where}: 应为对象 (expected an object)")
        pem = item.get("public_key")
        try:
            public = key_tools.load_public_pem(pem) if isinstance(pem, str) else None
        except (ValueError, key_tools.KeyLoadError) as exc:
            raise InvalidInput(f"{where}.public_key: 不是 Ed25519 公钥 PEM ({exc})") from None
        if public is None:
            raise InvalidInput(f"{where}.public_key: 应为 PEM 文本 (expected a PEM string)")
        try:
            key = StationKey.from_dict(
                {
                    **item,
                    "station_code": code,
                    "public_key": base64.urlsafe_b64encode(key_tools.public_bytes(public))
                    .decode()
                    .rstrip("="),
                },
                where=where,
            )
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        if key.kid != key_tools.key_id(public, protocol_keys.STATION_KID_PREFIX):
            raise InvalidInput(f"{where}.kid: 密钥编号 {key.kid} 与公钥不符 (kid/key mismatch)")
        out.append(key)
    if len({k.kid for k in out}) != len(out):
        raise InvalidInput("keys: 密钥编号重复 (duplicate kid)")
    return out


def _store_enrolled_keys(
    session: Session, station: Station, keys: list[StationKey], now: datetime
) -> None:
    """Add the enrolled keys. On a re-enrollment (a rebuilt station, a new token) the station's
    earlier keys that are not listed again stop signing today: what they signed stays valid."""
    listed = {k.kid for k in keys}
    today = local_date(now)
    for old in session.exec(select(StationKeyRow).where(StationKeyRow.station_id == station.id)):
        if old.kid not in listed and (old.valid_until is None or old.valid_until > today):
            old.valid_until = max(today, old.valid_from)
            session.add(old)
    known = {k.kid for k in station_keys(session, station)}
    for key in keys:
        if key.kid in known:
            continue  # listed again: already stored
        taken = session.exec(select(StationKeyRow).where(StationKeyRow.kid == key.kid)).first()
        if taken is not None:
            raise EnrollmentError(f"keys: 密钥 {key.kid} 已属于其他站点 (kid taken)")
        add_key(session, station, key, source="enroll", now=now)


def enroll(
    session: Session, *, body: object, signer: RootSigner, now: datetime | None = None
) -> dict:
    """``POST /api/v1/enroll``: check the token and the proof, store the keys, answer with the
    root public key and the signed trust list. Raises :class:`EnrollmentError` (403) for a bad,
    used or expired token or proof, :class:`InvalidInput` for a malformed body."""
    now = now or utcnow()
    if not isinstance(body, dict):
        raise InvalidInput("body: 应为 JSON 对象 (expected an object)")
    token, code = body.get("token"), check_code(body.get("station_code"))
    if not isinstance(token, str) or not token.strip():
        raise InvalidInput("token: 缺少注册令牌 (missing)")
    keys = _enroll_keys(code, body.get("keys"))
    row = session.exec(
        select(EnrollmentToken)
        .where(EnrollmentToken.token_sha256 == token_digest(token))
        .with_for_update()
    ).first()
    station = session.get(Station, row.station_id) if row else None
    if row is None or station is None or station.code != code:
        raise EnrollmentError("token: 注册令牌无效或不属于该站点 (unknown token for this station)")
    if row.used_at is not None:
        raise EnrollmentError("token: 注册令牌已使用过 (token already used)")
    if row.expires_at <= now:
        raise EnrollmentError("token: 注册令牌已过期，请联系省级管理员重新签发 (token expired)")
    try:
        protocol_keys.verify_enrollment_proof(
            body.get("proof"), keys, token=token, station_code=code
        )
    except ProtocolError as exc:
        raise EnrollmentError(str(exc), code=exc.code) from None
    _store_enrolled_keys(session, station, keys, now)
    row.used_at = now
    station.status = "enrolled"
    station.enrolled_at = station.enrolled_at or now
    session.add_all([row, station])
    session.flush()
    audit.record(session, actor=f"station:{code}", action="station.enroll",
                 subject=f"station:{code}", data={"kids": [k.kid for k in keys]})  # fmt: skip
    signed = signed_trust_list(session, signer)
    feed.add_event(session, kind="trust_list", payload=signed, actor=f"station:{code}", now=now)
    return {
        "station_code": code,
        "root_kid": signer.kid,
        "root_public_key": signer.public_pem,
        "trust_list": signed,
    }
