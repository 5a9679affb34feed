"""Who sent a signed request: RFC 9421 verification with keys and nonces from the database.

:func:`authenticate` wraps :func:`sync.protocol_verify.verify_request`: the key must belong to
the enrolled station named in ``X-SkillCert-Station`` and be inside its window today; the
``(keyid, nonce)`` pair is inserted into ``request_nonce`` with ``ON CONFLICT DO NOTHING``, so
the unique constraint decides, across every worker, which request was first — a second one is
``replayed``. The insert belongs to the request's own transaction (one per entry point): if the
request's work fails and rolls back, the nonce goes too, and a retry of that request is as
harmless as the first attempt was.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from certs.trust import StationKey
from sync.protocol_http import RequestAuthError
from sync.protocol_verify import VerifiedRequest, verify_request
from sync.registry.models import RequestNonce, Station, StationKeyRow
from sync.registry.models_common import utcnow
from sync.registry.services.errors import AuthError
from sync.registry.services.stations import get_station, trust_key

NONCE_TTL = dt.timedelta(minutes=10)
PURGE_PROBABILITY = 0.02  # about one request in 50 sweeps expired nonces


def _lookup(session: Session):
    def lookup(kid: str, station_code: str) -> StationKey | None:
        found = session.exec(
            select(StationKeyRow, Station)
            .join(Station, Station.id == StationKeyRow.station_id)
            .where(StationKeyRow.kid == kid)
        ).first()
        if found is None:
            return None
        row, station = found
        if station.code != station_code or station.status != "enrolled":
            return None
        return trust_key(row, station.code)

    return lookup


def remember_nonce(session: Session, kid: str, nonce: str, now: dt.datetime) -> bool:
    """Store the pair; True if it was already stored (a replay)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(RequestNonce)
        .values(keyid=kid, nonce=nonce, seen_at=now)
        .on_conflict_do_nothing(index_elements=["keyid", "nonce"])
        .returning(RequestNonce.id)
    )
    return session.execute(statement).first() is None


def purge_nonces(session: Session, *, now: dt.datetime | None = None) -> int:
    """Delete nonces older than the replay window; return how many went."""
    cutoff = (now or utcnow()) - NONCE_TTL
    statement = delete(RequestNonce).where(RequestNonce.seen_at < cutoff)
    return session.connection().execute(statement).rowcount


def authenticate(
    session: Session,
    *,
    method: str,
    url: str,
    headers: Mapping[str, str] | Any,
    body: bytes,
    now: dt.datetime | None = None,
) -> tuple[Station, VerifiedRequest]:
    """The station that signed this request, or :class:`AuthError` (401) with its code."""
    now = now or utcnow()
    try:
        verified = verify_request(
            method,
            url,
            headers,
            body,
            key_lookup=_lookup(session),
            seen_nonce=lambda kid, nonce, _created: remember_nonce(session, kid, nonce, now),
            now=now,
        )
    except RequestAuthError as exc:
        server_time = (exc.server_time or now).astimezone(dt.UTC)
        raise AuthError(
            exc.message, code=exc.code, server_time=server_time.isoformat().replace("+00:00", "Z")
        ) from None
    if random.random() < PURGE_PROBABILITY:  # noqa: S311 - load spreading, not security
        purge_nonces(session, now=now)
    return get_station(session, verified.station_code), verified
