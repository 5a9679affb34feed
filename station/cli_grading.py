"""``station`` commands for grading: score a session, export its results, item statistics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from station import db
from station.cli import cli, cli_actor, domain_errors
from station.services import results, sessions


@cli.command("grade")
@click.argument("session_code")
@domain_errors
def grade_command(session_code: str) -> None:
    """Score SESSION_CODE (theory answers, reconciled practical marks) and store its results.

    Safe to repeat until the supervisor signs off. Exits 2 while some results are incomplete.
    """
    with db.transaction(write=True) as s:
        gaps = results.grade_session(s, actor=cli_actor(), session_code=session_code)
        rows = results.session_rows(s, sessions.get_session(s, session_code))
    graded = sum(1 for r in rows if r.result is not None)
    click.echo(f"场次 {session_code}：{graded}/{len(rows)} 名考生已评定成绩")
    for gap in gaps:
        click.echo(f"  - {gap}")
    if gaps:
        sys.exit(2)


def result_dict(row: results.Row) -> dict:
    c, r = row.candidate, row.result
    out = {"admission_number": c.admission_number, "name": c.name, "status": c.status.value}
    if r is not None:
        out |= {"version": r.version, "theory": r.theory, "practical": r.practical,
                "review": r.review, "outcome": r.outcome.value,
                "outcome_label": results.OUTCOME_LABELS[r.outcome], "detail": r.detail}  # fmt: skip
    return out


@cli.command("results")
@click.argument("session_code")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the score sheet (成绩单) as an XLSX file.")  # fmt: skip
@domain_errors
def results_command(session_code: str, as_json: bool, xlsx_path: Path | None) -> None:
    """Show SESSION_CODE's current results, as JSON or a score sheet."""
    with db.transaction(write=False) as s:
        session = sessions.get_session(s, session_code)
        rows = results.session_rows(s, session)
        done = results.signoff(s, session)
        payload = {"session": session.code, "state": session.state.value,
                   "signed_off_by": done.signed_by if done else None,
                   "signed_off_at": done.signed_at.isoformat() if done else None,
                   "results": [result_dict(r) for r in rows]}  # fmt: skip
        data = None
        if xlsx_path:
            from station.services import score_sheet

            data = score_sheet.xlsx(s, session)
    if data is not None:
        xlsx_path.write_bytes(data)
        click.echo(f"wrote {xlsx_path} ({len(rows)} candidates)", err=as_json)
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    elif data is None:
        for row in payload["results"]:
            parts = [f"{row.get(p) if row.get(p) is not None else '—'}" for p in results.PARTS]
            click.echo(f"{row['admission_number']}  {row['name']}  {' / '.join(parts)}  "
                       f"{row.get('outcome_label', '未评定')}")  # fmt: skip
