"""The examiners' side of the theory exam: the live room view, actions on attempts, the report.

Every action needs a reason and is written both to the session's timeline (``AttemptEvent``)
and to the audit log.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from station.models import Attempt, AttemptEvent, AttemptStatus, EventKind
from station.models.exam import FINISHED
from station.models.scheduling import Candidate, CandidateStatus, ExamSession
from station.services import attempts, audit, roster, sessions
from station.services.errors import DomainError

IDLE_SECONDS = 60  # no request for this long: shown as idle
OFFLINE_SECONDS = 120  # and for this long: shown as offline
IRREGULARITY_CATEGORIES = {
    "cheating_material": "夹带/查阅资料",
    "communication": "交头接耳/传递信息",
    "device": "使用通讯或电子设备",
    "impersonation": "替考",
    "disruption": "扰乱考场秩序",
    "other": "其他",
}
STATUS_LABELS = {
    "absent": "缺考", "not_logged_in": "未登录", "not_started": "未开始", "in_progress": "作答中",
    "idle": "无操作", "offline": "离线", "paused": "已暂停", "submitted": "已交卷",
    "ended": "已终止", "disqualified": "已取消资格",
}  # fmt: skip


@dataclass
class SeatStatus:
    admission_number: str
    name: str
    room: str
    seat: int | None
    status: str  # a key of STATUS_LABELS
    answered: int
    total: int
    last_activity: datetime | None
    remaining_seconds: float | None
    pending_terminal: str  # the terminal asking to take over ("" when none), for approval
    notice: str


def room_status(db: Session, session: ExamSession, *, now: datetime,
                room: str | None = None) -> list[SeatStatus]:  # fmt: skip
    rooms = {r.id: r for r in sessions.theory_rooms(db, session)}
    by_candidate = {a.candidate_id: a for a in
                    db.exec(select(Attempt).where(Attempt.session_id == session.id))}  # fmt: skip
    rows = []
    for c in roster.candidates(db, session):
        r = rooms.get(c.room_id)
        if room and (r is None or r.code != room):
            continue
        a = by_candidate.get(c.id)
        rows.append(SeatStatus(
            admission_number=c.admission_number, name=c.name, room=r.code if r else "",
            seat=c.seat, status=_status(c, a, now), answered=a.answered if a else 0,
            total=a.total_items if a else 0, last_activity=a.seen_at if a else None,
            remaining_seconds=round(attempts.remaining_seconds(a, now), 1)
            if a and a.status not in FINISHED and a.status != AttemptStatus.NOT_STARTED else None,
            pending_terminal=a.pending_terminal if a else "", notice=a.notice if a else "",
        ))  # fmt: skip
    return rows


def _status(candidate: Candidate, attempt: Attempt | None, now: datetime) -> str:
    if attempt is None:
        return "absent" if candidate.status == CandidateStatus.ABSENT else "not_logged_in"
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return attempt.status.value
    quiet = (now - attempt.seen_at).total_seconds() if attempt.seen_at else 0
    if quiet >= OFFLINE_SECONDS:
        return "offline"
    return "idle" if quiet >= IDLE_SECONDS else "in_progress"


def _attempt(db: Session, admission_number: str) -> tuple[Attempt, Candidate]:
    candidate = roster.get_candidate(db, admission_number)
    attempt = db.exec(select(Attempt).where(Attempt.candidate_id == candidate.id)).first()
    if attempt is None:
        raise DomainError(f"考生 {candidate.name}（{admission_number}）尚未登录考试")
    return attempt, candidate


ACTIONS = {"pause", "resume", "extend", "irregularity", "end", "disqualify", "approve_terminal",
           "resume_code"}  # fmt: skip


def act(db: Session, *, actor: str, admission_number: str, action: str, reason: str,
        now: datetime, minutes: float | None = None, category: str = "",
        terminal: str = "") -> str:  # fmt: skip
    """Apply one examiner action to one candidate's attempt; returns what to tell the examiner.

    ``approve_terminal`` approves the terminal named by ``terminal`` — the one the examiner saw
    asking in the console — and refuses when a different terminal is asking by now.
    """
    if action not in ACTIONS:
        raise DomainError(f"未知操作 '{action}'")
    if not reason.strip():
        raise DomainError("请填写操作原因")
    attempt, candidate = _attempt(db, admission_number)
    who = f"{candidate.name}（{admission_number}）"
    attempts.expire_if_due(db, attempt, now)  # time already up: nothing may reopen it
    if attempt.status in FINISHED and action != "irregularity":
        raise DomainError(f"{who} 的作答已结束（{STATUS_LABELS[attempt.status.value]}）")
    fields: dict = {}
    data: dict = {}
    result = ""
    if action == "pause":
        if attempt.status != AttemptStatus.IN_PROGRESS:
            raise DomainError(f"{who} 当前不在作答中，无法暂停")
        attempts.stop_clock(attempt, now)
        attempt.status = AttemptStatus.PAUSED
        attempt.notice = f"考试已暂停：{reason}"
    elif action == "resume":
        if attempt.status != AttemptStatus.PAUSED:
            raise DomainError(f"{who} 未处于暂停状态")
        attempt.status = AttemptStatus.IN_PROGRESS
        attempt.running_since = now
        attempt.notice = ""
    elif action == "extend":
        if not minutes or not 0 < minutes <= 120:
            raise DomainError("延长时间须在 1–120 分钟之间")
        attempt.allowed_seconds += minutes * 60
        fields["seconds"] = minutes * 60
        attempt.notice = f"监考老师已为您延长 {minutes:g} 分钟：{reason}"
    elif action == "irregularity":
        if category not in IRREGULARITY_CATEGORIES:
            raise DomainError(f"请选择违纪类别：{'、'.join(IRREGULARITY_CATEGORIES.values())}")
        fields["category"] = category
    elif action in ("end", "disqualify"):
        attempts.stop_clock(attempt, now)
        attempt.status = AttemptStatus.ENDED if action == "end" else AttemptStatus.DISQUALIFIED
        attempt.finished_at = now
    elif action == "approve_terminal":
        _check_approval(attempt, who, terminal)
        attempt.approved_terminal = terminal
        code = attempts.terminal_code(terminal)
        data = {"terminal": terminal, "terminal_code": code}
        result = f"已批准终端 {code}，考生可在该终端继续作答"
    elif action == "resume_code":
        attempt.resume_code = f"{secrets.randbelow(10**6):06d}"
        result = f"续考码：{attempt.resume_code}"
    db.add(attempt)
    if fields:
        data = {"minutes": minutes, "category": category}
    shown = f"{reason}（终端 {data['terminal_code']}）" if "terminal_code" in data else reason
    db.add(AttemptEvent(attempt_id=attempt.id, kind=EventKind(action), actor=actor, reason=shown,
                        **fields))  # fmt: skip
    audit.record(db, actor=actor, action=f"attempt.{action}", subject=f"candidate:{admission_number}",
                 reason=reason, data=data)  # fmt: skip
    db.flush()
    return result


def _check_approval(attempt: Attempt, who: str, terminal: str) -> None:
    """The examiner approves the terminal they saw asking, and only while it is still the one."""
    if not attempt.pending_terminal:
        raise DomainError(f"{who} 没有待批准的新终端")
    if not terminal:
        raise DomainError("请指明要批准的终端：在监考台中选择该考生，核对其屏幕上的终端号后再批准")
    if terminal != attempt.pending_terminal:
        raise DomainError(
            f"{who} 请求继续作答的终端已变为 {attempts.terminal_code(attempt.pending_terminal)}，"
            f"不是您看到的 {attempts.terminal_code(terminal)}；请核对考生屏幕上的终端号后重新批准"
        )


def act_on_room(db: Session, *, actor: str, session_code: str, room: str, action: str,
                reason: str, now: datetime) -> int:  # fmt: skip
    """Pause or resume everyone in a room who can be; returns how many attempts changed."""
    if action not in ("pause", "resume"):
        raise DomainError("考场只能整体暂停或恢复")
    session = sessions.get_session(db, session_code)
    wanted = "in_progress" if action == "pause" else "paused"
    targets = [seat.admission_number for seat in room_status(db, session, now=now, room=room)
               if seat.status == wanted or (wanted == "in_progress" and seat.status in ("idle", "offline"))]  # fmt: skip
    for number in targets:
        act(db, actor=actor, admission_number=number, action=action, reason=reason, now=now)
    return len(targets)


@dataclass
class SessionReport:
    session: ExamSession
    attendance: dict[str, int]
    seats: list[SeatStatus]
    timeline: list[tuple[AttemptEvent, Candidate]]
    irregularities: list[tuple[AttemptEvent, Candidate]]


def report(db: Session, session: ExamSession, *, now: datetime) -> SessionReport:
    seats = room_status(db, session, now=now)
    people = {c.id: c for c in roster.candidates(db, session)}
    events = db.exec(
        select(AttemptEvent, Attempt.candidate_id)
        .join(Attempt, Attempt.id == AttemptEvent.attempt_id)
        .where(Attempt.session_id == session.id)
        .where(col(AttemptEvent.kind).not_in([EventKind.LOGIN]))
        .order_by(AttemptEvent.at)
    ).all()
    timeline = [(e, people[cid]) for e, cid in events]
    attendance = {
        "registered": len(people),
        "present": sum(c.status == CandidateStatus.PRESENT for c in people.values()),
        "absent": sum(c.status == CandidateStatus.ABSENT for c in people.values()),
        "late": sum(c.late for c in people.values()),
        "submitted": sum(s.status == "submitted" for s in seats),
    }
    return SessionReport(session=session, attendance=attendance, seats=seats, timeline=timeline,
                         irregularities=[t for t in timeline if t[0].kind == EventKind.IRREGULARITY])  # fmt: skip
