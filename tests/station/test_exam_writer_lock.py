"""The process's write turn (``station.db``) ends only after SQLite has finished the transaction.

SQLAlchemy's ``commit`` event fires before the COMMIT reaches SQLite; a turn released there let
the next writer in while the commit was still being written, to meet SQLite's own lock instead.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from station import db


def _lock(app):
    return db._WRITER_LOCKS[app.extensions["station_engine"]]


def _trace_commits(session, seen: list, lock, on_commit=None) -> None:
    """Note, as SQLite starts each COMMIT/ROLLBACK on this session's connection, whether the
    write turn is still held; ``on_commit`` runs there too (a slow disk, say)."""
    raw = session.connection().connection.dbapi_connection

    def trace(statement: str) -> None:
        word = statement.strip().split()[0].upper()
        if word in ("COMMIT", "ROLLBACK"):
            seen.append((word, lock.locked()))
            if on_commit is not None and word == "COMMIT":
                on_commit()

    raw.set_trace_callback(trace)


def _write(session) -> None:
    session.execute(text("INSERT INTO station_clock (id, alive_at) VALUES (1, '2026-01-01') "
                         "ON CONFLICT (id) DO UPDATE SET alive_at = excluded.alive_at"))  # fmt: skip


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_the_write_turn_is_held_until_sqlite_has_finished(app, outcome):
    lock, seen = _lock(app), []
    with app.app_context():
        with db.transaction() as s:
            _write(s)
            assert lock.locked()
            _trace_commits(s, seen, lock)
            if outcome == "rollback":
                s.rollback()
        assert seen == [(outcome.upper(), True)]  # SQLite got the statement inside the turn
        assert not lock.locked()  # ... and the turn ended right after


def test_a_failed_transaction_gives_the_turn_back(app):
    lock = _lock(app)
    with app.app_context():
        with pytest.raises(RuntimeError), db.transaction() as s:
            _write(s)
            raise RuntimeError("boom")
        assert not lock.locked()
        with db.transaction() as s:  # and the next writer gets in
            _write(s)


def test_the_next_writer_never_meets_sqlites_lock(app):
    """A commit that takes a while (slow fsync): a writer queued behind it starts its BEGIN
    IMMEDIATE only once SQLite's lock is free, so even with no busy timeout at all it never
    sees 'database is locked'."""
    lock, seen = _lock(app), []
    queued, result = threading.Event(), {}

    def second_writer():
        with app.app_context():
            engine = db.engine()
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA busy_timeout=0")  # fail at once instead of waiting
            queued.set()
            try:
                with db.transaction() as s:
                    _write(s)
                result["ok"] = True
            except Exception as exc:  # noqa: BLE001 - what it met is the test's answer
                result["error"] = exc

    def slow_commit():
        thread.start()
        assert queued.wait(5)
        time.sleep(0.3)  # the second writer is now waiting for the turn

    thread = threading.Thread(target=second_writer)
    with app.app_context(), db.transaction() as s:
        _write(s)
        _trace_commits(s, seen, lock, on_commit=slow_commit)
    thread.join(10)
    assert seen == [("COMMIT", True)]
    assert result == {"ok": True}, result.get("error")
    assert not lock.locked()


def test_sqlite_would_refuse_a_writer_let_in_early(app):
    """The premise of the test above: while a COMMIT is under way, a second BEGIN IMMEDIATE
    with no busy timeout fails, so that test could fail."""
    path = app.config["DATABASE_PATH"]
    first = sqlite3.connect(path, isolation_level=None)
    second = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        first.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            second.execute("BEGIN IMMEDIATE")
        first.execute("COMMIT")
        second.execute("BEGIN IMMEDIATE")
        second.execute("COMMIT")
    finally:
        first.close()
        second.close()
