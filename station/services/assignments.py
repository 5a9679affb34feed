"""Who works a session: assignments under the ratio, qualification, double-booking and recusal
rules, explained rather than just refused."""

from __future__ import annotations

from sqlmodel import Session, col, select

from station.models import Role, StaffUser
from station.models.scheduling import (
    Assignment,
    AssignmentRole,
    Candidate,
    ExaminerQualification,
    ExamSession,
    Recusal,
    Room,
    RoomKind,
)
from station.services import audit, site, staffing
from station.services.errors import DomainError, NotFound
from station.services.sessions import (
    ACTIVE,
    SHANGHAI,
    _require_editable,
    get_session,
    local,
    session_rooms,
    span,
    theory_rooms,
)

# --- staff -------------------------------------------------------------------------------------

ROLE_NEEDS = {
    AssignmentRole.INVIGILATOR: (Role.EXAMINER, Role.CHIEF_EXAMINER),
    AssignmentRole.EXAMINER: (Role.EXAMINER, Role.CHIEF_EXAMINER),
    AssignmentRole.CHIEF_EXAMINER: (Role.CHIEF_EXAMINER,),
    AssignmentRole.SUPERVISOR: (Role.SUPERVISOR,),
}
ASSIGNMENT_LABELS = {
    AssignmentRole.INVIGILATOR: "监考", AssignmentRole.EXAMINER: "考评员",
    AssignmentRole.CHIEF_EXAMINER: "考评组长", AssignmentRole.SUPERVISOR: "督导员",
}  # fmt: skip


def add_qualification(db: Session, *, actor: str, username: str, certificate_number: str,
                      programme: str, levels: list[str], valid_until=None) -> ExaminerQualification:  # fmt: skip
    user = _user(db, username)
    site.get_programme(db, programme)
    if not certificate_number.strip():
        raise DomainError("考评员证书编号不能为空")
    row = ExaminerQualification(user_id=user.id, certificate_number=certificate_number.strip(),
                                programme_code=programme, levels=",".join(levels),
                                valid_until=valid_until)  # fmt: skip
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="examiner.qualify", subject=f"user:{username}",
                 data={"certificate": certificate_number, "programme": programme,
                       "levels": levels, "valid_until": valid_until})  # fmt: skip
    return row


def _user(db: Session, username: str) -> StaffUser:
    user = db.exec(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None:
        raise NotFound(f"人员 '{username}' 不存在")
    return user


def assign(db: Session, *, actor: str, session_code: str, username: str, role: str,
           room: str | None = None) -> Assignment:  # fmt: skip
    """Assign a staff member, explaining every rule the assignment would break."""
    session = get_session(db, session_code)
    _require_editable(session)
    user = _user(db, username)
    try:
        assignment_role = AssignmentRole(role)
    except ValueError:
        raise DomainError(
            f"未知职责 '{role}'，可选：{', '.join(r.value for r in AssignmentRole)}"
        ) from None
    problems = []
    label = ASSIGNMENT_LABELS[assignment_role]
    if not user.active:
        problems.append(f"{user.display_name}（{username}）的账号已停用")
    if not user.has_role(*ROLE_NEEDS[assignment_role]):
        problems.append(f"{user.display_name}（{username}）没有担任{label}所需的角色")
    if assignment_role in (AssignmentRole.EXAMINER, AssignmentRole.CHIEF_EXAMINER):
        problems += _qualification_problems(db, user, session)
    room_id = None
    if assignment_role == AssignmentRole.INVIGILATOR:
        rooms = {r.code: r for r in theory_rooms(db, session)}
        if room not in rooms:
            problems.append(
                f"监考须指定本场次的理论考场（{'、'.join(rooms) or '无'}），而不是 '{room or ''}'"
            )
        else:
            room_id = rooms[room].id
    problems += _double_booking(db, user, session, assignment_role)
    if problems:
        raise DomainError(
            f"不能安排 {user.display_name} 担任场次 {session.code} 的{label}", problems
        )
    row = Assignment(session_id=session.id, user_id=user.id, role=assignment_role, room_id=room_id)
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="session.assign", subject=f"session:{session.code}",
                 data={"user": username, "role": role, "room": room})  # fmt: skip
    return row


def unassign(db: Session, *, actor: str, session_code: str, assignment_id: int) -> None:
    session = get_session(db, session_code)
    _require_editable(session)
    row = db.get(Assignment, assignment_id)
    if row is None or row.session_id != session.id:
        raise NotFound("该安排不存在")
    user = db.get(StaffUser, row.user_id)
    db.delete(row)
    db.flush()
    audit.record(db, actor=actor, action="session.unassign", subject=f"session:{session.code}",
                 data={"user": user.username, "role": row.role.value})  # fmt: skip


def _qualification_problems(db: Session, user: StaffUser, session: ExamSession) -> list[str]:
    programme = db.get(site.Programme, session.programme_id)
    exam_day = session.theory_start.astimezone(SHANGHAI).date()
    rows = db.exec(
        select(ExaminerQualification).where(ExaminerQualification.user_id == user.id)
    ).all()
    matching = [q for q in rows
                if q.programme_code == programme.code and session.level in q.levels.split(",")]  # fmt: skip
    if any(q.valid_until is None or q.valid_until >= exam_day for q in matching):
        return []  # a renewed certificate counts even when an expired one is also on file
    if matching:
        latest = max(matching, key=lambda q: q.valid_until)
        return [
            f"{user.display_name} 的考评员证 {latest.certificate_number} 已于 {latest.valid_until} 过期"
        ]
    return [f"{user.display_name} 没有 {programme.name}（{session.level}）的考评员资格"]


def _double_booking(db: Session, user: StaffUser, session: ExamSession,
                    role: AssignmentRole) -> list[str]:  # fmt: skip
    start, end = span(db, session)
    problems = []
    rows = db.exec(
        select(Assignment, ExamSession)
        .join(ExamSession, ExamSession.id == Assignment.session_id)
        .where(Assignment.user_id == user.id, col(ExamSession.state).in_(ACTIVE))
    ).all()
    for assignment, other in rows:
        if other.id == session.id:
            scoring = {AssignmentRole.EXAMINER, AssignmentRole.CHIEF_EXAMINER}
            if assignment.role == role or {assignment.role, role} <= scoring:
                # One person is one vote on the practical panel, whatever the title.
                problems.append(
                    f"{user.display_name} 已在本场次担任{ASSIGNMENT_LABELS[assignment.role]}"
                )
            continue
        o_start, o_end = span(db, other)
        if start < o_end and o_start < end:
            problems.append(f"{user.display_name} 已安排在场次 {other.code}（{local(o_start)}–{local(o_end)}），"
                            f"与本场次 {local(start)}–{local(end)} 时间重叠")  # fmt: skip
    return problems


def assignments(
    db: Session, session: ExamSession
) -> list[tuple[Assignment, StaffUser, Room | None]]:
    rows = db.exec(
        select(Assignment, StaffUser)
        .join(StaffUser, StaffUser.id == Assignment.user_id)
        .where(Assignment.session_id == session.id)
        .order_by(Assignment.role, StaffUser.username)
    ).all()
    return [(a, u, db.get(Room, a.room_id) if a.room_id else None) for a, u in rows]


def flag_related(db: Session, *, actor: str, session_code: str, username: str,
                 admission_number: str, reason: str) -> Recusal:  # fmt: skip
    """Record that an examiner is related to a candidate: they must not assess them."""
    session = get_session(db, session_code)
    user = _user(db, username)
    candidate = db.exec(
        select(Candidate).where(Candidate.admission_number == admission_number,
                                Candidate.session_id == session.id)
    ).first()  # fmt: skip
    if candidate is None:
        raise NotFound(f"场次 {session.code} 没有准考证号为 '{admission_number}' 的考生")
    if not reason.strip():
        raise DomainError("请填写回避原因")
    if db.exec(select(Recusal).where(Recusal.user_id == user.id,
                                     Recusal.candidate_id == candidate.id)).first():  # fmt: skip
        raise DomainError(f"{user.display_name} 与考生 {candidate.name} 的回避关系已登记")
    row = Recusal(user_id=user.id, candidate_id=candidate.id, reason=reason.strip())
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="recusal.flag", subject=f"candidate:{admission_number}",
                 reason=reason, data={"user": username})  # fmt: skip
    return row


def staffing_report(db: Session, session: ExamSession) -> list[str]:
    """Every way the session's staff falls short of the rules, given its current roster."""
    staff = assignments(db, session)
    candidates = db.exec(select(Candidate).where(Candidate.session_id == session.id)).all()
    problems = []
    for room in theory_rooms(db, session):
        in_room = sum(1 for c in candidates if c.room_id == room.id)
        invigilators = sum(1 for a, _, r in staff
                           if a.role == AssignmentRole.INVIGILATOR and r and r.id == room.id)  # fmt: skip
        problems += staffing.theory_problems(room.code, in_room, invigilators)
    practical = [(a, u) for a, u, _ in staff
                 if a.role in (AssignmentRole.EXAMINER, AssignmentRole.CHIEF_EXAMINER)]  # fmt: skip
    has_practical = any(r.kind == RoomKind.PRACTICAL for r, _ in session_rooms(db, session))
    if has_practical:
        problems += staffing.practical_problems(len(candidates), len(practical))
        if not any(a.role == AssignmentRole.CHIEF_EXAMINER for a, _ in practical):
            problems.append("技能考核需要一名考评组长")
        conflicts = recusals(db, session)
        problems += staffing.panel_problems(len(practical), conflicts)
    if not any(a.role == AssignmentRole.SUPERVISOR for a, _, _ in staff):
        problems.append("每个场次需要一名督导员")
    return problems


def recusals(db: Session, session: ExamSession) -> list[staffing.Conflict]:
    staff = [(a, u) for a, u, _ in assignments(db, session)
             if a.role in (AssignmentRole.EXAMINER, AssignmentRole.CHIEF_EXAMINER)]  # fmt: skip
    candidates = db.exec(select(Candidate).where(Candidate.session_id == session.id)).all()
    flagged = set(
        db.exec(
            select(StaffUser.username, Candidate.admission_number)
            .join(Recusal, Recusal.user_id == StaffUser.id)
            .join(Candidate, Candidate.id == Recusal.candidate_id)
            .where(Candidate.session_id == session.id)
        ).all()
    )
    return staffing.recusal_conflicts({u.username: u.organisation for _, u in staff},
                                      {c.admission_number: c.organisation for c in candidates},
                                      flagged)  # fmt: skip
