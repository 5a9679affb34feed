"""Exam sessions (批次/场次): planning, rooms and times, staff assignment, the state machine."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from question_bank.coverage import check_feasibility
from question_bank.errors import BlueprintError
from station.models import Attempt, Bank, BankVersion, Role, StaffUser
from station.models.common import utcnow
from station.models.exam import FINISHED
from station.models.scheduling import (
    Assignment,
    AssignmentRole,
    Candidate,
    ExaminerQualification,
    ExamSession,
    Recusal,
    Room,
    RoomKind,
    SessionRoom,
    SessionState,
)
from station.services import audit, banks, site, staffing
from station.services.errors import DomainError, NotFound

SHANGHAI = ZoneInfo("Asia/Shanghai")
SESSION_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{1,19}")
MIN_THEORY_MINUTES = 90
S = SessionState

# Which state may follow which. Later states are driven by grading, sign-off and issuance.
TRANSITIONS: dict[SessionState, set[SessionState]] = {
    S.DRAFT: {S.SCHEDULED},
    S.SCHEDULED: {S.DRAFT, S.CHECK_IN},
    S.CHECK_IN: {S.IN_PROGRESS},
    S.IN_PROGRESS: {S.GRADING},
    S.GRADING: {S.REVIEW},
    S.REVIEW: {S.PUBLISHED, S.GRADING},
    S.PUBLISHED: {S.CERTIFIED},
    S.CERTIFIED: {S.CLOSED},
    S.CLOSED: set(),
}
STATE_LABELS = {
    S.DRAFT: "草稿", S.SCHEDULED: "已排期", S.CHECK_IN: "检录中", S.IN_PROGRESS: "考试中",
    S.GRADING: "评分中", S.REVIEW: "审核中", S.PUBLISHED: "成绩已发布", S.CERTIFIED: "已发证",
    S.CLOSED: "已结束",
}  # fmt: skip
# A session still holds its rooms and staff until it is closed.
ACTIVE = [s for s in SessionState if s != S.CLOSED]
EDITABLE = {S.DRAFT, S.SCHEDULED}


def parse_local_time(text: str, what: str = "时间") -> datetime:
    """'2026-12-05 09:00' in Asia/Shanghai → aware UTC; a clear error on anything else."""
    text = (text or "").strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            local = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return local.replace(tzinfo=SHANGHAI).astimezone(UTC)
    raise DomainError(
        f"{what} '{text}' 无效：格式应为 YYYY-MM-DD HH:MM（北京时间），且为真实存在的日期"
    )


def local(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@dataclass
class SessionPlan:
    code: str
    title: str
    programme: str  # programme code
    level: str
    bank: str  # bank code
    theory_start: datetime  # aware
    theory_rooms: list[str]
    theory_minutes: int = MIN_THEORY_MINUTES
    bank_version: str | None = None  # default: the bank's newest
    blueprint: str | None = None  # default: the bank version's first
    practical_slots: list[tuple[str, datetime, datetime]] = field(default_factory=list)


def create_session(db: Session, *, actor: str, plan: SessionPlan,
                   now: datetime | None = None) -> ExamSession:  # fmt: skip
    """Create a draft session; every problem with the plan is reported at once."""
    problems: list[str] = []
    now = now or utcnow()
    code = plan.code.strip()
    if not SESSION_CODE.fullmatch(code):
        problems.append(f"场次编号 '{code}' 须为 2–20 位字母、数字或连字符（它是准考证号的前缀）")
    elif db.exec(select(ExamSession).where(ExamSession.code == code)).first():
        problems.append(f"场次编号 {code} 已存在")
    programme = _lookup(problems, site.get_programme, db, plan.programme)
    if programme and plan.level not in programme.level_list:
        problems.append(
            f"等级 '{plan.level}' 不属于证书项目 {programme.code}（可选：{'、'.join(programme.level_list)}）"
        )
    version, blueprint = _bank_version(db, plan, problems)
    if plan.theory_minutes < MIN_THEORY_MINUTES:
        problems.append(
            f"理论考试时长不少于 {MIN_THEORY_MINUTES} 分钟，而不是 {plan.theory_minutes} 分钟"
        )
    if plan.theory_start <= now:
        problems.append(f"理论考试开始时间 {local(plan.theory_start)} 已过")
    theory_end = plan.theory_start + timedelta(minutes=plan.theory_minutes)
    bookings = _room_bookings(db, plan, theory_end, problems)
    if problems:
        raise DomainError(f"无法创建场次 {code}", problems)
    session = ExamSession(code=code, title=plan.title.strip() or code, programme_id=programme.id,
                          level=plan.level, bank_version_id=version.id, blueprint=blueprint,
                          theory_start=plan.theory_start, theory_minutes=plan.theory_minutes,
                          created_by=actor)  # fmt: skip
    db.add(session)
    db.flush()
    for room, start, end in bookings:
        db.add(SessionRoom(session_id=session.id, room_id=room.id, starts_at=start, ends_at=end))
    db.flush()
    audit.record(db, actor=actor, action="session.create", subject=f"session:{code}",
                 data={"programme": plan.programme, "level": plan.level,
                       "bank": plan.bank, "version": version.version, "blueprint": blueprint,
                       "theory_start": plan.theory_start.isoformat(),
                       "rooms": [(r.code, s.isoformat(), e.isoformat()) for r, s, e in bookings]})  # fmt: skip
    return session


def _lookup(problems: list[str], getter, db: Session, key: str):
    try:
        return getter(db, key)
    except NotFound as exc:
        problems.append(exc.message)
        return None


def _bank_version(db: Session, plan: SessionPlan, problems: list[str]):
    bank = _lookup(problems, banks.get_bank, db, plan.bank)
    if bank is None:
        return None, None
    try:
        version = banks.get_version(db, bank, plan.bank_version)
    except NotFound as exc:
        problems.append(exc.message)
        return None, None
    if version.locked:
        problems.append(f"题库 {bank.code} 版本 {version.version} 已加密，请先输入解锁码")
        return version, plan.blueprint
    try:
        bp = banks.get_blueprint(db, version, plan.blueprint)
    except NotFound as exc:
        problems.append(exc.message)
        return version, plan.blueprint
    try:
        check_feasibility(bp, banks.load_items(db, version))
    except BlueprintError as exc:
        problems.append(f"题库 {bank.code} 版本 {version.version} 不能满足细目表 {bp.name}")
        problems.extend(exc.shortfalls)
    return version, bp.name


def _room_bookings(db: Session, plan: SessionPlan, theory_end: datetime,
                   problems: list[str]) -> list[tuple[Room, datetime, datetime]]:  # fmt: skip
    wanted: list[tuple[str, datetime, datetime, RoomKind]] = [
        (code, plan.theory_start, theory_end, RoomKind.THEORY) for code in plan.theory_rooms
    ]
    wanted += [(code, s, e, RoomKind.PRACTICAL) for code, s, e in plan.practical_slots]
    if not plan.theory_rooms:
        problems.append("至少需要一个理论考场")
    bookings = []
    for code, start, end, kind in wanted:
        room = _lookup(problems, site.get_room, db, code)
        if room is None:
            continue
        if room.kind != kind:
            problems.append(f"考场 {code} 是{'理论' if room.kind == RoomKind.THEORY else '实操'}考场，不能用作"
                            f"{'理论' if kind == RoomKind.THEORY else '实操'}考场")  # fmt: skip
            continue
        if end <= start:
            problems.append(f"考场 {code} 的结束时间 {local(end)} 须晚于开始时间 {local(start)}")
            continue
        for other, o_start, o_end in bookings:
            if other.id == room.id and start < o_end and o_start < end:
                problems.append(
                    f"考场 {code} 在本场次内的时段 {local(start)} 与 {local(o_start)} 重叠"
                )
        clash = _overlapping_booking(db, room.id, start, end)
        if clash is not None:
            other_session, o_start, o_end = clash
            problems.append(f"考场 {code} 在 {local(o_start)}–{local(o_end)} 已被场次 "
                            f"{other_session.code} 占用，与 {local(start)}–{local(end)} 重叠")  # fmt: skip
        bookings.append((room, start, end))
    return bookings


def _overlapping_booking(db: Session, room_id: int, start: datetime, end: datetime,
                         exclude_session: int | None = None):  # fmt: skip
    stmt = (
        select(ExamSession, SessionRoom.starts_at, SessionRoom.ends_at)
        .join(SessionRoom, SessionRoom.session_id == ExamSession.id)
        .where(SessionRoom.room_id == room_id, col(ExamSession.state).in_(ACTIVE),
               SessionRoom.starts_at < end, SessionRoom.ends_at > start)
    )  # fmt: skip
    if exclude_session is not None:
        stmt = stmt.where(ExamSession.id != exclude_session)
    return db.exec(stmt).first()


# --- reading -----------------------------------------------------------------------------------


def get_session(db: Session, code: str) -> ExamSession:
    session = db.exec(select(ExamSession).where(ExamSession.code == code)).first()
    if session is None:
        raise NotFound(f"场次 '{code}' 不存在")
    return session


def list_sessions(db: Session, *, state: str = "", programme: str = "",
                  date_from: datetime | None = None,
                  date_to: datetime | None = None) -> list[ExamSession]:  # fmt: skip
    stmt = select(ExamSession)
    if state:
        stmt = stmt.where(ExamSession.state == state)
    if programme:
        stmt = stmt.where(ExamSession.programme_id == site.get_programme(db, programme).id)
    if date_from:
        stmt = stmt.where(ExamSession.theory_start >= date_from)
    if date_to:
        stmt = stmt.where(ExamSession.theory_start < date_to)
    return list(db.exec(stmt.order_by(ExamSession.theory_start)))


def session_rooms(db: Session, session: ExamSession) -> list[tuple[Room, SessionRoom]]:
    return list(
        db.exec(
            select(Room, SessionRoom)
            .join(SessionRoom, SessionRoom.room_id == Room.id)
            .where(SessionRoom.session_id == session.id)
            .order_by(SessionRoom.starts_at, Room.code)
        )
    )


def theory_rooms(db: Session, session: ExamSession) -> list[Room]:
    return [room for room, _ in session_rooms(db, session) if room.kind == RoomKind.THEORY]


def capacity(db: Session, session: ExamSession) -> int:
    return sum(room.seats for room in theory_rooms(db, session))


def span(db: Session, session: ExamSession) -> tuple[datetime, datetime]:
    rows = session_rooms(db, session)
    return min(sr.starts_at for _, sr in rows), max(sr.ends_at for _, sr in rows)


def bank_label(db: Session, session: ExamSession) -> str:
    version = db.get(BankVersion, session.bank_version_id)
    bank = db.get(Bank, version.bank_id)
    return f"{bank.code} v{version.version}"


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


# --- state machine -----------------------------------------------------------------------------


def transition(db: Session, *, actor: str, session_code: str, to: str, reason: str = "",
               now: datetime | None = None) -> ExamSession:  # fmt: skip
    """Move a session to ``to`` if the machine allows it and the session is ready."""
    session = get_session(db, session_code)
    try:
        target = SessionState(to)
    except ValueError:
        raise DomainError(f"未知状态 '{to}'") from None
    if target not in TRANSITIONS[session.state]:
        allowed = "、".join(STATE_LABELS[s] for s in TRANSITIONS[session.state]) or "无"
        raise DomainError(f"场次 {session.code} 当前为“{STATE_LABELS[session.state]}”，不能转为"
                          f"“{STATE_LABELS[target]}”（可转为：{allowed}）")  # fmt: skip
    problems = _readiness(db, session, target, now or utcnow())
    if problems:
        raise DomainError(f"场次 {session.code} 不能转为“{STATE_LABELS[target]}”", problems)
    before = session.state
    session.state = target
    db.add(session)
    db.flush()
    audit.record(db, actor=actor, action="session.transition", subject=f"session:{session.code}",
                 reason=reason, data={"from": before.value, "to": target.value})  # fmt: skip
    return session


def _readiness(db: Session, session: ExamSession, target: SessionState, now: datetime) -> list[str]:
    count = db.exec(
        select(func.count()).select_from(Candidate).where(Candidate.session_id == session.id)
    ).one()
    if target == S.SCHEDULED:
        return staffing_report(db, session)
    if target == S.CHECK_IN:
        problems = [] if count else ["花名册为空，请先导入考生"]
        return problems + staffing_report(db, session)
    if target == S.IN_PROGRESS and now < session.theory_start - timedelta(minutes=5):
        return [f"理论考试 {local(session.theory_start)} 开始，尚未到开考时间"]
    if target == S.GRADING:
        return _theory_still_running(db, session, now)
    if target in NOT_YET_AVAILABLE:
        # Grading, sign-off and issuance are not built yet: nothing may pretend to have done them.
        return [f"“{STATE_LABELS[target]}”需要成绩评定、督导审核与发证功能，本站点版本尚未提供"]
    return []


NOT_YET_AVAILABLE = {S.REVIEW, S.PUBLISHED, S.CERTIFIED, S.CLOSED}


def _theory_still_running(db: Session, session: ExamSession, now: datetime) -> list[str]:
    end = session.theory_start + timedelta(minutes=session.theory_minutes)
    open_attempts = [a for a in db.exec(select(Attempt).where(Attempt.session_id == session.id))
                     if a.status not in FINISHED]  # fmt: skip
    if now < end or open_attempts:
        left = len(open_attempts)
        return [f"理论考试尚未结束（{local(end)} 结束，仍有 {left} 名考生未交卷）"]
    return []


def _require_editable(session: ExamSession) -> None:
    if session.state not in EDITABLE:
        raise DomainError(f"场次 {session.code} 已“{STATE_LABELS[session.state]}”，不能再修改安排")


def due_transitions(db: Session, now: datetime) -> list[tuple[str, SessionState]]:
    """What the clock asks for: check-in opens before the theory start, the exam at it."""
    due = []
    for session in db.exec(
        select(ExamSession).where(col(ExamSession.state).in_([S.SCHEDULED, S.CHECK_IN]))
    ):
        opens = session.theory_start - timedelta(minutes=session.checkin_minutes)
        if session.state == S.SCHEDULED and now >= opens:
            due.append((session.code, S.CHECK_IN))
        elif session.state == S.CHECK_IN and now >= session.theory_start:
            due.append((session.code, S.IN_PROGRESS))
    return due
