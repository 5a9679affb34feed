"""The pull feed: revocations, trust-list updates, messages and bank releases, in order.

Sequence numbers come from the ``feed_state`` row, updated (and so locked) by the transaction
that adds the event: events commit in sequence order, and a station's cursor can never jump
over an event that commits later. Lock order, everywhere: the log's row first, then this one.

A feed read takes ``last_seq`` first and returns only events up to it; the cursor it hands back
is the last event returned or, when nothing more is there for this station, ``last_seq``.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from question_bank.errors import PackageError
from question_bank.package import read_manifest_unverified
from question_bank.package_crypto import check_content_key, parse_release_code
from sync.registry.models import BankRelease, FeedEvent, FeedState, Station
from sync.registry.models_common import utcnow
from sync.registry.services import audit
from sync.registry.services.errors import InvalidInput, NotFound
from sync.registry.services.log import iso_utc

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
MAX_PACKAGE = 200 * 1024 * 1024


def add_events(
    session: Session, events: list[dict], *, actor: str, now: datetime | None = None
) -> list[FeedEvent]:
    """Append events (dicts with ``kind``, ``payload`` and optionally ``station_id``)."""
    if not events:
        return []
    now = now or utcnow()
    session.execute(
        update(FeedState).where(FeedState.id == 1).values(last_seq=FeedState.last_seq + len(events))
    )
    last = session.exec(select(FeedState.last_seq).where(FeedState.id == 1)).one()
    rows = [
        FeedEvent(
            seq=last - len(events) + 1 + i,
            kind=e["kind"],
            payload=e["payload"],
            station_id=e.get("station_id"),
            created_by=actor,
            created_at=now,
        )
        for i, e in enumerate(events)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def add_event(
    session: Session,
    *,
    kind: str,
    payload: dict,
    actor: str,
    station_id: int | None = None,
    now: datetime | None = None,
) -> FeedEvent:
    return add_events(
        session,
        [{"kind": kind, "payload": payload, "station_id": station_id}],
        actor=actor,
        now=now,
    )[0]


def parse_cursor(after: object) -> int:
    if after in (None, ""):
        return 0
    if not isinstance(after, str) or not after.isdigit() or len(after) > 18:
        raise InvalidInput(f"after: 游标应为非负整数，实际为 {after!r} (bad cursor)")
    return int(after)


def parse_limit(limit: object) -> int:
    if limit in (None, ""):
        return DEFAULT_LIMIT
    if not isinstance(limit, str) or not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise InvalidInput(f"limit: 应为 1–{MAX_LIMIT} 的整数，实际为 {limit!r} (bad limit)")
    return int(limit)


def event_dict(event: FeedEvent) -> dict:
    return {
        "seq": event.seq,
        "kind": event.kind,
        "at": iso_utc(event.created_at),
        "payload": event.payload,
    }


def feed_after(session: Session, *, station: Station, after: int, limit: int) -> dict:
    """Events for ``station`` (its own and the global ones) after the cursor, oldest first."""
    last = session.exec(select(FeedState.last_seq).where(FeedState.id == 1)).one()
    rows = list(
        session.exec(
            select(FeedEvent)
            .where(
                FeedEvent.seq > after,
                FeedEvent.seq <= last,
                or_(col(FeedEvent.station_id).is_(None), FeedEvent.station_id == station.id),
            )
            .order_by(FeedEvent.seq)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = rows[-1].seq if more else max(last, after)
    return {"next": str(cursor), "more": more, "events": [event_dict(e) for e in rows]}


# --------------------------------------------------------------------------- messages


def _text(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field}: 不能为空 (required)")
    value = value.replace("\r\n", "\n").strip()
    if len(value) > limit:
        raise InvalidInput(f"{field}: 超过 {limit} 个字符 (too long)")
    if any(unicodedata.category(c).startswith("C") and c != "\n" for c in value):
        raise InvalidInput(f"{field}: 含有控制字符 (control character)")
    return value


def send_message(
    session: Session,
    *,
    station: Station | None,
    title: str,
    body: str,
    actor: str,
    now: datetime | None = None,
) -> FeedEvent:
    """A message to one station (``station``) or to all (None)."""
    payload = {"title": _text("title", title, 100), "body": _text("body", body, 5000)}
    event = add_event(
        session,
        kind="message",
        payload=payload,
        actor=actor,
        now=now,
        station_id=station.id if station else None,
    )
    audit.record(session, actor=actor, action="station.message",
                 subject=f"station:{station.code}" if station else "station:*",
                 data={"title": payload["title"], "feed_seq": event.seq})  # fmt: skip
    return event


# --------------------------------------------------------------------------- bank releases


def package_path(release_id: int) -> str:
    return f"/api/v1/banks/{release_id}/package"


def publish_bank(
    session: Session,
    *,
    package: bytes,
    station: Station | None,
    release_code: str | None,
    actor: str,
    now: datetime | None = None,
) -> BankRelease:
    """Store a bank package (题库包) and announce it in the feed.

    The manifest is read (not its signature: stations check that against the issuers they
    trust). A ``release_code`` (the content key of an encrypted package) must unlock this
    package; it then travels only in the event for ``station`` — a code for every station
    is refused.
    """
    if not isinstance(package, bytes | bytearray) or not package:
        raise InvalidInput("package: 题库包为空 (empty file)")
    if len(package) > MAX_PACKAGE:
        raise InvalidInput(f"package: 题库包超过 {MAX_PACKAGE // 2**20} MiB (too large)")
    try:
        manifest = read_manifest_unverified(bytes(package))
    except PackageError as exc:
        raise InvalidInput(f"package: 不是有效的题库包：{exc}") from None
    code = release_code.strip() if release_code else None
    if code:
        if not manifest.encrypted:
            raise InvalidInput("release_code: 题库包未加密，无需发布密码 (package not encrypted)")
        if station is None:
            raise InvalidInput("release_code: 启用密码只能发给指定站点 (needs --station)")
        try:
            check_content_key(parse_release_code(code), manifest.encryption["key_check"])
        except PackageError as exc:
            raise InvalidInput(f"release_code: {exc}") from None
    now = now or utcnow()
    digest = hashlib.sha256(package).hexdigest()
    release = BankRelease(
        bank=manifest.bank,
        version=manifest.version,
        name=manifest.name,
        programme_code=str(manifest.programme.get("code", "")),
        level=manifest.level,
        encrypted=manifest.encrypted,
        sha256=digest,
        size=len(package),
        package=bytes(package),
        release_code=code,
        station_id=station.id if station else None,
        feed_seq=0,
        created_by=actor,
        created_at=now,
    )
    session.add(release)
    session.flush()
    payload = {
        "release": release.id,
        "bank": release.bank,
        "version": str(release.version),
        "name": release.name,
        "programme": release.programme_code,
        "level": release.level,
        "encrypted": release.encrypted,
        "package_url": package_path(release.id),
        "sha256": digest,
        "size": release.size,
        "release_code": code,
    }
    event = add_event(
        session,
        kind="bank_release",
        payload=payload,
        actor=actor,
        now=now,
        station_id=release.station_id,
    )
    release.feed_seq = event.seq
    session.add(release)
    session.flush()
    audit.record(session, actor=actor, action="bank.publish",
                 subject=f"bank:{release.bank}@{release.version}",
                 data={"release": release.id, "sha256": digest, "encrypted": release.encrypted,
                       "station": station.code if station else None,
                       "release_code": bool(code)})  # never the code itself  # fmt: skip
    return release


def bank_package(session: Session, *, release_id: int, station: Station) -> BankRelease:
    """A release ``station`` may download (its own or one for every station)."""
    release = session.get(BankRelease, release_id)
    if release is None or release.station_id not in (None, station.id):
        raise NotFound(f"release: 没有编号为 {release_id} 的题库发布 (no such release)")
    return release
