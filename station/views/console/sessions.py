from datetime import timedelta

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from station import config as station_config
from station import db
from station.auth import actor, roles_required
from station.models import Role, StaffUser
from station.models.scheduling import AssignmentRole, Programme, SessionState
from station.services import assignments, banks, checkin, lifecycle, roster, sessions, site, tickets
from station.services.errors import DomainError, NotFound
from station.views.console.common import PDF, XLSX, attempt, download, flash_error, session_or_404

STAFF = (Role.ADMIN, Role.EXAMINER, Role.CHIEF_EXAMINER, Role.SUPERVISOR)


def _back(code: str):
    return redirect(url_for("console.session_detail", code=code))


@roles_required(*STAFF)
def session_list():
    s = db.get_session()
    filters = {k: request.args.get(k, "").strip() for k in ("state", "programme", "from", "to")}
    try:
        date_from = (
            sessions.parse_local_time(filters["from"] + " 00:00") if filters["from"] else None
        )
        date_to = (sessions.parse_local_time(filters["to"] + " 00:00") + timedelta(days=1)
                   if filters["to"] else None)  # fmt: skip
        rows = sessions.list_sessions(s, state=filters["state"], programme=filters["programme"],
                                      date_from=date_from, date_to=date_to)  # fmt: skip
    except DomainError as exc:
        flash_error(exc)
        rows = []
    by_day: dict[str, list] = {}
    for row in rows:
        by_day.setdefault(sessions.local(row.theory_start)[:10], []).append(row)
    programmes = {p.id: p for p in site.list_programmes(s)}
    return render_template("console/sessions/list.html", by_day=by_day, filters=filters,
                           programmes=programmes, states=list(SessionState),
                           labels=sessions.STATE_LABELS, local=sessions.local)  # fmt: skip


@roles_required(Role.ADMIN)
def session_new():
    s = db.get_session()
    form = request.form if request.method == "POST" else {}
    if request.method == "POST":
        try:
            slots = []
            for room_code, start, end in zip(form.getlist("slot_room"), form.getlist("slot_start"),
                                             form.getlist("slot_end"), strict=False):  # fmt: skip
                if room_code:
                    slots.append((room_code, sessions.parse_local_time(start, "实操开始时间"),
                                  sessions.parse_local_time(end, "实操结束时间")))  # fmt: skip
            plan = sessions.SessionPlan(
                code=form.get("code", ""), title=form.get("title", ""),
                programme=form.get("programme", ""), level=form.get("level", ""),
                bank=form.get("bank", ""), blueprint=form.get("blueprint") or None,
                theory_start=sessions.parse_local_time(form.get("start", ""), "理论考试开始时间"),
                theory_minutes=int(form.get("minutes") or sessions.MIN_THEORY_MINUTES),
                theory_rooms=form.getlist("rooms"), practical_slots=slots,
            )  # fmt: skip
            created = sessions.create_session(s, actor=actor(), plan=plan)
        except ValueError:
            flash(_("Duration must be a whole number of minutes."), "error")
        except DomainError as exc:
            s.rollback()
            flash_error(exc)
        else:
            s.commit()
            flash(_("Session %(code)s created as a draft.", code=created.code), "info")
            return _back(created.code)
    return render_template("console/sessions/new.html", form=form,
                           programmes=site.list_programmes(s), rooms=site.list_rooms(s),
                           banks=banks.list_banks(s)), 400 if request.method == "POST" else 200  # fmt: skip


@roles_required(*STAFF)
def session_detail(code: str):
    s, row = session_or_404(code)
    rooms = {r.id: r for r in site.list_rooms(s)}
    return render_template(
        "console/sessions/detail.html", session=row, programme=s.get(Programme, row.programme_id),
        bank=sessions.bank_label(s, row), session_rooms=sessions.session_rooms(s, row),
        staff=assignments.assignments(s, row), candidates=roster.candidates(s, row), rooms=rooms,
        problems=assignments.staffing_report(s, row), conflicts=assignments.recusals(s, row),
        counts=checkin.room_counts(s, row), next_states=sorted(sessions.TRANSITIONS[row.state]),
        labels=sessions.STATE_LABELS, role_labels=assignments.ASSIGNMENT_LABELS,
        roles=list(AssignmentRole), users=_assignable_users(s), local=sessions.local,
        editable=row.state in sessions.EDITABLE,
        capacity=sessions.capacity(s, row),
    )  # fmt: skip


def _assignable_users(s):
    return list(s.exec(select(StaffUser).where(StaffUser.active).order_by(StaffUser.username)))


@roles_required(Role.ADMIN)
def session_assign(code: str):
    s, row = session_or_404(code)
    form = request.form
    attempt(s, lambda: assignments.assign(s, actor=actor(), session_code=code,
                                       username=form.get("username", ""), role=form.get("role", ""),
                                       room=form.get("room") or None),
            success=_("Assigned."))  # fmt: skip
    return _back(code)


@roles_required(Role.ADMIN)
def session_unassign(code: str, assignment_id: int):
    s, row = session_or_404(code)
    attempt(s, lambda: assignments.unassign(s, actor=actor(), session_code=code,
                                         assignment_id=assignment_id))  # fmt: skip
    return _back(code)


@roles_required(Role.ADMIN)
def session_recuse(code: str):
    s, row = session_or_404(code)
    form = request.form
    attempt(s, lambda: assignments.flag_related(s, actor=actor(), session_code=code,
                                             username=form.get("username", ""),
                                             admission_number=form.get("admission_number", ""),
                                             reason=form.get("reason", "")),
            success=_("Recusal recorded."))  # fmt: skip
    return _back(code)


@roles_required(Role.ADMIN, Role.CHIEF_EXAMINER)
def session_transition(code: str):
    s, row = session_or_404(code)
    if attempt(s, lambda: lifecycle.transition(s, actor=actor(), session_code=code,
                                              to=request.form.get("to", ""),
                                              reason=request.form.get("reason", ""))):  # fmt: skip
        flash(_("Session %(code)s is now: %(state)s", code=code,
                state=sessions.STATE_LABELS[row.state]), "info")  # fmt: skip
    return _back(code)


@roles_required(Role.ADMIN)
def roster_upload(code: str):
    s, row = session_or_404(code)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a file to import."), "error")
        return _back(code)
    added = []
    if attempt(s, lambda: added.extend(roster.import_roster(
            s, actor=actor(), session_code=code, filename=upload.filename, data=upload.read()))):  # fmt: skip
        flash(_("%(n)s candidates imported.", n=len(added)), "info")
    return _back(code)


@roles_required(*STAFF)
def roster_template():
    from station.roster_file import roster_template as template

    return download(template(), "roster-template.xlsx", XLSX)


@roles_required(Role.ADMIN)
def candidate_seat(code: str, admission_number: str):
    s, row = session_or_404(code)
    seat = request.form.get("seat", "")
    attempt(s, lambda: roster.move_seat(s, actor=actor(), session_code=code, admission_number=admission_number,
                                        room=request.form.get("room", ""),
                                        seat=int(seat) if seat.isdigit() else 0))  # fmt: skip
    return _back(code)


@roles_required(*STAFF)
def session_tickets(code: str):
    s, row = session_or_404(code)
    candidate = request.args.get("candidate") or None
    try:
        pdf = tickets.render(s, session_code=code, admission_number=candidate,
                             passphrase=station_config.key_passphrase(current_app.config),
                             site_name=current_app.config["STATION_NAME"])  # fmt: skip
    except DomainError as exc:
        flash_error(exc)
        return _back(code)
    name = f"tickets-{code}-{candidate}.pdf" if candidate else f"tickets-{code}.pdf"
    return download(pdf, name, PDF, inline=True)


@roles_required(*STAFF)
def candidate_photo(admission_number: str):
    s = db.get_session()
    try:
        candidate = roster.get_candidate(s, admission_number)
    except NotFound:
        abort(404)
    if not candidate.photo:
        abort(404)
    mimetype = "image/png" if candidate.photo[:4] == b"\x89PNG" else "image/jpeg"
    return Response(
        candidate.photo, mimetype=mimetype, headers={"Cache-Control": "private, max-age=300"}
    )
