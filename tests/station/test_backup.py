"""Backups are consistent copies of the live database; restore checks before it replaces."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlmodel import select

from station import db
from station.jobs import nightly_backup
from station.models import StaffUser
from station.services import backup
from station.services.errors import BackupError


def _usernames(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT username FROM staff_user")}
    finally:
        conn.close()


def test_backup_copies_committed_data_while_a_writer_is_busy(app, instance, create_user):
    create_user("before")
    # A writer holds an open transaction with uncommitted work during the backup.
    with app.app_context(), db.transaction() as s:
        s.add(StaffUser(username="uncommitted", display_name="x", password_hash="x"))
        s.flush()
        path = backup.create_backup(Path(app.config["DATABASE_PATH"]), instance / "backups")
        s.rollback()
    assert _usernames(path) == {"before"}
    backup.check_database(path)


def test_cli_backup_prints_the_file_and_audits(app, runner):
    result = runner.invoke(args=["backup"])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path.exists()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_backups_keep_the_newest_n(app, instance):
    database = Path(app.config["DATABASE_PATH"])
    made = [backup.create_backup(database, instance / "backups", keep=3) for _ in range(5)]
    kept = backup.list_backups(instance / "backups")
    assert kept == made[-3:]


def test_nightly_job_writes_a_backup_and_audits_it(app, instance):
    path = nightly_backup(app)
    assert path.exists()
    with app.app_context(), db.transaction() as s:
        from station.models import AuditEntry

        actions = s.exec(select(AuditEntry.action)).all()
    assert "backup.create" in actions


def test_scheduler_registers_the_nightly_backup(app):
    from station.jobs import start_scheduler

    scheduler = start_scheduler(app)
    try:
        job = scheduler.get_job("nightly-backup")
        assert job is not None
        assert job.next_run_time.hour == app.config["BACKUP_HOUR"]
    finally:
        scheduler.shutdown(wait=False)


def test_restore_puts_a_backup_back(app, runner, create_user, instance):
    create_user("kept")
    made = runner.invoke(args=["backup"])
    path = Path(made.output.strip())
    create_user("added-later")
    restored = runner.invoke(args=["restore", str(path), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert "previous database saved as" in restored.output
    assert _usernames(Path(app.config["DATABASE_PATH"])) == {"kept"}
    listed = runner.invoke(args=["users", "list"])
    assert "kept" in listed.output and "added-later" not in listed.output
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_restore_refuses_a_file_that_is_not_a_station_database(app, runner, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all")
    result = runner.invoke(args=["restore", str(junk), "--yes"])
    assert result.exit_code == 1
    assert "不是 SQLite 数据库文件" in result.output
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(BackupError, match="不是站点数据库"):
        backup.check_database(other)


def test_restore_refuses_a_corrupt_backup(app, instance, tmp_path):
    path = backup.create_backup(Path(app.config["DATABASE_PATH"]), instance / "backups")
    data = bytearray(path.read_bytes())
    page = 4096
    data[page * 2 : page * 2 + 200] = b"\xff" * 200  # scribble over a b-tree page
    broken = tmp_path / "broken.db"
    broken.write_bytes(bytes(data))
    with pytest.raises(BackupError):
        backup.check_database(broken)


def test_restore_refuses_while_the_station_runs(app, runner, instance):
    from station.instance_lock import InstanceLock

    made = Path(runner.invoke(args=["backup"]).output.strip())
    with InstanceLock(instance):  # what `station run` holds while it serves
        result = runner.invoke(args=["restore", str(made), "--yes"])
    assert result.exit_code == 1
    assert "请先停止站点" in result.output
    assert runner.invoke(args=["restore", str(made), "--yes"]).exit_code == 0
