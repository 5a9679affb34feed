"""``station keys …`` and ``station certs …``: signing keys, certificates and their checks."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from station import config as station_config
from station import db
from station.cli import cli, cli_actor, domain_errors
from station.services import keys

keys_cli = AppGroup("keys", help="The station's signing keys.")
cli.add_command(keys_cli)


def _passphrase() -> str:
    return station_config.key_passphrase(current_app.config)


def _key_dict(row) -> dict:
    return {"kid": row.kid, "active": row.active, "not_before": row.not_before.isoformat(),
            "not_after": row.not_after.isoformat() if row.not_after else None,
            "public_pem": row.public_pem}  # fmt: skip


@keys_cli.command("show")
@click.option("--json", "as_json", is_flag=True)
def keys_show(as_json: bool) -> None:
    """List every key this station has used, with its validity window."""
    with db.transaction(write=False) as s:
        rows = [_key_dict(r) for r in keys.all_keys(s)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        window = f"{r['not_before']} → {r['not_after'] or '…'}"
        click.echo(f"{r['kid']}  {'active ' if r['active'] else 'retired'}  {window}")


@keys_cli.command("rotate")
@click.option("--reason", default="", help="Why (written to the audit log).")
@domain_errors
def keys_rotate(reason: str) -> None:
    """Retire the active key and start signing with a new one."""
    with db.transaction() as s:
        old, new = keys.rotate(s, actor=cli_actor(), passphrase=_passphrase(), reason=reason)
    click.echo(f"retired {old.kid}; now signing with {new.kid}")


@keys_cli.command("export-public")
@click.option("--all", "every", is_flag=True, help="Every key, not just the active one.")
def keys_export_public(every: bool) -> None:
    """Print the public key(s) as JSON: kid, validity window and PEM."""
    with db.transaction(write=False) as s:
        rows = [_key_dict(r) for r in keys.all_keys(s) if every or r.active]
    click.echo(json.dumps(rows if every else rows[0], indent=2))
