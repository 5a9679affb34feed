"""`station init` builds an instance with its database, config and key, and is safe to repeat."""

from __future__ import annotations

import sqlite3

from sqlmodel import select

from station import create_app, db
from station.models import StationKey


def test_init_creates_everything_and_is_idempotent(tmp_path):
    instance = tmp_path / "site"
    app = create_app({"TESTING": True}, instance_path=str(instance))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init", "--code", "110101", "--name", "测试站"])
    assert first.exit_code == 0, first.output
    assert "signing key" in first.output
    assert (instance / "config.py").exists()
    assert oct((instance / "config.py").stat().st_mode & 0o777) == "0o600"
    second = runner.invoke(args=["init"])
    assert second.exit_code == 0, second.output
    assert "nothing to do" in second.output
    with app.app_context(), db.transaction() as s:
        keys = s.exec(select(StationKey)).all()
    assert len(keys) == 1
    assert "ENCRYPTED PRIVATE KEY" in keys[0].private_pem
    app.extensions["station_engine"].dispose()


def test_database_uses_durable_pragmas(app):
    with app.app_context(), db.engine().connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_schema_comes_from_migrations(app):
    conn = sqlite3.connect(app.config["DATABASE_PATH"])
    (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    assert revision
    assert {"audit_entry_no_update", "audit_entry_no_delete"} <= triggers


def test_private_key_opens_only_with_the_passphrase(app):
    import pytest

    from certs import keys
    from station.config import key_passphrase

    with app.app_context(), db.transaction() as s:
        row = s.exec(select(StationKey)).one()
    key = keys.load_private_pem(row.private_pem, key_passphrase(app.config))
    assert keys.key_id(key.public_key(), prefix="st-") == row.kid
    with pytest.raises(keys.KeyLoadError):
        keys.load_private_pem(row.private_pem, "wrong passphrase")
