"""Exam sessions (批次/场次): planning, rooms and times, staff assignment, the state machine."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from question_bank.coverage import check_feasibility
from question_bank.errors import BlueprintError
from station.models import Bank, BankVersion
from station.models.common import utcnow
from station.models.scheduling import (
    ExamSession,
    Room,
    RoomKind,
    SessionRoom,
    SessionState,
)
from station.services import audit, banks, site
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
    practical_tasks: list[str] = field(default_factory=list)  # task uids; default: every active one


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
    if version is not None and not version.locked and plan.practical_tasks:
        active = {t.uid for t in banks.load_tasks(db, version) if t.status == "active"}
        problems += [f"实操任务 '{uid}' 不在题库版本 {version.version} 的有效任务中"
                     for uid in plan.practical_tasks if uid not in active]  # fmt: skip
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
                          practical_tasks=",".join(plan.practical_tasks), created_by=actor)  # fmt: skip
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


def _require_editable(session: ExamSession) -> None:
    if session.state not in EDITABLE:
        raise DomainError(f"场次 {session.code} 已“{STATE_LABELS[session.state]}”，不能再修改安排")
