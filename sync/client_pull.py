"""Pull: read the registry's feed after the stored cursor and apply it, page by page.

Each page is applied and its cursor stored in one transaction
(:func:`station.services.sync_state.apply_feed`), so a crash replays at most one page and
applying is idempotent. An event kind this station does not know stops the pull (the protocol
says: upgrade, never skip); so does a trust list the root key did not sign.

Bank releases are only recorded while the page is applied; afterwards each due release is
downloaded (a signed request to the same registry), checked against its SHA-256 and imported
with :func:`station.services.banks.import_bank` (signed packages only; an encrypted one is
unlocked with the release code the event carried), each in its own transaction. A release that
cannot be imported yet — typically because the issuer's key is not trusted here — is kept with
its error and retried with backoff, without holding up the feed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field

from station import db as station_db
from station.models import BankReleaseStatus, RegistryBankRelease
from station.models.common import utcnow
from station.services import banks, sync_state
from station.services import keys as station_keys
from station.services.errors import DomainError
from sync.client_http import RegistryClient, RegistryRefused, TransportError, backoff_delay
from sync.client_station import KeyRing, StationContext, client_for, hold_reason
from sync.protocol import ProtocolError
from sync.protocol_messages import FEED_DEFAULT_LIMIT, parse_feed_response

log = logging.getLogger(__name__)

FEED_PATH = "/api/v1/sync/feed"
BANK_RETRY_CAP = dt.timedelta(hours=1)


@dataclass
class PullReport:
    pages: int = 0
    applied: dict[str, int] = field(default_factory=dict)
    cursor: str = ""
    banks_imported: list[str] = field(default_factory=list)
    banks_failed: list[str] = field(default_factory=list)
    error: str = ""
    skipped: str = ""
    retry_at: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.error


def pull(ctx: StationContext, *, force: bool = False, max_pages: int = 1000,
         limit: int = FEED_DEFAULT_LIMIT, now: dt.datetime | None = None) -> PullReport:  # fmt: skip
    """Read and apply the feed until it has no more, then import due bank releases."""
    report = PullReport()
    when = now or utcnow()
    with station_db.transaction(ctx.engine, write=False) as s:
        state = sync_state.peek(s)
        until = state.pull_backoff_until if state is not None else None
        if held := hold_reason(state, until, when, force=force):
            report.skipped = held
            report.retry_at = until if sync_state.is_enrolled(state) else None
            return report
        ring = KeyRing(station_keys.all_keys(s), ctx.passphrase)
    client: RegistryClient | None = None
    try:
        client = client_for(ctx, state, ring)  # type: ignore[arg-type]
        cursor = state.feed_cursor  # type: ignore[union-attr]
        for _ in range(max_pages):
            params = {"limit": str(limit)} | ({"after": cursor} if cursor else {})
            reply = client.call("GET", FEED_PATH, params=params)
            page = parse_feed_response(reply.body)
            with station_db.transaction(ctx.engine) as s:
                counts = sync_state.apply_feed(s, page.events, cursor=page.next, now=when)
                row = sync_state.state(s)
                sync_state.record_success(row, what="pull", now=when)
                if client.offset_measured:
                    sync_state.record_offset(row, client.offset, when)
                s.add(row)
            report.pages += 1
            for kind, n in counts.items():
                report.applied[kind] = report.applied.get(kind, 0) + n
            cursor = report.cursor = page.next
            if not page.more:
                break
    except (TransportError, RegistryRefused, ProtocolError, DomainError) as exc:
        _failed(ctx, exc, client, report, when)
        return report
    import_bank_releases(ctx, client, report, now=when)
    return report


def _message(exc: Exception) -> str:
    if isinstance(exc, ProtocolError):
        return f"省级平台的数据无法处理（{exc}）；如提示未知事件类型，请升级站点软件"
    return exc.message if isinstance(exc, DomainError) else str(exc)


def _failed(ctx: StationContext, exc: Exception, client: RegistryClient | None,
            report: PullReport, now: dt.datetime) -> None:  # fmt: skip
    message = _message(exc)
    with station_db.transaction(ctx.engine) as s:
        row = sync_state.state(s)
        delay = backoff_delay(row.pull_failures + 1)
        until = sync_state.record_failure(row, what="pull", error=message, delay=delay, now=now)
        if client is not None and client.offset_measured:
            sync_state.record_offset(row, client.offset, now)
        s.add(row)
    log.warning("sync pull failed (next try after %s): %s", until.isoformat(), message)
    report.error, report.retry_at = message, until


# --------------------------------------------------------------------------- bank releases


def import_bank_releases(ctx: StationContext, client: RegistryClient, report: PullReport, *,
                         now: dt.datetime) -> None:  # fmt: skip
    with station_db.transaction(ctx.engine, write=False) as s:
        due = sync_state.due_bank_releases(s, now)
    for release in due:
        label = f"{release.bank} v{release.version}"
        try:
            data = _download(client, release)
            with station_db.transaction(ctx.engine) as s:
                _import(s, ctx, release, data, now)
            report.banks_imported.append(label)
            log.info("bank release %s (feed event %s) imported", label, release.feed_seq)
        except (TransportError, RegistryRefused, DomainError) as exc:
            message = exc.message if isinstance(exc, DomainError) else str(exc)
            if isinstance(exc, DomainError) and exc.details:
                message += "：" + "；".join(exc.details)
            with station_db.transaction(ctx.engine) as s:
                row = s.get(RegistryBankRelease, release.feed_seq)
                row.attempts += 1
                row.status = BankReleaseStatus.FAILED
                row.error = message[:2000]
                row.next_attempt_at = now + backoff_delay(row.attempts, cap=BANK_RETRY_CAP)
                s.add(row)
            report.banks_failed.append(f"{label}: {message}")
            log.warning("bank release %s not imported (will retry): %s", label, message)


def _download(client: RegistryClient, release: RegistryBankRelease) -> bytes:
    reply = client.call("GET", release.package_url, raw=True)
    data = reply.body
    if not isinstance(data, bytes):
        raise TransportError(f"题库包下载失败：应答不是文件 ({release.package_url})")
    digest = hashlib.sha256(data).hexdigest()
    if digest != release.sha256:
        raise DomainError(f"题库包 {release.bank} v{release.version} 的 SHA-256 为 {digest}，"
                          f"与发布公告的 {release.sha256} 不符：文件损坏或被篡改")  # fmt: skip
    return data


def _import(s, ctx: StationContext, release: RegistryBankRelease, data: bytes,
            now: dt.datetime) -> None:  # fmt: skip
    from question_bank.importers import detect_format

    name = f"{release.bank}-v{release.version}.zip"
    try:
        kind = detect_format(name, data)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is refused below
        kind = f"unreadable ({exc})"
    if kind != "package":
        raise DomainError(f"省级平台发布的 {name} 不是签名题库包（{kind}），拒绝导入")
    summary = banks.import_bank(s, actor=ctx.actor, filename=name, data=data)
    version = banks.get_version(s, banks.get_bank(s, summary.bank), summary.version)
    if version.locked and release.release_code:
        banks.unlock(s, actor=ctx.actor, bank_version_id=version.id,
                     release_code=release.release_code)  # fmt: skip
    row = s.get(RegistryBankRelease, release.feed_seq)
    row.status = BankReleaseStatus.IMPORTED
    row.release_code = ""  # the bank is open now; the code is not kept
    row.error = ""
    row.imported_at = now
    row.attempts += 1
    s.add(row)
