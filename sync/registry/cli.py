"""The ``registry`` command: a Flask CLI group bound to the registry's app factory."""

from __future__ import annotations

import gc
import json
import os
import secrets
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup
from sqlmodel import select
from werkzeug.security import generate_password_hash

from sync.registry import create_app, db, keys
from sync.registry.models import Operator
from sync.registry.services import audit, feed, log_audit, revocations, stations
from sync.registry.services import log as tlog
from sync.registry.services.errors import RegistryError

cli = AppGroup("registry")  # added to app.cli by create_app()


def _write_config(config: Path) -> list[str]:
    """Create the instance config, or add the secrets an older one lacks. Never overwrites."""
    wanted = {"SECRET_KEY": secrets.token_hex(32), "ID_HASH_SECRET": secrets.token_hex(32)}
    if not os.environ.get(keys.PASSPHRASE_ENV):
        wanted["ROOT_KEY_PASSPHRASE"] = secrets.token_urlsafe(32)
    text = config.read_text(encoding="utf-8") if config.exists() else ""
    missing = {k: v for k, v in wanted.items() if f"{k} =" not in text}
    if not missing:
        return []
    config.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        for name, value in missing.items():
            fh.write(f"{name} = {value!r}\n")
            if not current_app.config.get(name) or name == "SECRET_KEY":
                current_app.config[name] = value
    return list(missing)


@cli.command("init")
def init_command() -> None:
    """Write the instance's secrets (once), bring the database to the latest migration and make
    the root key. Safe to run again."""
    config = Path(current_app.instance_path) / "config.py"
    added = _write_config(config)
    if added:
        click.echo(f"wrote {', '.join(added)} to {config}")
    engine = db.engine()
    before = db.current_revision(engine)
    db.upgrade(engine)
    after = db.current_revision(engine)
    url = engine.url.render_as_string(hide_password=True)
    click.echo(
        f"registry database {url} at revision {after}" + ("" if before != after else " (unchanged)")
    )
    try:
        with db.transaction() as session:
            row, created = keys.create_root_key(
                session, passphrase=keys.passphrase_from(current_app.config)
            )
            signer = keys.load_signer(session, passphrase=keys.passphrase_from(current_app.config))
            tlog.ensure_first_head(session, signer)
    except keys.RootKeyError as exc:
        _fail(str(exc))
    click.echo(f"root key {row.kid}" + (" created" if created else ""))


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="processes (≈ cores)")
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=int,
    help="threads per worker; above 1 connections are kept open between requests",
)
def run_command(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the registry with gunicorn (several stateless workers).

    With ``--threads`` above 1 the workers are gunicorn's threaded ones: a slow client holds
    one thread, not a whole worker, and employers' systems can keep a connection open for many
    requests (HTTP keep-alive, 5 s idle). ``--threads 1`` gives plain sync workers, for behind
    a buffering proxy.
    """
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
            self.cfg.set("threads", threads)
            self.cfg.set("keepalive", 5)
            self.cfg.set("post_fork", _worker_started)

        def load(self):
            return app

    click.echo(f"SkillCert registry on http://{host}:{port}/")
    _Server().run()


SWITCH_INTERVAL = 0.001  # seconds; Python's default is 0.005


def _worker_started(_server, _worker) -> None:
    """In each gunicorn worker, once forked:

    - the app and everything else loaded so far move to the collector's permanent generation,
      so its collections stop rescanning them (about a tenth of a pushed certificate's CPU);
    - a thread that has work waits at most 1 ms, not 5, for the one running Python code to
      hand over the GIL. A worker's threads each hold a connection; with the default a short
      verification queued behind busy threads (p50 8.8 ms for 1.2 ms of CPU) while the cores
      sat partly idle. In ``benchmarks/registry.py`` this took one-token verifications from
      851/s to about 1,700/s.
    """
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)


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
        audit.record(session, actor="cli", action="operator.add", subject=f"operator:{username}",
                     data={"display_name": display_name})  # fmt: skip
    click.echo(f"added operator {username}")


# --------------------------------------------------------------------------- trust and stations


def _run(action):
    """Run ``action(session)`` in one transaction; a domain error becomes a CLI error."""
    try:
        with db.transaction() as session:
            return action(session)
    except (RegistryError, keys.RootKeyError) as exc:
        _fail(str(exc))


def _signer(session):
    return keys.load_signer(session, passphrase=keys.passphrase_from(current_app.config))


keys_cli = AppGroup("keys", help="The provincial root key.")
cli.add_command(keys_cli)


@keys_cli.command("show")
def keys_show() -> None:
    """Print the root key's id and public key (PEM), for stations and auditors."""
    row = _run(keys.active_root_key)
    click.echo(f"kid: {row.kid}\ncreated: {row.created_at:%Y-%m-%d %H:%M} UTC\n{row.public_pem}")


stations_cli = AppGroup("stations", help="Exam stations and their enrollment.")
cli.add_command(stations_cli)


def _print_token(code: str, token: str) -> None:
    click.echo(f"enrollment token for station {code} (valid 7 days, single use; shown once):")
    click.secho(token, bold=True)
    click.echo(f"on the station: station enroll <REGISTRY URL> {token}")


@stations_cli.command("add")
@click.argument("code")
@click.option("--name", required=True, help="站点名称")
@click.option("--city", required=True, help="所在城市")
@click.option("--by", "actor", default="cli", show_default=True, help="operator username")
def stations_add(code: str, name: str, city: str, actor: str) -> None:
    """Record a station and print its one-time enrollment token."""
    _, token = _run(lambda s: stations.add_station(s, code=code, name=name, city=city, actor=actor))
    _print_token(code, token)


@stations_cli.command("token")
@click.argument("code")
@click.option("--by", "actor", default="cli", show_default=True)
def stations_token(code: str, actor: str) -> None:
    """Issue a new enrollment token (the old unused ones stop working)."""
    token = _run(lambda s: stations.issue_enrollment_token(s, code=code, actor=actor))
    _print_token(code, token)


@stations_cli.command("list")
def stations_list() -> None:
    """Stations, their status and keys."""
    summaries = _run(stations.list_stations)
    if not summaries:
        click.echo("no stations yet: registry stations add CODE --name … --city …")
    for s in summaries:
        st = s.station
        seen = f"{st.last_seen_at:%Y-%m-%d %H:%M}" if st.last_seen_at else "never"
        click.echo(f"{st.code}  {st.status:<9} {st.city}  {st.name}  (last seen {seen})")
        for k in s.keys:
            click.echo(f"    {k.kid}  {k.valid_from} .. {k.valid_until or ''}  ({k.source})")
        if st.status == "pending" and s.token_expires_at:
            click.echo(f"    enrollment token valid until {s.token_expires_at:%Y-%m-%d %H:%M} UTC")


# --------------------------------------------------------------------------- revocations, feed


@cli.command("revoke")
@click.argument("number")
@click.option("--reason", required=True, help="撤销原因")
@click.option("--by", "actor", default="cli", show_default=True, help="operator username")
def revoke_command(number: str, reason: str, actor: str) -> None:
    """Revoke a recorded certificate (logged, in the trust list, sent to every station)."""
    row, receipt = _run(
        lambda s: revocations.revoke(
            s, number=number, reason=reason, actor=actor, signer=_signer(s)
        )
    )
    click.echo(
        f"revoked {row.number} (log leaf {row.leaf_index}, tree size "
        f"{receipt['tree_size']}, feed event {row.feed_seq})"
    )


@cli.command("message")
@click.argument("station")
@click.option("--title", required=True)
@click.option("--body", required=True)
@click.option("--by", "actor", default="cli", show_default=True)
def message_command(station: str, title: str, body: str, actor: str) -> None:
    """Send a message to a station's console (STATION = its code, or ALL)."""

    def send(session):
        target = None if station.upper() == "ALL" else stations.get_station(session, station)
        return feed.send_message(session, station=target, title=title, body=body, actor=actor)

    event = _run(send)
    click.echo(f"message queued as feed event {event.seq}")


banks_cli = AppGroup("banks", help="Item-bank releases for stations.")
cli.add_command(banks_cli)


@banks_cli.command("publish")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--station", "station_code", default=None, help="only this station (default: all)")
@click.option("--release-code", default=None, help="unlock code of an encrypted bank")
@click.option("--by", "actor", default="cli", show_default=True)
def banks_publish(
    package: Path, station_code: str | None, release_code: str | None, actor: str
) -> None:
    """Publish a bank package (.skb) to one station or to all, via the feed."""
    data = package.read_bytes()

    def publish(session):
        target = stations.get_station(session, station_code) if station_code else None
        return feed.publish_bank(
            session, package=data, station=target, release_code=release_code, actor=actor
        )

    release = _run(publish)
    click.echo(
        f"published {release.bank} v{release.version} as release {release.id} "
        f"(feed event {release.feed_seq}, {release.size} bytes, sha256 {release.sha256})"
    )


# --------------------------------------------------------------------------- transparency log

log_cli = AppGroup("log", help="The transparency log.")
cli.add_command(log_cli)


@log_cli.command("verify")
def log_verify() -> None:
    """Recompute the whole log from its leaves and check every node, tree head and row."""
    report = _run(log_audit.verify_log)
    click.echo(
        f"tree size {report.tree_size}: {report.nodes} nodes, {report.heads} tree heads, "
        f"{report.certificates} certificates, {report.revocations} revocations"
    )
    _verdict(report, "log")


@log_cli.command("sth")
def log_sth() -> None:
    """Print the newest signed tree head (JSON)."""
    sth = _run(tlog.latest_tree_head)
    click.echo(json.dumps(sth.to_dict(), indent=2))


# --------------------------------------------------------------------------- audit log

audit_cli = AppGroup("audit", help="The registry's hash-chained audit log.")
cli.add_command(audit_cli)


@audit_cli.command("verify")
def audit_verify() -> None:
    """Walk the audit log's hash chain: edited, deleted or replaced entries are reported."""
    report = _run(audit.verify)
    click.echo(f"{report.entries} audit entries")
    _verdict(report, "audit log")


def _verdict(report, what: str) -> None:
    """``<what> verified: OK``, or every problem and a non-zero exit."""
    if report.ok:
        click.secho(f"{what} verified: OK", fg="green")
        return
    for problem in report.problems:
        click.secho(f"  {problem}", fg="red", err=True)
    _fail(f"{what} verification failed: {len(report.problems)} problem(s)")


def _fail(message: str) -> None:
    click.secho(f"错误：{message}", fg="red", err=True)
    sys.exit(1)


def register(app) -> None:
    for command in cli.commands.values():
        app.cli.add_command(command)


def main() -> None:
    group = FlaskGroup(create_app=lambda: create_app(), add_default_commands=False,
                       add_version_option=False, load_dotenv=False,
                       help="SkillCert provincial registry.")  # fmt: skip
    group(prog_name="registry")
