"""Background jobs in the station process (APScheduler): the nightly database backup.

Each job is an entry point and owns its transaction.
"""

from __future__ import annotations

import logging
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from station import db
from station.services import audit, backup

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


def start_scheduler(app: Flask) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=app.config["BABEL_DEFAULT_TIMEZONE"])
    scheduler.add_job(
        nightly_backup,
        CronTrigger(hour=app.config["BACKUP_HOUR"], minute=0),
        args=[app],
        id="nightly-backup",
        replace_existing=True,
        coalesce=True,  # after a night switched off, one backup, not a backlog
        misfire_grace_time=6 * 3600,
    )
    scheduler.start()
    return scheduler
