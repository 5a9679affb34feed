"""The ``registry`` command: a Flask CLI group bound to the registry's app factory."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup
from sqlmodel import select
from werkzeug.security import generate_password_hash

from sync.registry import create_app, db
from sync.registry.models import Operator

cli = AppGroup("registry")  # added to app.cli by create_app()


@cli.command("init")
def init_command() -> None:
    """Write the instance's secret (once) and bring the database to the latest migration.
    Safe to run again."""
    config = Path(current_app.instance_path) / "config.py"
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"SECRET_KEY = {secrets.token_hex(32)!r}\n")
        click.echo(f"wrote {config}")
    engine = db.engine()
    before = db.current_revision(engine)
    db.upgrade(engine)
    after = db.current_revision(engine)
    url = engine.url.render_as_string(hide_password=True)
    click.echo(
        f"registry database {url} at revision {after}" + ("" if before != after else " (unchanged)")
    )


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def run_command(host: str, port: int, workers: int) -> None:
    """Serve the registry with gunicorn (several stateless workers)."""
    from gunicorn.app.base import BaseApplication

    if db.current_revision(db.engine()) is None:
        click.secho("数据库尚未初始化：请先运行 `registry init`", fg="red", err=True)
        sys.exit(1)
    app = current_app._get_current_object()
    # Workers fork from this process: none may inherit a pooled database connection.
    db.engine().dispose()

    class _Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)

        def load(self):
            return app

    click.echo(f"SkillCert registry on http://{host}:{port}/")
    _Server().run()


operators_cli = AppGroup("operators", help="Provincial operator accounts.")
cli.add_command(operators_cli)


@operators_cli.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.password_option(envvar="REGISTRY_OPERATOR_PASSWORD")
def operators_add(username: str, display_name: str, password: str) -> None:
    """Add a provincial operator account."""
    if len(password) < 8:
        click.secho("错误：密码至少 8 位", fg="red", err=True)
        sys.exit(1)
    with db.transaction() as session:
        if session.exec(select(Operator).where(Operator.username == username)).first():
            click.echo(f"operator {username} already exists")
            return
        session.add(Operator(username=username, display_name=display_name,
                             password_hash=generate_password_hash(password)))  # fmt: skip
    click.echo(f"added operator {username}")


def register(app) -> None:
    for command in cli.commands.values():
        app.cli.add_command(command)


def main() -> None:
    group = FlaskGroup(create_app=lambda: create_app(), add_default_commands=False,
                       add_version_option=False, load_dotenv=False,
                       help="SkillCert provincial registry.")  # fmt: skip
    group(prog_name="registry")
