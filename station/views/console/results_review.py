"""Results in the console: grading, the supervisor's review and sign-off, the state changes
after grading, score sheets, regrades after a key correction, result history and appeals."""

from __future__ import annotations

import hashlib
import json

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from station.auth import actor, roles_required
from station.charts import score_histogram
from station.models import Role
from station.models.grading import Appeal, AppealStatus
from station.models.scheduling import AssignmentRole, Candidate, Programme, SessionState
from station.services import (
    appeals,
    lifecycle,
    regrade,
    results,
    results_overview,
    roster,
    score_sheet,
    sessions,
)
from station.services.errors import DomainError, NotFound
from station.views.console.common import PDF, XLSX, attempt, download, session_or_404

S = SessionState
OVERSEERS = (Role.ADMIN, Role.CHIEF_EXAMINER, Role.SUPERVISOR)
GRADERS = (Role.ADMIN, Role.CHIEF_EXAMINER)
APPEAL_STAFF = (Role.CHIEF_EXAMINER, Role.SUPERVISOR)
# Which states each role may move a session to from this page.
TARGETS = {Role.ADMIN: {S.REVIEW, S.GRADING, S.PUBLISHED},
           Role.CHIEF_EXAMINER: {S.REVIEW, S.GRADING, S.PUBLISHED},
           Role.SUPERVISOR: {S.PUBLISHED}}  # fmt: skip


def _back(code: str, endpoint: str = "console.results_view"):
    return redirect(url_for(endpoint, code=code))


def _my_targets(row) -> list[SessionState]:
    allowed = set().union(*(t for role, t in TARGETS.items() if current_user.has_role(role)))
    return sorted(allowed & sessions.TRANSITIONS[row.state])


def _charts(overview: results_overview.Overview) -> dict:
    """An SVG histogram per part that has scores (station.charts, rendered on the server)."""
    out = {}
    for part in overview.parts:
        label = results.PART_LABELS[part]
        out[part] = score_histogram(
            overview.scores[part], max_total=100, pass_mark=overview.pass_marks[part],
            title=_("%(part)s score distribution", part=label),
            desc=_("Number of candidates per 10-point band; the dashed line is the pass mark."),
            x_label=_("Score"), y_label=_("Candidates"), pass_label=_("Pass mark"),
            chart_id=f"chart-{part}")  # fmt: skip
    return out


@roles_required(*OVERSEERS)
def results_view(code: str):
    s, row = session_or_404(code)
    gaps, stale = [], []
    if row.state in (S.GRADING, S.REVIEW):  # what still keeps the results from being final
        drafts, gaps = results.compute(s, row)
        stored = {r.candidate_id: r for r in results.current_results(s, row)}
        stale = results.stale_results(drafts, stored)
    overview = results_overview.overview(s, row)
    roles = results_overview.session_roles(s, row, actor())
    return render_template(
        "console/grading/results.html", session=row, rows=results.session_rows(s, row),
        gaps=gaps, stale=stale, overview=overview, charts=_charts(overview),
        signoff=results.signoff(s, row), targets=_my_targets(row),
        labels=sessions.STATE_LABELS, outcome_labels=results.OUTCOME_LABELS,
        part_labels=results.PART_LABELS,
        review_needed=results.needs_review(s.get(Programme, row.programme_id), row.level),
        can_grade=current_user.has_role(*GRADERS) and row.state in (S.GRADING, S.REVIEW),
        can_sign=current_user.has_role(Role.SUPERVISOR) and AssignmentRole.SUPERVISOR in roles,
        z_limit=results_overview.Z_LIMIT, gap_limit=results_overview.GAP_LIMIT,
    )  # fmt: skip


@roles_required(*GRADERS)
def grade(code: str):
    s, row = session_or_404(code)
    gaps: list[str] = []
    if attempt(s, lambda: gaps.extend(results.grade_session(s, actor=actor(), session_code=code))):
        if gaps:
            flash(_("Graded. %(n)s problems still keep some results from being complete.",
                    n=len(gaps)), "error")  # fmt: skip
        else:
            flash(_("Graded: every result is complete."), "info")
    return _back(code)


@roles_required(*OVERSEERS)
def transition(code: str):
    s, row = session_or_404(code)
    target = request.form.get("to", "")
    if target not in {t.value for t in _my_targets(row)}:
        abort(403)
    if attempt(s, lambda: lifecycle.transition(s, actor=actor(), session_code=code, to=target,
                                              reason=request.form.get("reason", ""))):  # fmt: skip
        flash(_("Session %(code)s is now: %(state)s", code=code,
                state=sessions.STATE_LABELS[row.state]), "info")  # fmt: skip
    return _back(code)


@roles_required(Role.SUPERVISOR)
def sign_off(code: str):
    s, row = session_or_404(code)
    attempt(s, lambda: results.sign_off(s, actor=actor(), session_code=code,
                                        note=request.form.get("note", "")),
            success=_("Results signed off; they are now locked."))  # fmt: skip
    return _back(code)


@roles_required(*OVERSEERS)
def score_sheet_xlsx(code: str):
    s, row = session_or_404(code)
    data = score_sheet.xlsx(s, row, station_name=current_app.config["STATION_NAME"])
    return download(data, f"score-sheet-{code}.xlsx", XLSX)


@roles_required(*OVERSEERS)
def score_sheet_pdf(code: str):
    from station.pdf import html_to_pdf

    s, row = session_or_404(code)
    data = score_sheet.sheet(s, row, station_name=current_app.config["STATION_NAME"])
    html = render_template("print/score_sheet.html", sheet=data,
                           status=score_sheet.status_line(data), local=score_sheet.local)  # fmt: skip
    return download(html_to_pdf(html), f"score-sheet-{code}.pdf", PDF, inline=True)


@roles_required(*OVERSEERS)
def history(code: str, admission_number: str):
    s, row = session_or_404(code)
    candidate = _candidate(s, row, admission_number)
    return render_template("console/grading/history.html", session=row, candidate=candidate,
                           versions=results.history(s, candidate),
                           appeals=[a for a in appeals.appeals(s, row)
                                    if a.candidate_id == candidate.id],
                           outcome_labels=results.OUTCOME_LABELS,
                           part_labels=results.PART_LABELS)  # fmt: skip


def _candidate(s, row, admission_number: str) -> Candidate:
    try:
        candidate = roster.get_candidate(s, admission_number)
    except NotFound as exc:
        abort(404, exc.message)
    if candidate.session_id != row.id:
        abort(404)
    return candidate


# --- regrade ------------------------------------------------------------------------------------


def _fingerprint(changes: list[regrade.Change]) -> str:
    """What a dry run showed, so that applying it can check nothing moved in between."""
    body = json.dumps([c.to_dict() for c in changes], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


@roles_required(*GRADERS)
def regrade_view(code: str):
    s, row = session_or_404(code)
    return _regrade_page(s, row)


def _regrade_page(s, row, form=None, status: int = 200):
    """The corrections so far, the key form (refilled after a refusal) and the dry run."""
    changes: list[regrade.Change] = []
    problem = None
    try:
        changes = regrade.regrade(s, actor=actor(), session_code=row.code)
    except DomainError as exc:
        problem = exc.message
    return render_template("console/grading/regrade.html", session=row, changes=changes,
                           problem=problem, fingerprint=_fingerprint(changes), form=form or {},
                           corrections=results_overview.key_corrections(s, row),
                           signoff=results.signoff(s, row), part_labels=results.PART_LABELS,
                           outcome_labels=results.OUTCOME_LABELS), status  # fmt: skip


@roles_required(*GRADERS)
def correct_key(code: str):
    s, row = session_or_404(code)
    form = request.form
    if attempt(s, lambda: regrade.correct_key(s, actor=actor(), session_code=code,
                                              item_uid=form.get("item_uid", "").strip(),
                                              answer=form.get("answer", "").strip().upper(),
                                              credit_all=form.get("credit_all") == "1",
                                              reason=form.get("reason", "")),
               success=_("Key correction recorded. Check the dry run below, then apply it.")):  # fmt: skip
        return _back(code, "console.regrade_view")
    return _regrade_page(s, row, form, 400)


@roles_required(*GRADERS)
def regrade_apply(code: str):
    s, row = session_or_404(code)

    done: list[regrade.Change] = []

    def apply():
        shown = request.form.get("fingerprint", "")
        if _fingerprint(regrade.regrade(s, actor=actor(), session_code=code)) != shown:
            raise DomainError(_("The changes are no longer those the dry run showed; "
                                "check them again before applying."))  # fmt: skip
        done.extend(regrade.regrade(s, actor=actor(), session_code=code, apply=True,
                                    reason=request.form.get("reason", "")))  # fmt: skip

    if attempt(s, apply):
        flash(_("Regrade applied: %(n)s results changed.", n=len(done)), "info")
    return _back(code, "console.regrade_view")


# --- appeals ------------------------------------------------------------------------------------


@roles_required(*OVERSEERS)
def appeals_view(code: str):
    s, row = session_or_404(code)
    if request.method == "POST":
        if not current_user.has_role(*APPEAL_STAFF):
            abort(403)
        form = request.form
        attempt(s, lambda: appeals.lodge(s, actor=actor(),
                                         admission_number=form.get("admission_number", ""),
                                         part=form.get("part", ""),
                                         statement=form.get("statement", "")),
                success=_("Appeal recorded."))  # fmt: skip
        return _back(code, "console.appeals_view")
    people = {c.id: c for c in roster.candidates(s, row)}
    return render_template("console/grading/appeals.html", session=row,
                           appeals=appeals.appeals(s, row), people=people,
                           candidates=sorted(people.values(), key=lambda c: c.admission_number),
                           published=row.state in results.PUBLISHED_STATES,
                           can_handle=current_user.has_role(*APPEAL_STAFF),
                           part_labels=results.PART_LABELS, open_status=AppealStatus.OPEN)  # fmt: skip


@roles_required(*APPEAL_STAFF)
def appeal_resolve(code: str, appeal_id: int):
    s, row = session_or_404(code)
    appeal = s.get(Appeal, appeal_id)
    if appeal is None or appeal.session_id != row.id:
        abort(404)
    form = request.form
    upheld = form.get("decision") == "uphold"
    text = form.get("score", "").strip()
    score = None
    if upheld:
        try:
            score = float(text)
        except ValueError:
            flash(_("New score: enter a number from 0 to 100, not '%(text)s'.", text=text),
                  "error")  # fmt: skip
            return _back(code, "console.appeals_view")
    elif form.get("decision") != "dismiss":
        flash(_("Choose whether to uphold or dismiss the appeal."), "error")
        return _back(code, "console.appeals_view")
    attempt(s, lambda: appeals.resolve(s, actor=actor(), appeal_id=appeal_id, upheld=upheld,
                                       reason=form.get("reason", ""), score=score),
            success=_("Appeal #%(id)s resolved.", id=appeal_id))  # fmt: skip
    return _back(code, "console.appeals_view")
