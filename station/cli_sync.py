"""``station enroll`` and ``station sync …``: the link to the provincial registry.

``enroll URL TOKEN`` registers the station with the one-time token the provincial operator
gave out; ``sync now`` pushes the outbox and pulls the feed at once (printing what happened to
every record); ``sync status`` shows the backlog, errors and parked records; ``sync retry``
re-queues parked records once their cause is fixed.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from station import db
from station.cli import cli, cli_actor, domain_errors
from station.models.common import utcnow
from station.services import sync_state
from station.web import localtime
from sync import client, outbox

sync_cli = AppGroup("sync", help="Sync with the provincial registry.")
cli.add_command(sync_cli)


def _context() -> client.StationContext:
    return client.StationContext.from_app(current_app._get_current_object(), actor=cli_actor())


def _age(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "-"
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


@cli.command("enroll")
@click.argument("url")
@click.argument("token")
@domain_errors
def enroll_command(url: str, token: str) -> None:
    """Enroll this station with the registry at URL using its one-time TOKEN."""
    result = client.enroll(_context(), url, token)
    click.echo(f"enrolled with {result.registry_url}")
    click.echo(f"  registry root key {result.root_kid}")
    click.echo(f"  station keys {', '.join(result.kids)}")
    click.echo(f"  trust list: {result.stations} station(s)")
    click.echo(f"  clock offset {result.clock_offset.total_seconds():+.1f} s")
    if result.registry_url.startswith("http://"):
        click.secho("  warning: the registry URL is not HTTPS", fg="yellow")


@sync_cli.command("now")
@domain_errors
def sync_now() -> None:
    """Push every pending record, then pull the feed; print each record's outcome."""
    with db.transaction(write=False) as s:
        sync_state.require_enrolled(s)
    pushed, pulled = client.sync_now(_context())
    colours = {"accepted": "green", "duplicate": "green", "rejected": "red"}
    for o in pushed.outcomes:
        line = f"{o.status:<9} {o.kind:<18} {o.id}  {o.subject}"
        click.secho(line, fg=colours.get(o.status))
        if o.reason:
            click.echo(f"          {o.reason}")
    click.echo(f"push: {pushed.sent} sent in {pushed.batches} batch(es): "
               f"{pushed.count('accepted')} accepted, {pushed.count('duplicate')} duplicate, "
               f"{pushed.count('rejected')} rejected (parked)")  # fmt: skip
    if pushed.error:
        click.secho(f"push failed: {pushed.error}", fg="red", err=True)
    applied = (
        ", ".join(f"{n} {kind}" for kind, n in sorted(pulled.applied.items())) or "nothing new"
    )
    click.echo(f"pull: {pulled.pages} page(s), {applied}; cursor {pulled.cursor or '-'}")
    for name in pulled.banks_imported:
        click.echo(f"  bank imported: {name}")
    for problem in pulled.banks_failed:
        click.secho(f"  bank not imported: {problem}", fg="yellow")
    if pulled.error:
        click.secho(f"pull failed: {pulled.error}", fg="red", err=True)
    if pushed.error or pulled.error:
        sys.exit(1)


def _status_dict(st: sync_state.Status) -> dict:
    def iso(value):
        return value.isoformat() if value else None

    return {
        "enrolled": st.enrolled, "registry_url": st.registry_url, "backlog": st.backlog,
        "oldest_pending_at": iso(st.oldest_pending_at),
        "oldest_pending_age_seconds": (int(st.oldest_pending_age.total_seconds())
                                       if st.oldest_pending_age else None),
        "last_success_at": iso(st.last_success_at), "last_push_at": iso(st.last_push_at),
        "last_pull_at": iso(st.last_pull_at), "last_error": st.last_error,
        "last_error_at": iso(st.last_error_at), "clock_offset_seconds": st.clock_offset,
        "push_backoff_until": iso(st.push_backoff_until), "feed_cursor": st.feed_cursor,
        "records": st.counts, "registry_revocations": st.revocations,
        "parked": [{"id": r.id, "kind": r.kind, "subject": r.subject, "reason": r.reason,
                    "created_at": iso(r.created_at), "parked_at": iso(r.parked_at)}
                   for r in st.parked],
        "messages": [{"seq": m.feed_seq, "title": m.title, "body": m.body,
                      "sent_at": iso(m.sent_at)} for m in st.messages],
    }  # fmt: skip


@sync_cli.command("status")
@click.option("--json", "as_json", is_flag=True)
def sync_status(as_json: bool) -> None:
    """Backlog, oldest pending record, last success and error, parked records, clock offset."""
    with db.transaction(write=False) as s:
        st = sync_state.status(s, now=utcnow())
    if as_json:
        click.echo(json.dumps(_status_dict(st), ensure_ascii=False, indent=2))
        return
    if st.enrolled:
        click.echo(f"registry        {st.registry_url}")
    else:
        click.secho("registry        not enrolled (station enroll URL TOKEN)", fg="yellow")
    click.echo(f"backlog         {st.backlog} record(s) pending")
    click.echo(f"oldest pending  {_age(st.oldest_pending_age)}"
               + (f" (since {localtime(st.oldest_pending_at)})" if st.oldest_pending_at else ""))  # fmt: skip
    click.echo(f"last success    {localtime(st.last_success_at) or 'never'}")
    if st.last_error:
        click.secho(f"last error      {localtime(st.last_error_at)}  {st.last_error}", fg="red")
    else:
        click.echo("last error      none")
    if st.push_backoff_until and st.push_backoff_until > utcnow():
        click.echo(f"next push       not before {localtime(st.push_backoff_until, '%H:%M:%S')}")
    offset = "unknown" if st.clock_offset is None else f"{st.clock_offset:+.1f} s"
    click.echo(f"clock offset    {offset} (registry minus station)")
    counts = ", ".join(f"{n} {k}" for k, n in sorted(st.counts.items())) or "none"
    click.echo(f"records         {counts}")
    click.echo(f"parked          {len(st.parked)}")
    for r in st.parked:
        click.secho(f"  {r.id}  {r.kind:<18} {r.subject}", fg="red")
        click.echo(f"      {r.reason}")
    for m in st.messages[:5]:
        click.echo(f"message #{m.feed_seq} {localtime(m.sent_at)}  {m.title}")


@sync_cli.command("retry")
@click.argument("record_id", required=False)
@click.option("--all-parked", is_flag=True, help="Re-queue every parked record.")
@domain_errors
def sync_retry(record_id: str | None, all_parked: bool) -> None:
    """Re-queue a parked RECORD_ID (or --all-parked) after its cause is fixed."""
    with db.transaction() as s:
        rows = outbox.retry(s, actor=cli_actor(), record_id=record_id, all_parked=all_parked)
    for row in rows:
        click.echo(f"re-queued {row.id} ({row.kind} {row.subject})")
    if not rows:
        click.echo("no parked records")
    else:
        click.echo("they go out with the next push (or run `station sync now`)")
