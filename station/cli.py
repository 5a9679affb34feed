"""The ``station`` command: a Flask CLI group bound to the station's app factory.

Each command is an entry point and owns one transaction; domain errors become a message on
stderr and a non-zero exit status.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup

from station import config as station_config
from station import create_app, db
from station.instance_lock import InstanceBusy, InstanceLock
from station.services import audit, backup, banks, keys, users
from station.services.errors import DomainError

SWITCH_INTERVAL = 0.0005  # seconds; see run_command

# Commands live on this group; create_app() adds them to app.cli, so that both the `station`
# script and app.test_cli_runner() see them.
cli = AppGroup("station")


def domain_errors(fn):
    """Turn a domain error into a clear message and exit status 1 (nothing has been saved)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            click.secho(f"错误：{exc.message}", fg="red", err=True)
            for detail in exc.details:
                click.echo(f"  - {detail}", err=True)
            sys.exit(1)

    return wrapper


def cli_actor() -> str:
    return "cli"


# --- instance ----------------------------------------------------------------------------------


def init_instance(app, *, station_code: str = "000000", station_name: str = "") -> list[str]:
    """Create whatever of the instance is missing; return what was done. Safe to repeat."""
    done = []
    instance = Path(app.instance_path)
    if station_config.write_config_file(
        instance, station_code=station_code,
        station_name=station_name or app.config["STATION_NAME"],
    ):  # fmt: skip
        done.append(f"wrote {station_config.config_file(instance)}")
        app.config.from_pyfile("config.py")
    (instance / "backups").mkdir(parents=True, exist_ok=True)
    engine = db.engine()
    before = db.current_revision(engine)
    db.upgrade(engine)
    after = db.current_revision(engine)
    if before != after:
        done.append(f"database {app.config['DATABASE_PATH']} at revision {after}")
    passphrase = station_config.key_passphrase(app.config)
    if not passphrase:
        raise DomainError(
            "没有私钥口令：请在实例配置中设置 KEY_PASSPHRASE 或设置 STATION_KEY_PASSPHRASE"
        )
    with db.transaction() as session:
        key, created = keys.ensure_key(session, actor=cli_actor(), passphrase=passphrase)
        if created:
            done.append(f"station signing key {key.kid} created (private key encrypted)")
    return done


@cli.command("init")
@click.option("--code", "station_code", default="000000", show_default=True,
              help="6-digit site code used in certificate numbers.")  # fmt: skip
@click.option("--name", "station_name", default="", help="Site name shown in the console.")
@domain_errors
def init_command(station_code: str, station_name: str) -> None:
    """Create the instance: config, database at the latest migration, signing key."""
    done = init_instance(current_app, station_code=station_code, station_name=station_name)
    click.echo(f"instance: {current_app.instance_path}")
    for line in done or ["already initialised; nothing to do"]:
        click.echo(f"  {line}")


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=16, show_default=True, type=int)
@click.option(
    "--connections",
    default=1000,
    show_default=True,
    type=int,
    help="Open connections allowed (one per exam terminal, and then some).",
)
@click.option(
    "--no-scheduler",
    is_flag=True,
    help="No backups or timed session changes (the exam clock always runs).",
)
def run_command(host: str, port: int, threads: int, connections: int, no_scheduler: bool) -> None:
    """Serve the station with waitress (and run its background jobs)."""
    import waitress

    from station.jobs import recover_clock, start_scheduler

    app = current_app._get_current_object()
    if db.current_revision(db.engine()) is None:
        click.secho("数据库尚未初始化：请先运行 `station init`", fg="red", err=True)
        sys.exit(1)
    lock = InstanceLock(Path(app.instance_path))
    try:
        lock.acquire()  # held until the process ends
    except InstanceBusy as exc:
        click.secho(f"错误：{exc}", fg="red", err=True)
        sys.exit(1)
    recover_clock(app)
    # Each SQLite call releases the GIL; with the default 5 ms switch interval the thread that
    # holds the database lock then waits behind every busy request thread to get it back.
    sys.setswitchinterval(SWITCH_INTERVAL)
    start_scheduler(app, housekeeping=app.config["SCHEDULER_ENABLED"] and not no_scheduler)
    click.echo(f"SkillCert station on http://{host}:{port}/ (instance {app.instance_path})")
    # Under a full room's load waitress logs every queued task; that is expected here, not news.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # Every exam terminal keeps a connection open: allow a whole site's worth, not waitress's 100.
    waitress.serve(app, host=host, port=port, threads=threads, ident="skillcert",
                   connection_limit=connections, backlog=2048)  # fmt: skip


@cli.command("demo")
@domain_errors
def demo_command() -> None:
    """Seed a realistic demo: staff accounts, a trusted issuer and signed item banks."""
    from station.demo.seed import seed_demo

    init_instance(current_app, station_code="110101", station_name="北京示例职业技能考核站")
    for line in seed_demo(current_app):
        click.echo(line)


# --- backup ------------------------------------------------------------------------------------


@cli.command("backup")
@click.option("--keep", type=int, default=None, help="Keep only the newest N backups.")
@domain_errors
def backup_command(keep: int | None) -> None:
    """Write a consistent copy of the live database to the instance's backups/."""
    path = backup.create_backup(
        Path(current_app.config["DATABASE_PATH"]),
        backup.backup_dir(Path(current_app.instance_path)),
        keep=keep or current_app.config["BACKUP_KEEP"],
    )
    with db.transaction() as session:
        audit.record(session, actor=cli_actor(), action="backup.create", subject=path.name)
    click.echo(str(path))


@cli.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_errors
def restore_command(file: Path, yes: bool) -> None:
    """Replace the database with a backup after checking it (stop the station first)."""
    revision = backup.check_database(file)
    if not yes:
        click.confirm(f"用 {file}（迁移版本 {revision}）替换当前数据库？", abort=True)
    database = Path(current_app.config["DATABASE_PATH"])
    db.engine().dispose()
    try:
        with InstanceLock(Path(current_app.instance_path)):
            safety = backup.restore_backup(
                file, database, backup.backup_dir(Path(current_app.instance_path))
            )
    except InstanceBusy as exc:
        raise DomainError(f"{exc}；请先停止站点再恢复") from None
    db.upgrade(db.engine())  # an older backup is brought to the current schema
    with db.transaction() as session:
        audit.record(session, actor=cli_actor(), action="backup.restore", subject=file.name,
                     data={"previous_database_saved_as": safety.name if safety else None})  # fmt: skip
    click.echo(f"restored {file}" + (f"; previous database saved as {safety}" if safety else ""))


# --- users -------------------------------------------------------------------------------------

users_cli = AppGroup("users", help="Staff accounts.")
cli.add_command(users_cli)


@users_cli.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Full name.")
@click.option("--role", "roles", multiple=True, required=True,
              help="admin, examiner, chief_examiner or supervisor (repeatable).")  # fmt: skip
@click.option("--organisation", default="", help="Employer, for recusal rules.")
@click.password_option(envvar="STATION_USER_PASSWORD")
@domain_errors
def users_add(username, display_name, roles, organisation, password) -> None:
    """Add a staff account."""
    with db.transaction() as session:
        user = users.add_user(session, actor=cli_actor(), username=username,
                              display_name=display_name, password=password,
                              roles=list(roles), organisation=organisation)  # fmt: skip
    click.echo(f"added {user.username} ({user.roles})")


@users_cli.command("list")
def users_list() -> None:
    """List staff accounts."""
    with db.transaction() as session:
        for user in users.list_users(session):
            state = "" if user.active else "  [disabled]"
            click.echo(f"{user.username:<16} {user.display_name:<12} {user.roles:<30} "
                       f"{user.organisation}{state}")  # fmt: skip


# --- audit -------------------------------------------------------------------------------------

audit_cli = AppGroup("audit", help="The hash-chained audit log.")
cli.add_command(audit_cli)


@audit_cli.command("verify")
def audit_verify() -> None:
    """Check the whole chain; exit 1 if any entry was edited or deleted."""
    with db.transaction() as session:
        report = audit.verify(session)
    if report.ok:
        click.echo(f"audit log intact: {report.entries} entries")
        return
    click.secho(f"audit log BROKEN ({report.entries} entries):", fg="red", err=True)
    for problem in report.problems:
        click.echo(f"  - {problem}", err=True)
    sys.exit(1)


# --- banks -------------------------------------------------------------------------------------

bank_cli = AppGroup("bank", help="Item banks.")
cli.add_command(bank_cli)


@bank_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bank", "bank_name", default=None,
              help="Bank for formats without programme metadata (default: the file name).")  # fmt: skip
@domain_errors
def bank_import(file: Path, bank_name: str | None) -> None:
    """Import a bank package, XLSX, GIFT, Moodle XML or QTI file (detected)."""
    with db.transaction() as session:
        summary = banks.import_bank(session, actor=cli_actor(), filename=file.name,
                                    data=file.read_bytes(), bank_name=bank_name)  # fmt: skip
    _print_summary(summary)


def _print_summary(summary: banks.ImportSummary) -> None:
    if not summary.created:
        click.echo(f"{summary.bank} version {summary.version} is already imported; nothing changed")
        return
    click.echo(f"imported {summary.bank} version {summary.version} ({summary.format})")
    if summary.locked:
        click.echo("  encrypted: enter the release code with `station bank unlock` to use it")
    for item_type in banks.ITEM_TYPES:
        click.echo(f"  {item_type:<16} {summary.counts.get(item_type, 0)}")
    click.echo(f"  {'tasks':<16} {summary.tasks}")
    click.echo(f"  {'blueprints':<16} {summary.blueprints}")
    for warning in summary.warnings:
        click.secho(f"  warning: {warning}", fg="yellow")


@bank_cli.command("unlock")
@click.argument("bank_code")
@click.argument("release_code")
@click.option("--version", default=None, help="Bank version (default: the newest).")
@domain_errors
def bank_unlock(bank_code: str, release_code: str, version: str | None) -> None:
    """Unlock an encrypted bank version with its release code."""
    with db.transaction() as session:
        row = banks.get_version(session, banks.get_bank(session, bank_code), version)
        summary = banks.unlock(session, actor=cli_actor(), bank_version_id=row.id,
                               release_code=release_code)  # fmt: skip
    _print_summary(summary)


@bank_cli.command("list")
def bank_list() -> None:
    """List banks with their newest version and item counts."""
    with db.transaction() as session:
        overviews = banks.list_banks(session)
    if not overviews:
        click.echo("no banks")
    for o in overviews:
        version = o.latest.version if o.latest else "-"
        lock = " [locked]" if o.latest and o.latest.locked else ""
        counts = " ".join(f"{t}={o.counts.get(t, 0)}" for t in banks.ITEM_TYPES)
        click.echo(f"{o.bank.code:<20} v{version:<6} {counts} tasks={o.tasks} "
                   f"versions={o.versions}{lock}  {o.bank.name}")  # fmt: skip


@bank_cli.command("assemble")
@click.argument("bank_code")
@click.option("--blueprint", default=None, help="Blueprint name (default: the bank's first).")
@click.option("--seed", type=int, required=True)
@click.option("--version", default=None, help="Bank version (default: the newest).")
@click.option("--json", "as_json", is_flag=True, help="Print the form as JSON.")
@domain_errors
def bank_assemble(bank_code, blueprint, seed, version, as_json) -> None:
    """Assemble one form from a bank by blueprint and print it."""
    with db.transaction() as session:
        form = banks.assemble(session, bank_code=bank_code, blueprint=blueprint, seed=seed,
                              version=version)  # fmt: skip
    if as_json:
        click.echo(json.dumps(form.to_dict(), ensure_ascii=False, indent=2))
        return
    for n, entry in enumerate(form.entries, 1):
        click.echo(f"{n:>3}. {entry.uid:<20} {entry.item_type:<16} {entry.points:g} "
                   f"{''.join(entry.option_order)}")  # fmt: skip
    click.echo(f"total {form.total_points:g} points, seed {form.seed}")


@bank_cli.command("export")
@click.argument("bank_code")
@click.option("--version", default=None, help="Bank version (default: the newest).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@domain_errors
def bank_export(bank_code: str, version: str | None, out: Path) -> None:
    """Export a bank version as XLSX (the import template's layout)."""
    from question_bank.exporters.xlsx import export_xlsx

    with db.transaction() as session:
        row = banks.get_version(session, banks.get_bank(session, bank_code), version)
        content = banks.load_content(session, row)
    out.write_bytes(export_xlsx(content))
    click.echo(f"wrote {out} ({len(content.items)} items, {len(content.tasks)} tasks)")


@bank_cli.command("template")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def bank_template(out: Path) -> None:
    """Write the XLSX import template."""
    from question_bank.importers.xlsx import xlsx_template

    out.write_bytes(xlsx_template())
    click.echo(f"wrote {out}")


issuers_cli = AppGroup("issuers", help="Issuing organisations' keys trusted for bank packages.")
cli.add_command(issuers_cli)


@issuers_cli.command("add")
@click.argument("public_key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kid", default=None, help="Key id used in the packages' signatures.")
@click.option("--code", "issuer_code", default="")
@click.option("--name", "issuer_name", default="")
@domain_errors
def issuers_add(public_key: Path, kid, issuer_code, issuer_name) -> None:
    """Trust an issuer's Ed25519 public key (PEM)."""
    with db.transaction() as session:
        row = banks.add_trusted_issuer(session, actor=cli_actor(),
                                       public_pem=public_key.read_text(), kid=kid,
                                       issuer_code=issuer_code, issuer_name=issuer_name)  # fmt: skip
    click.echo(f"trusted {row.kid} {row.issuer_name}")


def register(app) -> None:
    import station.cli_certs  # noqa: F401  (signing keys and certificates)
    import station.cli_grading  # noqa: F401  (grading commands)
    import station.cli_scheduling  # noqa: F401  (adds the site-running commands to the group)
    import station.cli_sync  # noqa: F401  (enrollment and sync with the registry)

    for command in cli.commands.values():
        app.cli.add_command(command)


def main() -> None:
    group = FlaskGroup(
        create_app=lambda: create_app(),
        add_default_commands=False,
        add_version_option=False,
        load_dotenv=False,
        help="SkillCert station: set up, run and administer an exam site.",
    )
    group(prog_name="station")
