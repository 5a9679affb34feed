"""The station's sync client: enrollment, push, pull (``docs/sync-protocol.md``).

The entry points (``station enroll``, ``station sync now``, the scheduler jobs) call these:

* :func:`enroll` — ``POST /api/v1/enroll`` with the one-time token, every station key with its
  window, and the enrollment proof; stores the registry URL, its root key and the signed
  trust list (checked against that root key) in the ``sync_state`` row;
* :func:`push` — :mod:`sync.client_push`; :func:`pull` — :mod:`sync.client_pull`;
* :func:`sync_now` — push, then pull, ignoring any backoff (someone asked for it).

The modules behind it: :mod:`sync.client_http` (signed requests, clock offset, error kinds),
:mod:`sync.client_station` (station keys and context), :mod:`sync.outbox` (the queue).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from station import db as station_db
from station.models import SyncState
from station.services import keys as station_keys
from station.services import sync_state
from station.services.errors import DomainError
from sync.client_http import RegistryClient, RegistryRefused, TransportError, check_registry_url
from sync.client_pull import PullReport, pull
from sync.client_push import PushReport, push
from sync.client_station import RUN_LOCK, KeyRing, StationContext
from sync.protocol import ProtocolError
from sync.protocol_keys import EnrollRequest, parse_enroll_response

__all__ = [
    "RUN_LOCK",
    "EnrollResult",
    "PullReport",
    "PushReport",
    "StationContext",
    "enroll",
    "pull",
    "push",
    "sync_now",
]

log = logging.getLogger(__name__)

ENROLL_PATH = "/api/v1/enroll"


@dataclass(frozen=True)
class EnrollResult:
    registry_url: str
    root_kid: str
    kids: tuple[str, ...]
    stations: int  # stations in the trust list received
    clock_offset: dt.timedelta


def enroll(ctx: StationContext, url: str, token: str, *,
           now: dt.datetime | None = None) -> EnrollResult:  # fmt: skip
    """Enroll this station with the registry at ``url`` using a one-time ``token``.

    Raises :class:`DomainError` with the registry's reason (used or expired token, wrong
    station code …) or the network error; nothing is stored then.
    """
    try:
        url = check_registry_url(url)
    except ValueError as exc:
        raise DomainError(str(exc)) from None
    token = "".join((token or "").split())
    if not token:
        raise DomainError("token: 请提供省级平台签发的一次性注册令牌")
    with station_db.transaction(ctx.engine, write=False) as s:
        ring = KeyRing(station_keys.all_keys(s), ctx.passphrase)
    active = ring.for_requests(SyncState(id=1))
    keys = ring.trust_keys(ctx.station_code)
    try:
        request = EnrollRequest.build(token=token, station_code=ctx.station_code,
                                      station_name=ctx.station_name, keys=keys,
                                      active_private_key=ring.private(active.kid))  # fmt: skip
        client = RegistryClient(url, timeout=ctx.timeout)
        reply = client.call("POST", ENROLL_PATH, body=request.to_dict())
        response = parse_enroll_response(reply.body)
        listed = response.trust_list()
    except RegistryRefused as exc:
        raise DomainError(f"省级平台拒绝登记（{exc.code}）：{exc.message}") from None
    except TransportError as exc:
        raise DomainError(str(exc)) from None
    except ProtocolError as exc:
        raise DomainError(f"省级平台的登记应答无效：{exc}") from None
    mine = {k.kid for k in listed.keys_of(ctx.station_code)}
    missing = sorted({k.kid for k in keys} - mine)
    if missing:
        raise DomainError(f"省级平台的信任列表中没有本站的密钥 {', '.join(missing)}：登记未完成")
    from certs import keys as key_tools

    with station_db.transaction(ctx.engine) as s:
        sync_state.save_enrollment(
            s, actor=ctx.actor, registry_url=url, station_code=ctx.station_code,
            root_kid=response.root_kid,
            root_public_pem=key_tools.public_pem(response.root_public_key),
            signed_trust_list=dict(response.signed_trust_list), trust_list=listed,
            kids=[k.kid for k in keys], offset=client.offset, now=now,
        )  # fmt: skip
    log.info("enrolled with %s (root key %s)", url, response.root_kid)
    return EnrollResult(url, response.root_kid, tuple(k.kid for k in keys),
                        len({k.station_code for k in listed.keys.values()}), client.offset)  # fmt: skip


def sync_now(ctx: StationContext) -> tuple[PushReport, PullReport]:
    """Push everything pending, then pull the feed; backoff does not apply."""
    with RUN_LOCK:
        return push(ctx, force=True), pull(ctx, force=True)
