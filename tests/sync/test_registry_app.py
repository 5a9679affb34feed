"""The registry app: its own migrations on PostgreSQL (or SQLite), health check, CLI."""

from __future__ import annotations

import os

from alembic.config import Config
from alembic.script import ScriptDirectory

from sync.registry import db


def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_init_migrates_and_is_idempotent(registry_app):
    runner = registry_app.test_cli_runner()
    first = runner.invoke(args=["init"])
    assert first.exit_code == 0, first.output
    assert f"revision {head_revision()}" in first.output
    second = runner.invoke(args=["init"])
    assert "unchanged" in second.output
    dialect = registry_app.extensions["registry_engine"].dialect.name
    expected = "postgresql" if os.environ.get("REGISTRY_TEST_DATABASE_URL") else "sqlite"
    assert dialect == expected


def test_health_reflects_migration_state(registry_app):
    client = registry_app.test_client()
    assert client.get("/healthz").status_code == 503
    registry_app.test_cli_runner().invoke(args=["init"])
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "revision": head_revision()}


def test_operators_add(registry_app):
    runner = registry_app.test_cli_runner()
    runner.invoke(args=["init"])
    env = {"REGISTRY_OPERATOR_PASSWORD": "long-enough-1"}
    added = runner.invoke(args=["operators", "add", "sun", "--name", "孙丽"], env=env)
    assert added.exit_code == 0, added.output
    again = runner.invoke(args=["operators", "add", "sun", "--name", "孙丽"], env=env)
    assert "already exists" in again.output
    with registry_app.app_context(), db.transaction() as s:
        from sqlmodel import select

        from sync.registry.models import Operator

        assert [o.username for o in s.exec(select(Operator))] == ["sun"]


def test_home_page_is_chinese_and_self_contained(registry_app):
    page = registry_app.test_client().get("/").get_data(as_text=True)
    assert "核验" in page
    assert "http" not in page
