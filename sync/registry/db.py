"""The registry's database: PostgreSQL (or SQLite for the demo), sessions, migrations."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, exc, inspect
from sqlmodel import Session

MIGRATIONS = Path(__file__).parent / "migrations"
IDLE_PING_SECONDS = 10.0  # a pooled connection idle this long is pinged before reuse


# JSON columns are written compact and with their text as it is rather than as \uXXXX escapes
# (a Chinese character is 3 bytes instead of 6 characters): shorter rows for psycopg to copy and
# PostgreSQL to parse, for every pushed certificate's payload, record and receipt.
_JSON_COLUMN_TEXT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def make_engine(url: str, **kwargs) -> Engine:
    kwargs.setdefault("json_serializer", _JSON_COLUMN_TEXT)
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine, IDLE_PING_SECONDS)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Pessimistic disconnect handling without a round trip on every checkout.

    ``pool_pre_ping`` sends ``SELECT 1`` each time a connection leaves the pool, which on the
    public lookups costs as much as the lookup itself. Here only a connection that sat in the
    pool for ``idle_seconds`` (long enough for a database restart or a firewall to have cut
    it) is pinged; a dead one makes the pool open a fresh connection (SQLAlchemy retries a
    checkout that raises :class:`DisconnectionError`). A connection cut while busy fails that
    one request, and SQLAlchemy then recycles every older connection of the pool.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(f"idle connection is gone: {error}") from error


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def engine() -> Engine:
    return current_app.extensions["registry_engine"]


def get_session() -> Session:
    if "registry_db" not in g:
        g.registry_db = Session(engine(), expire_on_commit=False)
    return g.registry_db


@contextlib.contextmanager
def transaction(eng: Engine | None = None) -> Iterator[Session]:
    with Session(eng or engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextlib.contextmanager
def read_cursor(eng: Engine | None = None) -> Iterator[Any]:
    """A DBAPI cursor outside any transaction, for one-statement read-only lookups.

    The public verification answers from one indexed query; through a session it would also
    pay for BEGIN, COMMIT and the ORM. Each statement here sees committed data (autocommit on
    PostgreSQL; Python's sqlite3 opens no transaction for a SELECT). The connection goes back
    to the pool as it came (autocommit off), or is dropped if that cannot be made sure of.
    """
    eng = eng or engine()
    proxy = eng.raw_connection()
    driver = proxy.driver_connection
    autocommit = eng.dialect.name == "postgresql"
    try:
        if autocommit:
            driver.autocommit = True
        cursor = driver.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
    except eng.dialect.loaded_dbapi.Error as error:
        if eng.dialect.is_disconnect(error, driver, None):
            proxy.invalidate(error)
        raise
    finally:
        if autocommit and proxy.is_valid:
            try:
                driver.autocommit = False
            except Exception as error:  # noqa: BLE001 - never pool a connection left autocommit
                proxy.invalidate(error)
        proxy.close()


def init_app(app: Flask, eng: Engine) -> None:
    app.extensions["registry_engine"] = eng

    @app.teardown_appcontext
    def _close(exc):
        session = g.pop("registry_db", None)
        if session is not None:
            session.rollback()
            session.close()
