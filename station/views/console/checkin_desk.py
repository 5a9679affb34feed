from flask import jsonify, render_template, request, url_for

from certs import identity
from station.auth import actor, roles_required
from station.models import Role
from station.models.scheduling import Room
from station.services import checkin, roster, sessions
from station.services.errors import DomainError
from station.views.console.common import json_attempt, session_or_404

DESK = (Role.ADMIN, Role.EXAMINER, Role.CHIEF_EXAMINER)


def _candidate_json(s, candidate) -> dict:
    room = s.get(Room, candidate.room_id) if candidate.room_id else None
    return {
        "admission_number": candidate.admission_number,
        "name": candidate.name,
        "gender": {"M": "男", "F": "女"}.get(candidate.gender, candidate.gender),
        "masked_id": identity.mask_id(candidate.id_number),
        "organisation": candidate.organisation,
        "room": room.name if room else "",
        "seat": candidate.seat,
        "status": candidate.status.value,
        "late": candidate.late,
        "photo": url_for("console.candidate_photo", admission_number=candidate.admission_number)
        if candidate.photo else None,
    }  # fmt: skip


def _result(s, result: checkin.CheckInResult) -> dict:
    return {"already": result.already, "candidate": _candidate_json(s, result.candidate)}


@roles_required(*DESK)
def desk(code: str):
    s, row = session_or_404(code)
    return render_template("console/sessions/checkin.html", session=row,
                           counts=checkin.room_counts(s, row),
                           state_label=sessions.STATE_LABELS[row.state])  # fmt: skip


@roles_required(*DESK)
def scan(code: str):
    """Check in by the ticket QR (typed by a USB scanner or read by the webcam)."""
    s, row = session_or_404(code)
    token = (request.get_json(silent=True) or request.form).get("token", "")
    return json_attempt(s, lambda: _result(s, checkin.check_in_token(
        s, actor=actor(), session_code=code, token=token)))  # fmt: skip


@roles_required(*DESK)
def confirm(code: str):
    """Check in a candidate found by search, after the examiner has compared the photo."""
    s, row = session_or_404(code)
    number = (request.get_json(silent=True) or request.form).get("admission_number", "")

    def action():
        if roster.get_candidate(s, number).session_id != row.id:
            raise DomainError(f"考生 {number} 不属于本场次 {code}")
        return _result(s, checkin.check_in(s, actor=actor(), admission_number=number))

    return json_attempt(s, action)


@roles_required(*DESK)
def find(code: str):
    s, row = session_or_404(code)
    return jsonify(candidates=[_candidate_json(s, c)
                               for c in checkin.search(s, row, request.args.get("q", ""))])  # fmt: skip


@roles_required(*DESK)
def counts(code: str):
    s, row = session_or_404(code)
    return jsonify(state=row.state.value, rooms=[
        {"room": c.room, "seats": c.seats, "total": c.total, "present": c.present,
         "late": c.late, "absent": c.absent, "waiting": c.waiting}
        for c in checkin.room_counts(s, row)])  # fmt: skip


@roles_required(Role.ADMIN, Role.CHIEF_EXAMINER)
def absentees(code: str):
    s, row = session_or_404(code)
    return json_attempt(s, lambda: {"absent": len(checkin.mark_absent(s, actor=actor(),
                                                                      session_code=code))})  # fmt: skip
