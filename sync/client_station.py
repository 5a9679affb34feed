"""What the sync client needs from the station: its database, identity, keys, and one lock.

:class:`StationContext` is built from the Flask app (jobs, CLI, console) or by hand (tests);
the client functions take it instead of the app so that they run the same way everywhere.

Keys. A record is signed with the key that was the station's signing key when the record was
made (its validity window at the registry covers the record's date); a request is signed with
the newest key the registry already knows (enrolled, or announced by an accepted
``station_key`` record). After a rotation, the ``station_key`` record goes out, signed by the
old key, before anything the new key signed — outbox order guarantees it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from certs import keys as key_tools
from certs.trust import StationKey as TrustKey
from station.models import StationKey, SyncState
from station.services.certificates import local_date
from station.services.errors import DomainError
from sync.client_http import DEFAULT_TIMEOUT, RegistryClient

#: One sync run at a time in this process (the push job, the pull job, the console).
RUN_LOCK = threading.Lock()


@dataclass(frozen=True)
class StationContext:
    engine: Engine
    station_code: str
    station_name: str
    passphrase: str
    actor: str = "sync"
    timeout: tuple[float, float] = DEFAULT_TIMEOUT

    @classmethod
    def from_app(cls, app, *, actor: str = "sync") -> StationContext:
        from station import config as station_config

        return cls(engine=app.extensions["station_engine"],
                   station_code=app.config["STATION_CODE"],
                   station_name=app.config["STATION_NAME"],
                   passphrase=station_config.key_passphrase(app.config), actor=actor)  # fmt: skip


@dataclass
class KeyRing:
    """The station's keys (oldest first), unlocked on demand and cached for one run."""

    rows: Sequence[StationKey]
    passphrase: str
    _private: dict[str, Ed25519PrivateKey] = field(default_factory=dict)

    def private(self, kid: str) -> Ed25519PrivateKey:
        if kid not in self._private:
            row = next((r for r in self.rows if r.kid == kid), None)
            if row is None:
                raise DomainError(f"站点没有编号为 {kid} 的密钥")
            try:
                self._private[kid] = key_tools.load_private_pem(row.private_pem, self.passphrase)
            except key_tools.KeyLoadError as exc:
                raise DomainError(f"无法解锁站点签名密钥 {kid}：{exc}") from None
        return self._private[kid]

    def for_record(self, created_at: dt.datetime) -> StationKey:
        """The key that was signing when a record was made (its window covers the date).

        ``created_at`` is cut to whole seconds, so a record made in the second of a rotation
        may fall just before the new key's start: it then gets the old key, which the registry
        knows and which stays valid through the rotation date.
        """
        if not self.rows:
            raise DomainError("站点没有签名密钥：请先运行 `station init`")
        day = local_date(created_at)
        valid = [r for r in self.rows if valid_from(r) <= day
                 and (r.not_after is None or day <= local_date(r.not_after))]  # fmt: skip
        started = [r for r in valid if r.not_before <= created_at]
        if started:
            return started[-1]
        return valid[0] if valid else self.rows[-1]

    def for_requests(self, state: SyncState) -> StationKey:
        """The newest key the registry knows (else the active one, e.g. at enrollment)."""
        known = set(state.known_kids or [])
        usable = [r for r in self.rows if r.kid in known]
        if usable:
            return usable[-1]
        active = [r for r in self.rows if r.active]
        if not active:
            raise DomainError("站点没有签名密钥：请先运行 `station init`")
        return active[-1]

    def trust_keys(self, station_code: str) -> list[TrustKey]:
        """Every key with its window, as enrollment announces them."""
        return [TrustKey(kid=r.kid, station_code=station_code,
                         public_key=key_tools.load_public_pem(r.public_pem),
                         valid_from=valid_from(r),
                         valid_until=local_date(r.not_after) if r.not_after else None)
                for r in self.rows]  # fmt: skip


def valid_from(row: StationKey) -> dt.date:
    return local_date(row.not_before)


def client_for(ctx: StationContext, state: SyncState, ring: KeyRing,
               http: requests.Session | None = None) -> RegistryClient:  # fmt: skip
    """A client for the enrolled registry, signing with the newest key it knows (``http``:
    a session to reuse, so that a run of batches keeps its connection)."""
    key = ring.for_requests(state)
    return RegistryClient(state.registry_url, station_code=ctx.station_code, kid=key.kid,
                          private_key=ring.private(key.kid),
                          offset=dt.timedelta(seconds=state.clock_offset or 0),
                          timeout=ctx.timeout, http=http)  # fmt: skip


def hold_reason(state: SyncState | None, until: dt.datetime | None, when: dt.datetime, *,
                force: bool) -> str | None:  # fmt: skip
    """Why a push or pull should not run now (not enrolled, or its backoff is running), or None.
    ``force`` (an operator's `station sync now`) ignores the backoff."""
    from station.services import sync_state

    if not sync_state.is_enrolled(state):
        return "not enrolled"
    if not force and until is not None and until > when:
        return f"backing off until {until.isoformat()}"
    return None
