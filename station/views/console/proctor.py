"""The examiners' live console for the theory exam, their actions, and the session report."""

from __future__ import annotations

from flask import jsonify, render_template, request

from station.auth import actor, roles_required
from station.models import Role
from station.models.common import utcnow
from station.services import attempts, proctoring, sessions
from station.services.errors import DomainError
from station.views.console.common import PDF, download, json_attempt, session_or_404
from station.web import localtime

PROCTORS = (Role.ADMIN, Role.EXAMINER, Role.CHIEF_EXAMINER)
VIEWERS = (*PROCTORS, Role.SUPERVISOR)


@roles_required(*VIEWERS)
def live(code: str):
    s, row = session_or_404(code)
    return render_template("console/sessions/live.html", session=row,
                           rooms=sessions.theory_rooms(s, row),
                           categories=proctoring.IRREGULARITY_CATEGORIES,
                           state_label=sessions.STATE_LABELS[row.state])  # fmt: skip


@roles_required(*VIEWERS)
def live_json(code: str):
    s, row = session_or_404(code)
    seats = proctoring.room_status(s, row, now=utcnow(), room=request.args.get("room") or None)
    return jsonify(state=row.state.value, seats=[
        {"admission_number": x.admission_number, "name": x.name, "room": x.room, "seat": x.seat,
         "status": x.status, "status_label": proctoring.STATUS_LABELS[x.status],
         "answered": x.answered, "total": x.total,
         "last_activity": localtime(x.last_activity, "%H:%M:%S") if x.last_activity else "",
         "remaining_seconds": x.remaining_seconds, "pending_terminal": x.pending_terminal,
         "pending_terminal_code": attempts.terminal_code(x.pending_terminal)
         if x.pending_terminal else "",
         "notice": x.notice}
        for x in seats])  # fmt: skip


def _form() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else request.form.to_dict()


def _minutes(value) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)  # the service checks the range
    except (TypeError, ValueError):
        raise DomainError(f"延长时间应为分钟数，收到 '{value}'") from None


@roles_required(*PROCTORS)
def act_on_attempt(code: str, admission_number: str):
    s, row = session_or_404(code)
    body = _form()
    return json_attempt(s, lambda: {"message": proctoring.act(
        s, actor=actor(), admission_number=admission_number, action=str(body.get("action", "")),
        reason=str(body.get("reason", "")), now=utcnow(), category=str(body.get("category") or ""),
        minutes=_minutes(body.get("minutes")), terminal=str(body.get("terminal") or ""))})  # fmt: skip


@roles_required(*PROCTORS)
def act_on_room(code: str, room: str):
    s, row = session_or_404(code)
    body = _form()
    return json_attempt(s, lambda: {"changed": proctoring.act_on_room(
        s, actor=actor(), session_code=code, room=room, action=str(body.get("action", "")),
        reason=str(body.get("reason", "")), now=utcnow())})  # fmt: skip


@roles_required(*VIEWERS)
def report_view(code: str):
    s, row = session_or_404(code)
    return render_template("console/sessions/report.html", report=proctoring.report(s, row, now=utcnow()),
                           categories=proctoring.IRREGULARITY_CATEGORIES,
                           labels=proctoring.STATUS_LABELS, local=sessions.local)  # fmt: skip


@roles_required(*VIEWERS)
def report_pdf(code: str):
    from station.pdf import html_to_pdf

    s, row = session_or_404(code)
    html = render_template("print/session_report.html", report=proctoring.report(s, row, now=utcnow()),
                           categories=proctoring.IRREGULARITY_CATEGORIES,
                           labels=proctoring.STATUS_LABELS, local=sessions.local)  # fmt: skip
    return download(html_to_pdf(html), f"report-{code}.pdf", PDF, inline=True)
