"""``station`` commands for running a site: programmes, rooms, sessions, rosters, tickets."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from station import config as station_config
from station import db
from station.cli import cli, cli_actor, domain_errors
from station.services import assignments, checkin, lifecycle, roster, sessions, site, tickets
from station.services.errors import DomainError

programmes_cli = AppGroup("programmes", help="Certificate programmes.")
rooms_cli = AppGroup("rooms", help="The site's rooms.")
sessions_cli = AppGroup("sessions", help="Exam sessions.")
roster_cli = AppGroup("roster", help="Session rosters.")
examiners_cli = AppGroup("examiners", help="Examiner qualifications.")
for group in (programmes_cli, rooms_cli, sessions_cli, roster_cli, examiners_cli):
    cli.add_command(group)


@programmes_cli.command("add")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--level", "levels", multiple=True, required=True, help="Repeatable.")
@click.option("--occupation-code", default="")
@click.option("--occupation", default="")
@click.option("--direction", default="")
@click.option("--issuer", default="")
@domain_errors
def programmes_add(code, name, levels, occupation_code, occupation, direction, issuer) -> None:
    """Add a certificate programme (pass rule: each part ≥ 60)."""
    with db.transaction() as s:
        site.add_programme(s, actor=cli_actor(), code=code, name=name, levels=list(levels),
                           occupation_code=occupation_code, occupation=occupation,
                           direction=direction, issuer_name=issuer)  # fmt: skip
    click.echo(f"added programme {code}")


@rooms_cli.command("add")
@click.argument("code")
@click.option("--name", default="")
@click.option("--kind", type=click.Choice(["theory", "practical"]), required=True)
@click.option("--seats", type=int, required=True, help="Seats, or workstations for practical.")
@domain_errors
def rooms_add(code, name, kind, seats) -> None:
    """Add a room."""
    with db.transaction() as s:
        site.add_room(s, actor=cli_actor(), code=code, name=name, kind=kind, seats=seats)
    click.echo(f"added room {code}")


@examiners_cli.command("qualify")
@click.argument("username")
@click.option("--certificate", required=True, help="The examiner's certificate number.")
@click.option("--programme", required=True)
@click.option("--level", "levels", multiple=True, required=True)
@click.option("--valid-until", type=click.DateTime(["%Y-%m-%d"]), default=None)
@domain_errors
def examiners_qualify(username, certificate, programme, levels, valid_until) -> None:
    """Record an examiner's qualification for a programme and levels."""
    with db.transaction() as s:
        assignments.add_qualification(s, actor=cli_actor(), username=username,
                                   certificate_number=certificate, programme=programme,
                                   levels=list(levels),
                                   valid_until=valid_until.date() if valid_until else None)  # fmt: skip
    click.echo(f"qualified {username} for {programme} {','.join(levels)}")


def _slot(text: str) -> tuple[str, object, object]:
    try:
        room, start, end = text.split(",")
    except ValueError:
        raise DomainError(
            f"实操时段 '{text}' 应写成 考场,开始,结束，如 P1,2026-12-05 13:30,2026-12-05 16:30"
        ) from None
    return (room.strip(), sessions.parse_local_time(start, "实操开始时间"),
            sessions.parse_local_time(end, "实操结束时间"))  # fmt: skip


@sessions_cli.command("create")
@click.argument("code")
@click.option("--title", default="")
@click.option("--programme", required=True)
@click.option("--level", required=True)
@click.option("--bank", required=True)
@click.option("--bank-version", default=None)
@click.option("--blueprint", default=None)
@click.option("--start", required=True, help="Theory start, Beijing time: 'YYYY-MM-DD HH:MM'.")
@click.option("--minutes", type=int, default=sessions.MIN_THEORY_MINUTES, show_default=True)
@click.option("--room", "rooms", multiple=True, required=True, help="Theory room (repeatable).")
@click.option("--practical", "slots", multiple=True, help="ROOM,START,END (repeatable).")
@domain_errors
def sessions_create(code, title, programme, level, bank, bank_version, blueprint, start, minutes,
                    rooms, slots) -> None:  # fmt: skip
    """Create a draft session."""
    plan = sessions.SessionPlan(
        code=code, title=title, programme=programme, level=level, bank=bank,
        bank_version=bank_version, blueprint=blueprint,
        theory_start=sessions.parse_local_time(start, "理论考试开始时间"), theory_minutes=minutes,
        theory_rooms=list(rooms), practical_slots=[_slot(s) for s in slots],
    )  # fmt: skip
    with db.transaction() as s:
        created = sessions.create_session(s, actor=cli_actor(), plan=plan)
    click.echo(f"created session {created.code} (draft)")


@sessions_cli.command("list")
@click.option("--state", default="")
def sessions_list(state: str) -> None:
    """List sessions."""
    with db.transaction() as s:
        for row in sessions.list_sessions(s, state=state):
            click.echo(f"{row.code:<16} {sessions.local(row.theory_start)} {row.state.value:<12} "
                       f"{row.level:<4} {row.title}")  # fmt: skip


@sessions_cli.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@domain_errors
def sessions_show(code: str, as_json: bool) -> None:
    """Show a session: rooms, staff, roster counts and what still blocks it."""
    with db.transaction() as s:
        row = sessions.get_session(s, code)
        info = {
            "code": row.code, "title": row.title, "state": row.state.value, "level": row.level,
            "bank": sessions.bank_label(s, row), "blueprint": row.blueprint,
            "theory_start": sessions.local(row.theory_start), "theory_minutes": row.theory_minutes,
            "rooms": [{"room": r.code, "kind": r.kind.value, "seats": r.seats,
                       "from": sessions.local(sr.starts_at), "to": sessions.local(sr.ends_at)}
                      for r, sr in sessions.session_rooms(s, row)],
            "staff": [{"user": u.username, "role": a.role.value, "room": rm.code if rm else None}
                      for a, u, rm in assignments.assignments(s, row)],
            "candidates": len(roster.candidates(s, row)),
            "check_in": [vars(c) for c in checkin.room_counts(s, row)],
            "problems": assignments.staffing_report(s, row),
        }  # fmt: skip
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    for key, value in info.items():
        click.echo(f"{key}: {value}")


@sessions_cli.command("assign")
@click.argument("code")
@click.argument("username")
@click.option("--role", type=click.Choice(["invigilator", "examiner", "chief_examiner",
                                           "supervisor"]), required=True)  # fmt: skip
@click.option("--room", default=None, help="Theory room, for invigilators.")
@domain_errors
def sessions_assign(code, username, role, room) -> None:
    """Assign staff to a session (ratio, qualification, double-booking rules apply)."""
    with db.transaction() as s:
        assignments.assign(s, actor=cli_actor(), session_code=code, username=username, role=role,
                        room=room)  # fmt: skip
    click.echo(f"assigned {username} as {role}")


@sessions_cli.command("recuse")
@click.argument("code")
@click.argument("username")
@click.argument("admission_number")
@click.option("--reason", required=True, help="The relationship, e.g. 亲属, 师生.")
@domain_errors
def sessions_recuse(code, username, admission_number, reason) -> None:
    """Record that an examiner is related to a candidate and must not assess them."""
    with db.transaction() as s:
        assignments.flag_related(s, actor=cli_actor(), session_code=code, username=username,
                              admission_number=admission_number, reason=reason)  # fmt: skip
    click.echo(f"{username} recused from {admission_number}")


@sessions_cli.command("transition")
@click.argument("code")
@click.argument("state")
@click.option("--reason", default="")
@domain_errors
def sessions_transition(code, state, reason) -> None:
    """Move a session to another state (e.g. scheduled, check_in, in_progress)."""
    with db.transaction() as s:
        row = lifecycle.transition(s, actor=cli_actor(), session_code=code, to=state, reason=reason)
    click.echo(f"{row.code} is now {row.state.value}")


@roster_cli.command("import")
@click.argument("code")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@domain_errors
def roster_import(code: str, file: Path) -> None:
    """Import candidates from XLSX/CSV (or a zip with photos); all or nothing."""
    with db.transaction() as s:
        added = roster.import_roster(s, actor=cli_actor(), session_code=code, filename=file.name,
                                     data=file.read_bytes())  # fmt: skip
    click.echo(f"imported {len(added)} candidates into {code}")


@roster_cli.command("template")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def roster_template(out: Path) -> None:
    """Write the XLSX roster template."""
    from station.roster_file import roster_template as template

    out.write_bytes(template())
    click.echo(f"wrote {out}")


@cli.command("tickets")
@click.argument("code")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--candidate", default=None, help="One admission number only.")
@domain_errors
def tickets_command(code: str, out: Path, candidate: str | None) -> None:
    """Print admission tickets (one PDF, one ticket per page)."""
    with db.transaction() as s:
        pdf = tickets.render(s, session_code=code, admission_number=candidate,
                             passphrase=station_config.key_passphrase(current_app.config),
                             site_name=current_app.config["STATION_NAME"])  # fmt: skip
    out.write_bytes(pdf)
    click.echo(f"wrote {out}")
