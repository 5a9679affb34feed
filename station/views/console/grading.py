"""Practical scoring in the console: each examiner's list and tablet form (blind until they have
submitted), the chief examiner's rulings and 综合评审 scores, and the "who is missing" board.

Blindness is the service's rule (``practical.visible_marks``); these pages keep it too: the
scoring form is rendered from the rubric and the examiner's own input only, never from a cell
that carries other examiners' marks.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from question_bank.items import Task
from question_bank.scoring import ScoringError, check_marks
from station import db
from station.auth import actor, roles_required
from station.models import Role
from station.models.scheduling import AssignmentRole, CandidateStatus, Programme
from station.services import practical, results, results_overview, roster, sessions
from station.services.errors import DomainError, NotFound
from station.views.console.common import attempt, flash_error, session_or_404

SCORERS = (Role.EXAMINER, Role.CHIEF_EXAMINER)
OVERSEERS = (Role.ADMIN, Role.CHIEF_EXAMINER, Role.SUPERVISOR)
CHIEF = AssignmentRole.CHIEF_EXAMINER
SUPERVISOR = AssignmentRole.SUPERVISOR


def _cell(s, row, admission_number: str, task_uid: str) -> practical.Cell:
    """The (candidate, task) of this session, or 404."""
    try:
        candidate = roster.get_candidate(s, admission_number)
        task = practical.get_task(s, row, task_uid)
    except NotFound as exc:
        abort(404, exc.message)
    if candidate.session_id != row.id or candidate.status != CandidateStatus.PRESENT:
        abort(404, f"考生 {admission_number} 不是场次 {row.code} 的实考考生")
    return next(c for c in practical.cells(s, row, candidate) if c.task.uid == task.uid)


def _require_session_role(s, row, *roles: AssignmentRole) -> set[AssignmentRole]:
    mine = results_overview.session_roles(s, row, actor())
    if not mine & set(roles):
        abort(403)
    return mine


# --- examiners ----------------------------------------------------------------------------------


@roles_required(*SCORERS)
def my_scoring(code: str):
    s, row = session_or_404(code)
    work = results_overview.work_list(s, row, actor())
    return render_template("console/grading/mine.html", session=row, work=work,
                           done=sum(1 for w in work if w.done),
                           open=row.state in practical.SCORING_STATES
                           and results.signoff(s, row) is None,
                           state_label=sessions.STATE_LABELS[row.state])  # fmt: skip


def _entered(task: Task) -> tuple[dict[str, str | None], list[str], str]:
    """The examiner's input as typed: criterion code -> text (None when left empty)."""
    points = {c.code: (request.form.get(f"p_{c.code}", "").strip() or None)
              for c in task.criteria if not c.veto}  # fmt: skip
    vetoes = [v for v in request.form.getlist("veto") if v]
    return points, vetoes, request.form.get("note", "").strip()


def _form(row, cell: practical.Cell, points=None, vetoes=(), note="", errors=(), status=200):
    """The blank or refilled scoring form. Deliberately given only the rubric and this
    examiner's input: no marks of anyone else."""
    s = db.get_session()
    return render_template("console/grading/score.html", session=row, candidate=cell.candidate,
                           task=cell.task, points=points or {}, vetoes=set(vetoes), note=note,
                           errors=list(errors), open=row.state in practical.SCORING_STATES
                           and results.signoff(s, row) is None), status  # fmt: skip


@roles_required(*SCORERS)
def score_cell(code: str, admission_number: str, task_uid: str):
    s, row = session_or_404(code)
    cell = _cell(s, row, admission_number, task_uid)
    me = current_user.id
    if me not in {u.id for u in cell.panel}:
        abort(403, _("You are not on this candidate's panel."))
    if me in {m.examiner_id for m in cell.marks}:
        if request.method == "POST":
            flash(_("Your marks for this candidate and task are already in; they are final."),
                  "error")  # fmt: skip
        return _submitted(s, row, cell)
    if request.method == "GET":
        return _form(row, cell)
    points, vetoes, note = _entered(cell.task)
    action = request.form.get("action", "review")
    if action == "edit":
        return _form(row, cell, points, vetoes, note)
    if action == "review":
        try:
            checked = check_marks(cell.task, points, vetoes)
        except ScoringError as exc:
            return _form(row, cell, points, vetoes, note, str(exc).split("; "), 400)
        return render_template("console/grading/confirm.html", session=row,
                               candidate=cell.candidate, task=cell.task, checked=checked,
                               points=points, vetoes=sorted(checked.vetoes), note=note)  # fmt: skip
    if action != "submit" or request.form.get("confirm") != "final":
        abort(400, _("Review the marks, then confirm them."))
    if attempt(s, lambda: practical.submit_marks(
            s, actor=actor(), session_code=code, admission_number=admission_number,
            task_uid=task_uid, points=points, vetoes=vetoes, note=note),
            success=_("Marks submitted for %(name)s.", name=cell.candidate.name)):  # fmt: skip
        return redirect(url_for("console.score_cell", code=code,
                                admission_number=admission_number, task_uid=task_uid))  # fmt: skip
    return _form(row, cell, points, vetoes, note, status=400)


def _submitted(s, row, cell: practical.Cell):
    """After submitting: the examiner's own marks and, now, the other examiners' too."""
    try:
        seen = practical.visible_marks(s, actor=actor(), session_code=row.code,
                                       admission_number=cell.candidate.admission_number,
                                       task_uid=cell.task.uid)  # fmt: skip
    except DomainError as exc:
        flash_error(exc)
        return redirect(url_for("console.my_scoring", code=row.code))
    following = next((w.cell for w in results_overview.work_list(s, row, actor())
                      if not w.done), None)  # fmt: skip
    return render_template("console/grading/submitted.html", session=row, cell=seen,
                           names=_names(seen.panel), me=current_user.id,
                           following=following)  # fmt: skip


def _names(panel) -> dict[int, str]:
    return {u.id: u.display_name for u in panel}


# --- the chief examiner -------------------------------------------------------------------------


@roles_required(Role.CHIEF_EXAMINER, Role.SUPERVISOR)
def rulings(code: str):
    s, row = session_or_404(code)
    mine = _require_session_role(s, row, CHIEF, SUPERVISOR)
    cells = practical.cells(s, row)
    names = {u.id: u.display_name for c in cells for u in c.panel}
    return render_template("console/grading/rulings.html", session=row,
                           pending=[c for c in cells if c.needs_decision],
                           decided=[c for c in cells if c.decision is not None],
                           names=names, can_rule=CHIEF in mine
                           and row.state in practical.SCORING_STATES
                           and results.signoff(s, row) is None)  # fmt: skip


@roles_required(Role.CHIEF_EXAMINER)
def rule(code: str, admission_number: str, task_uid: str):
    s, row = session_or_404(code)
    veto = request.form.get("veto_upheld") == "1"
    text = request.form.get("points", "").strip()
    try:
        points = 0.0 if veto and not text else float(text)
    except ValueError:
        flash(_("Points: enter a number (for example 72.5), not '%(text)s'.", text=text), "error")
        return redirect(url_for("console.rulings", code=code))
    attempt(s, lambda: practical.decide(s, actor=actor(), session_code=code,
                                       admission_number=admission_number, task_uid=task_uid,
                                       points=points, veto_upheld=veto,
                                       reason=request.form.get("reason", "")),
            success=_("Ruling recorded for %(number)s, task %(task)s.",
                      number=admission_number, task=task_uid))  # fmt: skip
    return redirect(url_for("console.rulings", code=code))


@roles_required(*OVERSEERS)
def review_scores(code: str):
    s, row = session_or_404(code)
    programme = s.get(Programme, row.programme_id)
    if request.method == "POST":
        if not current_user.has_role(Role.CHIEF_EXAMINER):
            abort(403)
        text = request.form.get("score", "").strip()
        number = request.form.get("admission_number", "")
        try:
            score = float(text)
        except ValueError:
            flash(_("Review score: enter a number from 0 to 100, not '%(text)s'.", text=text),
                  "error")  # fmt: skip
        else:
            attempt(s, lambda: practical.record_review(s, actor=actor(), session_code=code,
                                                      admission_number=number, score=score,
                                                      note=request.form.get("note", "")),
                    success=_("Review score recorded for %(number)s.", number=number))  # fmt: skip
        return redirect(url_for("console.review_scores", code=code))
    return render_template("console/grading/review_scores.html", session=row,
                           needed=results.needs_review(programme, row.level),
                           entries=results_overview.review_entries(s, row),
                           can_enter=CHIEF in results_overview.session_roles(s, row, actor())
                           and row.state in practical.SCORING_STATES
                           and results.signoff(s, row) is None)  # fmt: skip


@roles_required(*OVERSEERS)
def missing_board(code: str):
    s, row = session_or_404(code)
    return render_template("console/grading/board.html", session=row,
                           board=results_overview.board(s, row))  # fmt: skip
