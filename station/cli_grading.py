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


@cli.command("itemstats")
@click.argument("session_code", required=False)
@click.option("--bank", "bank_code", help="Every graded session of this bank.")
@click.option("--matrix", "matrix_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A score matrix CSV: item ids, then maximum marks, then one row per candidate.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print every statistic as JSON.")
@domain_errors
def itemstats_command(session_code, bank_code, matrix_file, as_json) -> None:
    """Item analysis: facility, discrimination, alpha, SEM … for SESSION_CODE, a bank or a CSV."""
    from question_bank import itemstats
    from station.services import itemanalysis

    if sum(x is not None for x in (session_code, bank_code, matrix_file)) != 1:
        raise click.UsageError("give exactly one of SESSION_CODE, --bank or --matrix")
    if matrix_file is not None:
        try:
            analysis = itemstats.analyse(itemstats.read_matrix_csv(matrix_file))
        except itemstats.MatrixError as exc:
            click.secho(f"错误：{exc}", fg="red", err=True)
            sys.exit(1)
        payload = {"scope": str(matrix_file)} | analysis.to_dict()
    else:
        with db.transaction(write=False) as s:
            report = (itemanalysis.session_report(s, sessions.get_session(s, session_code))
                      if session_code else itemanalysis.bank_report(s, bank_code))  # fmt: skip
        payload = report.to_dict()
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2, allow_nan=False))
        return
    _print_itemstats(payload)


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4f}"


def _print_itemstats(payload: dict) -> None:
    test = payload.get("test")
    if not test:
        click.echo(f"{payload['scope']}：没有可分析的作答")
        return
    click.echo(f"{payload['scope']}：{test['n_candidates']} 名考生，{test['n_items']} 道题")
    click.echo(f"  平均分 {_fmt(test['mean'])}  标准差 {_fmt(test['sd'])}  α {_fmt(test['alpha'])}"
               f"  误差比 {_fmt(test['error_ratio'])}  SEM {_fmt(test['sem'])}")  # fmt: skip
    click.echo("item                 n   facility  sd       disc     eff      flags")
    for row in payload["items"]:
        click.echo(f"{row['item_id']:<20} {row['n']:<3} {_fmt(row['facility'])}    "
                   f"{_fmt(row['sd'])}   {_fmt(row['discrimination_index'])}   "
                   f"{_fmt(row['discriminative_efficiency'])}   {','.join(row['flags'])}")  # fmt: skip
