"""The station's SQLite database: engine with durability pragmas, sessions, migrations.

Each entry point (view, CLI command, scheduler job) owns one transaction: views get a session
from :func:`get_session` that is committed by :func:`commit` or rolled back at teardown; CLI
commands and jobs use :func:`transaction`.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, create_engine, event, inspect
from sqlmodel import Session

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(path: Path | str) -> Engine:
    """An engine for the SQLite file at ``path`` with the pragmas DESIGN.md asks for."""
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=20,
        max_overflow=20,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged answer or score survives power loss, not only a crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    # One process owns the file, so its writers queue on a lock of its own: they wake in turn
    # instead of polling in SQLite's busy handler (which sleeps up to 100 ms at a time).
    writer = threading.Lock()
    _WRITER_LOCKS[engine] = writer

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # A transaction that will write takes the write lock up front (BEGIN IMMEDIATE): a
        # deferred one that reads first and writes later fails with SQLITE_BUSY_SNAPSHOT, without
        # waiting, whenever another writer committed in between.
        mode = connection.get_execution_options().get("sqlite_begin", "")
        if mode == "IMMEDIATE":
            # The same bound as busy_timeout: a writer that never finishes cannot hang the rest.
            if not writer.acquire(timeout=30):
                raise sqlalchemy.exc.OperationalError("BEGIN IMMEDIATE", None, "database is locked")
            connection.info["writer"] = True
        try:
            connection.exec_driver_sql(f"BEGIN {mode}".strip())
        except BaseException:
            _release(connection)
            raise

    def _release(connection) -> None:
        # A Connection, or the pool's proxy of the DB-API connection (the same ``info``); the
        # ad-hoc proxy SQLAlchemy uses on first connect has none, and never holds the turn.
        try:
            info = connection.info
        except (AttributeError, NotImplementedError):
            return
        if info.pop("writer", False):
            writer.release()

    # The turn ends once SQLite has really finished the transaction. SQLAlchemy's "commit" and
    # "rollback" events fire just *before* the COMMIT or ROLLBACK reaches SQLite, so releasing
    # there let the next writer in while the commit was still being written and fsynced, to
    # meet SQLite's own lock (SQLITE_BUSY and busy-handler sleeps). So the dialect's own calls
    # are wrapped instead: they receive the pool's connection, whose ``info`` is the one above.
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def _commit_then_release(dbapi_connection) -> None:
        do_commit(dbapi_connection)
        # A COMMIT that failed leaves the transaction open: the turn ends with its ROLLBACK, or
        # at the latest when the connection goes back to the pool.
        _release(dbapi_connection)

    def _rollback_then_release(dbapi_connection) -> None:
        try:
            do_rollback(dbapi_connection)
        finally:
            _release(dbapi_connection)

    dialect.do_commit = _commit_then_release
    dialect.do_rollback = _rollback_then_release

    @event.listens_for(engine.pool, "checkin")
    def _checkin(_dbapi_connection, record):
        # Safety net: a connection that goes back to the pool never keeps the write turn.
        if record is not None and record.info.pop("writer", False):
            writer.release()

    return engine


_WRITER_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def writer_lock(engine: Engine):
    """Hold the process's write turn for code that drives SQLite without SQLAlchemy's begin."""
    lock = _WRITER_LOCKS[engine]
    if not lock.acquire(timeout=30):
        raise sqlalchemy.exc.OperationalError("BEGIN IMMEDIATE", None, "database is locked")
    try:
        yield
    finally:
        lock.release()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the latest by default)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def engine() -> Engine:
    return current_app.extensions["station_engine"]


def _bind(eng: Engine, write: bool) -> Engine:
    return eng.execution_options(sqlite_begin="IMMEDIATE") if write else eng


def get_session() -> Session:
    """The request's database session (one per request, one transaction).

    Requests that change things (anything but GET and HEAD) write-lock from their first statement.
    """
    if "db" not in g:
        write = request.method not in ("GET", "HEAD") if has_request_context() else True
        g.db = Session(_bind(engine(), write), expire_on_commit=False)
    return g.db


@contextlib.contextmanager
def transaction(eng: Engine | None = None, *, write: bool = True) -> Iterator[Session]:
    """One transaction for a CLI command or a job: commit on success, roll back on error."""
    with Session(_bind(eng or engine(), write), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def init_app(app: Flask, eng: Engine) -> None:
    app.extensions["station_engine"] = eng

    @app.teardown_appcontext
    def _close(exc):
        session = g.pop("db", None)
        if session is not None:
            if exc is not None or session.in_transaction():
                # Anything a view did not commit explicitly is rolled back.
                session.rollback()
            session.close()
