"""The audit log is append-only and hash-chained: any edited or deleted row is detected."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError

from station import db
from station.services import audit


def _append(app, n: int) -> None:
    with app.app_context(), db.transaction() as s:
        for i in range(n):
            audit.record(s, actor="tester", action="test.event", subject=f"thing:{i}",
                         reason="because", data={"i": i, "名称": "值"})  # fmt: skip


def _raw(app) -> sqlite3.Connection:
    conn = sqlite3.connect(app.config["DATABASE_PATH"])
    # Anyone holding the file can drop the triggers; verify must still catch the change.
    conn.execute("DROP TRIGGER audit_entry_no_update")
    conn.execute("DROP TRIGGER audit_entry_no_delete")
    return conn


def _verify(app):
    with app.app_context(), db.transaction() as s:
        return audit.verify(s)


def test_fresh_chain_verifies(app):
    _append(app, 5)
    report = _verify(app)
    assert report.ok, report.problems
    assert report.entries >= 5


def test_database_refuses_updates_and_deletes(app):
    _append(app, 1)
    for statement in ("UPDATE audit_entry SET reason = 'x'", "DELETE FROM audit_entry"):
        with (
            app.app_context(),
            db.transaction() as s,
            pytest.raises(DBAPIError, match="append-only"),
        ):
            s.connection().exec_driver_sql(statement)


def test_edited_entry_is_detected(app):
    _append(app, 5)
    conn = _raw(app)
    conn.execute("UPDATE audit_entry SET reason = 'changed' WHERE seq = 3")
    conn.commit()
    report = _verify(app)
    assert not report.ok
    assert any("第 3 条记录内容被修改" in p for p in report.problems)


def test_edited_data_is_detected(app):
    _append(app, 3)
    conn = _raw(app)
    conn.execute("""UPDATE audit_entry SET data = '{"i": 99}' WHERE seq = 2""")
    conn.commit()
    assert any("第 2 条" in p for p in _verify(app).problems)


def test_deleted_middle_entry_is_detected(app):
    _append(app, 5)
    conn = _raw(app)
    conn.execute("DELETE FROM audit_entry WHERE seq = 2")
    conn.commit()
    problems = _verify(app).problems
    assert any("缺失" in p for p in problems)


def test_deleted_newest_entry_is_detected(app):
    _append(app, 5)
    conn = _raw(app)
    last = conn.execute("SELECT max(seq) FROM audit_entry").fetchone()[0]
    conn.execute("DELETE FROM audit_entry WHERE seq = ?", (last,))
    conn.commit()
    assert any("newest entries deleted" in p for p in _verify(app).problems)


def test_rehashed_forgery_is_detected_by_the_next_link(app):
    """Rewriting an entry and its own hash still breaks the next entry's link."""
    _append(app, 4)
    conn = _raw(app)
    conn.execute("UPDATE audit_entry SET hash = 'deadbeef' || substr(hash, 9) WHERE seq = 2")
    conn.commit()
    problems = _verify(app).problems
    assert any("第 2 条记录内容被修改" in p for p in problems)
    assert any("第 3 条记录的前序哈希不符" in p for p in problems)


def test_cli_verify_exit_status(app, runner):
    _append(app, 2)
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    conn = _raw(app)
    conn.execute("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 1")
    conn.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert "BROKEN" in broken.output


def test_rolled_back_transaction_leaves_no_entry_and_no_gap(app):
    with app.app_context(), pytest.raises(RuntimeError), db.transaction() as s:
        audit.record(s, actor="x", action="will.rollback")
        raise RuntimeError("boom")
    _append(app, 1)
    assert _verify(app).ok
