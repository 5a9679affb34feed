"""What public verification reads: whose keys the registry trusts, and what it recorded.

A verification is the registry's hottest path (every QR scan, every employer's API call), and
the answer needs only two things from the database, so both are read as cheaply as the database
allows, through one DBAPI cursor outside any transaction (:func:`sync.registry.db.read_cursor`):

- **the trust list** (every enrolled station's keys with their validity windows) is built once
  and kept in a :class:`TrustCache` per app. It is re-checked against the key table's
  fingerprint (count, newest id, latest window end; enrollment and rotation always change it)
  at most every ``max_age`` seconds, and at once whenever a token names a key the cached list
  lacks, so a station enrolled a moment ago verifies straight away. The only thing that can
  lag, by at most ``max_age``, is a key's window being closed by a rotation;
- **the recorded certificates** with their station and revocation come from one indexed query
  whose SQL is compiled once per dialect and list length (:class:`_Query`), read into detached
  model objects (no ORM session, no identity map).

Revocations are never cached: every answer reflects the revocation table at that moment.
"""

from __future__ import annotations

import base64
import functools
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Dialect, Select, bindparam, func, select

from certs.trust import StationKey, TrustList
from sync.registry.models import Certificate, Revocation, Station, StationKeyRow
from sync.registry.services.records import RecordedCertificate

TRUST_MAX_AGE = 5.0  # seconds; config REGISTRY_TRUST_MAX_AGE


# --------------------------------------------------------------------------- compiled queries


class _Query:
    """A Core ``select`` compiled once for a dialect, run on a bare DBAPI cursor.

    Rows come back as tuples with the columns' own result processing applied (dates and the
    UTC timestamps on SQLite), exactly as SQLAlchemy would hand them out.
    """

    def __init__(self, statement: Select, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.names = list(compiled.positiontup or []) if compiled.positional else None
        self.dialect = dialect
        self.types = [column.type for column in statement.selected_columns]
        self.processors: list | None = None  # from the first result's column type codes

    def rows(self, cursor: Any, params: dict[str, Any] | None = None) -> list[tuple]:
        params = params or {}
        cursor.execute(self.sql, [params[n] for n in self.names] if self.names is not None
                       else params)  # fmt: skip
        rows = cursor.fetchall()
        procs = self.processors
        if procs is None:  # as SQLAlchemy does: the type's processor for the driver's type code
            procs = self.processors = [
                t.dialect_impl(self.dialect).result_processor(self.dialect, d[1])
                for t, d in zip(self.types, cursor.description, strict=True)
            ]
        if not any(procs):
            return [tuple(row) for row in rows]
        return [tuple(v if p is None else p(v) for p, v in zip(procs, row, strict=True))
                for row in rows]  # fmt: skip


_compiled: dict[tuple[str, str, int], _Query] = {}
_compiled_lock = threading.Lock()


def _query(dialect: Dialect, name: str, size: int = 0) -> _Query:
    key = (dialect.name, name, size)
    found = _compiled.get(key)
    if found is None:
        with _compiled_lock:
            found = _compiled.setdefault(key, _Query(_STATEMENTS[name](size), dialect))
    return found


CERTIFICATE_COLUMNS = [c for c in Certificate.__table__.columns if c.name != "record"]
STATION_COLUMNS = [Station.__table__.c[n] for n in ("id", "code", "name", "city")]
REVOCATION_COLUMNS = [Revocation.__table__.c[n] for n in
                      ("id", "number", "certificate_id", "reason", "revoked_at", "origin")]  # fmt: skip


def _fingerprint(_size: int) -> Select:
    return select(func.count(StationKeyRow.id), func.max(StationKeyRow.id),
                  func.max(StationKeyRow.valid_until))  # fmt: skip


def _keys(_size: int) -> Select:
    keys, stations = StationKeyRow.__table__.c, Station.__table__.c
    return select(keys.kid, keys.public_key, keys.valid_from, keys.valid_until, stations.id,
                  stations.code, stations.name, stations.city).join_from(
        StationKeyRow.__table__, Station.__table__, keys.station_id == stations.id)  # fmt: skip


def _recorded(size: int) -> Select:
    certificates = Certificate.__table__
    return (
        select(*CERTIFICATE_COLUMNS, *STATION_COLUMNS, *REVOCATION_COLUMNS)
        .join_from(certificates, Station.__table__,
                   Station.__table__.c.id == certificates.c.station_id)
        .outerjoin(Revocation.__table__,
                   Revocation.__table__.c.certificate_id == certificates.c.id)
        .where(certificates.c.number.in_([bindparam(f"n{i}") for i in range(size)]))
    )  # fmt: skip


_STATEMENTS = {"fingerprint": _fingerprint, "keys": _keys, "recorded": _recorded}


# --------------------------------------------------------------------------- trust list


@dataclass(frozen=True)
class TrustSnapshot:
    """The trust list as of ``checked_at`` (monotonic seconds), and each station by code."""

    fingerprint: tuple
    trust: TrustList
    stations: dict[str, Station]
    checked_at: float


class TrustCache:
    """One per app. Readers take :attr:`snapshot` as it is; a refresh replaces it whole, so a
    thread sees an old list or a new one, never half of one."""

    def __init__(self, max_age: float = TRUST_MAX_AGE):
        self.max_age = max_age
        self.snapshot: TrustSnapshot | None = None

    def current(self, cursor: Any, dialect: Dialect, *, recheck: bool = False) -> TrustSnapshot:
        """The trust list, re-checked against the key table if older than ``max_age`` (or
        ``recheck``) and rebuilt only if the table changed."""
        snap, now = self.snapshot, time.monotonic()
        if snap is not None and not recheck and now - snap.checked_at < self.max_age:
            return snap
        fingerprint = tuple(_query(dialect, "fingerprint").rows(cursor)[0])
        if snap is not None and snap.fingerprint == fingerprint:
            snap = replace(snap, checked_at=now)
        else:
            snap = _build(fingerprint, _query(dialect, "keys").rows(cursor), now)
        self.snapshot = snap
        return snap


def _build(fingerprint: tuple, rows: Iterable[tuple], now: float) -> TrustSnapshot:
    keys, stations = [], {}
    for kid, public_key, valid_from, valid_until, sid, code, name, city in rows:
        raw = base64.urlsafe_b64decode(public_key + "=" * (-len(public_key) % 4))
        keys.append(StationKey(kid=kid, station_code=code, valid_from=valid_from,
                               valid_until=valid_until,
                               public_key=Ed25519PublicKey.from_public_bytes(raw)))  # fmt: skip
        stations[code] = _station((sid, code, name, city))
    return TrustSnapshot(fingerprint, TrustList(keys), stations, now)


# --------------------------------------------------------------------------- recorded


def recorded_certificates(
    cursor: Any, dialect: Dialect, numbers: Sequence[str]
) -> dict[str, RecordedCertificate]:
    """The recorded certificates among ``numbers`` (at most a few hundred), with their station
    and revocation, from one query. The objects are detached copies for reading only."""
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    query = _query(dialect, "recorded", len(wanted))
    rows = query.rows(cursor, {f"n{i}": n for i, n in enumerate(wanted)})
    nc, ns = len(CERTIFICATE_COLUMNS), len(STATION_COLUMNS)
    found = {}
    for row in rows:
        certificate = Certificate.model_construct(
            **{c.name: v for c, v in zip(CERTIFICATE_COLUMNS, row[:nc], strict=True)}
        )
        station = _station(row[nc : nc + ns])
        revocation = None if row[nc + ns] is None else Revocation.model_construct(
            **{c.name: v for c, v in zip(REVOCATION_COLUMNS, row[nc + ns:], strict=True)})  # fmt: skip
        found[certificate.number] = RecordedCertificate(certificate, station, revocation)
    return found


@functools.lru_cache(maxsize=10_000)  # a province has hundreds of stations; a renamed one adds one
def _station(values: tuple) -> Station:
    """A detached read-only :class:`Station` of these (id, code, name, city) values, made once.

    Pydantic's ``model_construct`` fills the fields not given from their defaults, and for a
    ``default_factory`` (``created_at``) it inspects the factory's signature on every call:
    about a quarter of a one-token verification's CPU went there (1.19 → 0.90 ms in process).
    """
    return Station.model_construct(
        **{c.name: v for c, v in zip(STATION_COLUMNS, values, strict=True)}
    )
