"""Background jobs in the station process (APScheduler): the nightly database backup, the
session clock that opens check-in and starts exams on time, and sync with the registry (push
the outbox every 30 s when there is a backlog, pull the feed every 60 s).

Each job is an entry point and owns its transaction.
"""

from __future__ import annotations

import logging
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from station import db
from station.models.common import utcnow
from station.services import attempts, audit, backup, lifecycle, sync_state
from station.services.errors import DomainError
from sync import outbox

log = logging.getLogger(__name__)


def nightly_backup(app: Flask) -> Path:
    with app.app_context():
        path = backup.create_backup(
            Path(app.config["DATABASE_PATH"]),
            backup.backup_dir(Path(app.instance_path)),
            keep=app.config["BACKUP_KEEP"],
        )
        with db.transaction() as session:
            audit.record(session, actor="system", action="backup.create", subject=path.name)
        log.info("nightly backup written to %s", path)
        return path


def session_clock(app: Flask, now=None) -> list[str]:
    """Move every session whose time has come; each move is its own transaction."""
    moved = []
    with app.app_context():
        with db.transaction() as session:
            due = lifecycle.due_transitions(session, now or utcnow())
        for code, state in due:
            try:
                with db.transaction() as session:
                    lifecycle.transition(session, actor="system", session_code=code, to=state,
                                        reason="scheduled time reached", now=now)  # fmt: skip
                moved.append(f"{code}:{state.value}")
            except DomainError as exc:
                # Not ready (e.g. staff missing): leave it for the console to show and fix.
                log.warning("session %s not moved to %s: %s", code, state.value, exc)
    return moved


def exam_clock(app: Flask, now=None) -> int:
    """Heartbeat (so a restart knows how long the station was down) and submit at deadlines."""
    now = now or utcnow()
    with app.app_context():
        with db.transaction(write=False) as session:  # finding nothing due must not block saves
            due = attempts.due_attempt_ids(session, now)
        with db.transaction() as session:
            attempts.heartbeat(session, now)
            return attempts.expire_due(session, now, ids=due)


def recover_clock(app: Flask, now=None) -> float:
    """At start-up: running exams do not lose the time the station was down."""
    with app.app_context(), db.transaction() as session:
        down = attempts.compensate_downtime(session, now or utcnow())
    if down > 1:
        log.warning("station was down for %.0f s; running exams were given that time back", down)
    return down


def sync_push(app: Flask, now=None):
    """Push the outbox when there is a backlog and no backoff is running.

    Skipped while another sync run holds the process's sync lock (push and pull never
    overlap); each batch is its own transaction (``sync.client_push``).
    """
    from sync import client

    with app.app_context():
        with db.transaction(write=False) as session:
            enrolled = sync_state.is_enrolled(sync_state.peek(session))
            backlog = outbox.backlog(session)[0] if enrolled else 0
        if not backlog or not client.RUN_LOCK.acquire(blocking=False):
            return None
        try:
            return client.push(client.StationContext.from_app(app), now=now)
        finally:
            client.RUN_LOCK.release()


def sync_pull(app: Flask, now=None):
    """Read the registry's feed (revocations, trust lists, messages, bank releases)."""
    from sync import client

    with app.app_context():
        with db.transaction(write=False) as session:
            if not sync_state.is_enrolled(sync_state.peek(session)):
                return None
        if not client.RUN_LOCK.acquire(blocking=False):
            return None
        try:
            return client.pull(client.StationContext.from_app(app), now=now)
        finally:
            client.RUN_LOCK.release()


def start_scheduler(app: Flask, *, housekeeping: bool = True) -> BackgroundScheduler:
    """The exam clock always runs (time must be right); ``housekeeping`` adds backups and the
    session clock."""
    scheduler = BackgroundScheduler(timezone=app.config["BABEL_DEFAULT_TIMEZONE"])
    scheduler.add_job(exam_clock, "interval", seconds=2, args=[app], id="exam-clock",
                      replace_existing=True, coalesce=True, max_instances=1)  # fmt: skip
    if housekeeping:
        scheduler.add_job(
            nightly_backup,
            CronTrigger(hour=app.config["BACKUP_HOUR"], minute=0),
            args=[app],
            id="nightly-backup",
            replace_existing=True,
            coalesce=True,  # after a night switched off, one backup, not a backlog
            misfire_grace_time=6 * 3600,
        )
        scheduler.add_job(session_clock, "interval", seconds=30, args=[app], id="session-clock",
                          replace_existing=True, coalesce=True, max_instances=1)  # fmt: skip
        if app.config.get("SYNC_ENABLED", True):
            scheduler.add_job(sync_push, "interval", seconds=30, args=[app], id="sync-push",
                              replace_existing=True, coalesce=True, max_instances=1)  # fmt: skip
            scheduler.add_job(sync_pull, "interval", seconds=60, args=[app], id="sync-pull",
                              replace_existing=True, coalesce=True, max_instances=1)  # fmt: skip
    scheduler.start()
    return scheduler
