"""``station keys …`` and ``station certs …``: signing keys, certificates and their checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

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


certs_cli = AppGroup("certs", help="Certificates: issue, verify, revoke, export.")
cli.add_command(certs_cli)


def _settings():
    from station.services.certificates import Settings

    return Settings.from_config(current_app.config)


@certs_cli.command("issue")
@click.argument("session_code")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for one PDF per certificate plus the combined print file.")  # fmt: skip
@click.option("--workers", type=int, default=None, help="Rendering processes (default: CPUs).")
@domain_errors
def certs_issue(session_code: str, out_dir: Path, workers: int | None) -> None:
    """Issue certificates to SESSION_CODE's passing candidates (signed-off results only) and
    write their PDFs. Running it again issues nothing twice and reprints the same certificates."""
    from station.services import certificate_prints, certificates, sessions

    settings = _settings()
    with db.transaction() as s:
        new = certificates.issue_session(s, actor=cli_actor(), session_code=session_code,
                                         passphrase=_passphrase(), settings=settings)  # fmt: skip
    with db.transaction(write=False) as s:
        certs = certificates.session_certificates(s, sessions.get_session(s, session_code))
        if not certs:
            click.echo(f"场次 {session_code} 没有合格考生，未发证")
            return
        with click.progressbar(length=len(certs), label="渲染证书", file=sys.stderr) as bar:
            last = [0]

            def progress(done: int, total: int) -> None:
                bar.update(done - last[0])
                last[0] = done

            batch = certificate_prints.render(s, certs, settings, instance=Path(
                current_app.instance_path), progress=progress, workers=workers)  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    for cert, pdf in zip(certs, batch.singles, strict=True):
        (out_dir / f"{cert.number}.pdf").write_bytes(pdf)
    combined = out_dir / f"{session_code}-certificates.pdf"
    combined.write_bytes(batch.combined)
    click.echo(f"issued {len(new)} new, {len(certs)} in all; wrote {len(certs)} PDFs and "
               f"{combined}")  # fmt: skip


@certs_cli.command("verify")
@click.argument("source")
@click.option("--json", "as_json", is_flag=True)
def certs_verify(source: str, as_json: bool) -> None:
    """Verify the certificate QR code(s) in a PDF, an image, a URL or a token, with no network.
    Exits 0 only when every code found is a valid certificate."""
    from station.services import verification

    with db.transaction(write=False) as s:
        verdicts = verification.verify(s, _settings(), source)
    if as_json:
        click.echo(json.dumps([v.to_dict() for v in verdicts], ensure_ascii=False, indent=2))
    else:
        for v in verdicts:
            colour = "green" if v.valid else "red"
            click.secho(f"{v.label}", fg=colour)
            if v.code not in ("valid", "unreadable"):
                click.echo(f"  {v.message}")
            for name, value in v.fields.items():
                click.echo(f"  {name}: {value}")
    if not all(v.valid for v in verdicts):
        sys.exit(1)


@certs_cli.command("revoke")
@click.argument("number")
@click.option("--reason", required=True)
@domain_errors
def certs_revoke(number: str, reason: str) -> None:
    """Revoke a certificate issued here (honoured at once offline; synced to the registry)."""
    from station.services import certificates

    with db.transaction() as s:
        row = certificates.revoke(s, actor=cli_actor(), number=number, reason=reason)
    click.echo(f"revoked {row.number}: {row.reason}")


@certs_cli.command("vc")
@click.argument("number")
@domain_errors
def certs_vc(number: str) -> None:
    """Print the certificate as a W3C Verifiable Credential (eddsa-jcs-2022, did:key issuer)."""
    from station.services import credentials

    with db.transaction(write=False) as s:
        document = credentials.export(s, number=number, passphrase=_passphrase(),
                                      settings=_settings())  # fmt: skip
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))
