"""The station's side of its link to the provincial registry, in the database.

* the ``sync_state`` row: registry URL, root key, newest verified trust list, feed cursor,
  clock offset, last success and last error, backoff (:func:`state`, :func:`save_enrollment`);
* applying a feed page (:func:`apply_feed`): revocations, trust-list updates, messages and
  bank releases are stored and the cursor moves **in the caller's one transaction**, so a
  crash replays at most an unapplied page, and applying twice changes nothing;
* what the offline verifier adds from the registry (:func:`with_registry`): other stations'
  keys and every revocation the province announced;
* the summary the CLI and the console show (:func:`status`).

Service rules: every function takes the session, may flush, never commits.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from certs import keys as key_tools
from certs import trust
from station.models import (
    BankReleaseStatus,
    OutboxRecord,
    RegistryBankRelease,
    RegistryMessage,
    RegistryRevocation,
    SyncState,
)
from station.models.common import utcnow
from station.services.errors import DomainError
from sync import protocol_keys
from sync.protocol import ProtocolError, parse_time
from sync.protocol_messages import FeedEvent

log = logging.getLogger(__name__)


class SyncError(DomainError):
    """Sync cannot go on: not enrolled, a feed the station cannot apply, a bad trust list."""


# --------------------------------------------------------------------------- the state row


def state(db: Session) -> SyncState:
    """The one ``sync_state`` row, made (unenrolled) on first use."""
    row = db.get(SyncState, 1)
    if row is None:
        row = SyncState(id=1)
        db.add(row)
        db.flush()
    return row


def peek(db: Session) -> SyncState | None:
    """The state row if there is one, without creating it (for read-only transactions)."""
    return db.get(SyncState, 1)


def is_enrolled(row: SyncState | None) -> bool:
    return bool(row and row.registry_url and row.root_public_pem and row.enrolled_at)


def require_enrolled(db: Session) -> SyncState:
    row = peek(db)
    if not is_enrolled(row):
        raise SyncError("本站尚未登记到省级平台：请先运行 `station enroll URL TOKEN`")
    return row  # type: ignore[return-value]


def root_public_key(row: SyncState):
    return key_tools.load_public_pem(row.root_public_pem)


def save_enrollment(db: Session, *, actor: str, registry_url: str, station_code: str,
                    root_kid: str, root_public_pem: str, signed_trust_list: dict,
                    trust_list: trust.TrustList, kids: Iterable[str],
                    offset: dt.timedelta, now: dt.datetime | None = None) -> SyncState:  # fmt: skip
    """Store what enrollment returned. Enrolling again with the same root keeps the feed
    cursor; a different root (another registry) starts the feed from the beginning."""
    now = now or utcnow()
    row = state(db)
    if row.root_kid and row.root_kid != root_kid:
        row.feed_cursor = ""
        row.trust_list = None
        row.trust_list_issued_at = None
    row.registry_url = registry_url
    row.station_code = station_code
    row.root_kid = root_kid
    row.root_public_pem = root_public_pem
    row.known_kids = sorted(set(row.known_kids or []) | set(kids))
    row.enrolled_at = now
    row.push_failures = row.pull_failures = 0
    row.push_backoff_until = row.pull_backoff_until = None
    _store_trust_list(row, signed_trust_list, trust_list)
    record_offset(row, offset, now)
    db.add(row)
    from station.services import audit

    audit.record(db, actor=actor, action="sync.enroll", subject=f"registry:{registry_url}",
                 data={"root_kid": root_kid, "station_code": station_code,
                       "keys": sorted(kids)})  # fmt: skip
    return row


def record_offset(row: SyncState, offset: dt.timedelta, now: dt.datetime) -> None:
    row.clock_offset = round(offset.total_seconds(), 3)
    row.offset_measured_at = now


def record_success(row: SyncState, *, what: str, now: dt.datetime) -> None:
    """A push or a pull got its answer: clear its failure count and backoff."""
    row.last_success_at = now
    if what == "push":
        row.last_push_at, row.push_failures, row.push_backoff_until = now, 0, None
    else:
        row.last_pull_at, row.pull_failures, row.pull_backoff_until = now, 0, None


def record_failure(row: SyncState, *, what: str, error: str, delay: dt.timedelta,
                   now: dt.datetime) -> dt.datetime:  # fmt: skip
    """A push or pull failed: remember the error and back off; return when to try again."""
    row.last_error = f"{what}: {error}"[:2000]
    row.last_error_at = now
    until = now + delay
    if what == "push":
        row.push_failures += 1
        row.push_backoff_until = until
    else:
        row.pull_failures += 1
        row.pull_backoff_until = until
    return until


def add_known_kid(row: SyncState, kid: str) -> None:
    if kid not in (row.known_kids or []):
        row.known_kids = sorted({*(row.known_kids or []), kid})


# --------------------------------------------------------------------------- trust


def _store_trust_list(row: SyncState, document: dict, parsed: trust.TrustList) -> bool:
    """Keep ``document`` if it is newer than the stored list; True when stored."""
    issued = parsed.issued_at
    current = row.trust_list_issued_at
    if current is not None and current.tzinfo is None:
        current = current.replace(tzinfo=dt.UTC)
    if current is not None and issued is not None and issued <= current:
        return False
    row.trust_list = dict(document)
    row.trust_list_issued_at = issued
    own = [k.kid for k in parsed.keys_of(row.station_code)] if row.station_code else []
    row.known_kids = sorted({*(row.known_kids or []), *own})
    return True


def registry_trust_list(db: Session) -> trust.TrustList | None:
    """The newest trust list verified with the registry's root key, if the station has one."""
    row = peek(db)
    if row is None or not row.trust_list:
        return None
    try:
        return trust.TrustList.from_dict(row.trust_list["trust_list"])
    except (trust.TrustListError, KeyError, TypeError) as exc:  # verified when stored
        log.error("stored registry trust list unreadable: %s", exc)
        return None


def with_registry(db: Session, own: trust.TrustList) -> trust.TrustList:
    """``own`` (the station's keys and revocation requests) plus what the registry published:
    other stations' keys from its trust list, its revocations and those in the feed.

    The station's own key entries win on a shared key id. A certificate revoked both here and
    at the registry shows the registry's revocation (the province's record).
    """
    listed = registry_trust_list(db)
    announced = list(db.exec(select(RegistryRevocation)))
    if listed is None and not announced:
        return own
    keys = dict(own.keys)
    revoked = dict(own.revocations)
    if listed is not None:
        for kid, key in listed.keys.items():
            keys.setdefault(kid, key)
        revoked.update(listed.revocations)
    for row in announced:
        revoked[row.number] = trust.Revocation(revoked_at=_aware(row.revoked_at),
                                               reason=row.reason)  # fmt: skip
    return trust.TrustList(keys.values(), revoked, issued_at=own.issued_at)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# --------------------------------------------------------------------------- the feed


def apply_feed(db: Session, events: Iterable[FeedEvent], *, cursor: str,
               now: dt.datetime | None = None) -> dict[str, int]:  # fmt: skip
    """Apply one page of feed events in order and move the cursor (caller's transaction).

    Idempotent: applying a page again changes nothing. A trust list that does not verify with
    the root key raises :class:`SyncError` and nothing of the page is kept.
    """
    now = now or utcnow()
    row = require_enrolled(db)
    counts: dict[str, int] = {}
    for event in events:
        _APPLY[event.kind](db, row, event, now)
        counts[event.kind] = counts.get(event.kind, 0) + 1
    row.feed_cursor = cursor
    db.add(row)
    db.flush()
    return counts


def _revocation(db: Session, row: SyncState, event: FeedEvent, now: dt.datetime) -> None:
    payload = event.payload
    number = payload["number"]
    if db.get(RegistryRevocation, number) is not None:
        return  # a revocation is final; replays change nothing
    db.add(RegistryRevocation(number=number, reason=payload["reason"],
                              revoked_at=parse_time("revoked_at", payload["revoked_at"]),
                              origin=payload.get("origin", ""), feed_seq=event.seq,
                              received_at=now))  # fmt: skip
    log.info("registry revoked %s (%s)", number, payload["reason"])


def _trust_list(db: Session, row: SyncState, event: FeedEvent, now: dt.datetime) -> None:
    try:
        parsed = protocol_keys.verify_signed_trust_list(
            event.payload, root_public_key(row), expected_kid=row.root_kid
        )
    except ProtocolError as exc:
        raise SyncError(
            f"省级平台发布的信任列表（事件 {event.seq}）未通过根密钥验证：{exc}"
        ) from None
    if not _store_trust_list(row, dict(event.payload), parsed):
        log.info("feed event %s: trust list of %s is not newer; ignored", event.seq,
                 parsed.issued_at)  # fmt: skip


def _message(db: Session, row: SyncState, event: FeedEvent, now: dt.datetime) -> None:
    if db.get(RegistryMessage, event.seq) is None:
        db.add(RegistryMessage(feed_seq=event.seq, title=event.payload["title"],
                               body=event.payload["body"], sent_at=event.at,
                               received_at=now))  # fmt: skip


def _bank_release(db: Session, row: SyncState, event: FeedEvent, now: dt.datetime) -> None:
    if db.get(RegistryBankRelease, event.seq) is not None:
        return
    p = event.payload
    db.add(RegistryBankRelease(feed_seq=event.seq, bank=p["bank"], version=str(p["version"]),
                               package_url=p["package_url"], sha256=p["sha256"],
                               release_code=p.get("release_code") or "", received_at=now))  # fmt: skip


_APPLY = {"revocation": _revocation, "trust_list": _trust_list, "message": _message,
          "bank_release": _bank_release}  # fmt: skip


# --------------------------------------------------------------------------- bank releases


def due_bank_releases(db: Session, now: dt.datetime) -> list[RegistryBankRelease]:
    """Releases still to import whose retry time has come, oldest first."""
    rows = db.exec(select(RegistryBankRelease)
                   .where(col(RegistryBankRelease.status) != BankReleaseStatus.IMPORTED)
                   .order_by(col(RegistryBankRelease.feed_seq)))  # fmt: skip
    return [r for r in rows if r.next_attempt_at is None or _aware(r.next_attempt_at) <= now]


# --------------------------------------------------------------------------- status


@dataclass
class Status:
    """What ``station sync status`` and the console's sync page show."""

    enrolled: bool
    registry_url: str
    backlog: int
    oldest_pending_at: dt.datetime | None
    oldest_pending_age: dt.timedelta | None
    last_success_at: dt.datetime | None
    last_push_at: dt.datetime | None
    last_pull_at: dt.datetime | None
    last_error: str
    last_error_at: dt.datetime | None
    clock_offset: float | None  # seconds the registry is ahead; None before any answer
    push_backoff_until: dt.datetime | None
    feed_cursor: str
    counts: dict[str, int]
    parked: list[OutboxRecord] = field(default_factory=list)
    messages: list[RegistryMessage] = field(default_factory=list)
    bank_releases: list[RegistryBankRelease] = field(default_factory=list)
    revocations: int = 0


def status(db: Session, *, now: dt.datetime | None = None, messages: int = 20) -> Status:
    from sqlmodel import func

    from sync import outbox

    now = now or utcnow()
    row = peek(db) or SyncState(id=1)
    count, oldest = outbox.backlog(db)
    counts = dict(db.exec(select(OutboxRecord.status, func.count()).group_by(OutboxRecord.status)).all())  # fmt: skip
    return Status(
        enrolled=is_enrolled(row), registry_url=row.registry_url, backlog=count,
        oldest_pending_at=oldest, oldest_pending_age=(now - oldest) if oldest else None,
        last_success_at=row.last_success_at, last_push_at=row.last_push_at,
        last_pull_at=row.last_pull_at, last_error=row.last_error, last_error_at=row.last_error_at,
        clock_offset=row.clock_offset if row.offset_measured_at else None,
        push_backoff_until=row.push_backoff_until, feed_cursor=row.feed_cursor,
        counts={str(getattr(k, "value", k)): v for k, v in counts.items()},
        parked=outbox.parked(db),
        messages=list(db.exec(select(RegistryMessage)
                              .order_by(col(RegistryMessage.feed_seq).desc()).limit(messages))),
        bank_releases=list(db.exec(select(RegistryBankRelease)
                                   .order_by(col(RegistryBankRelease.feed_seq).desc()).limit(20))),
        revocations=db.exec(select(func.count()).select_from(RegistryRevocation)).one(),
    )  # fmt: skip
