"""Check-in (检录) on exam day: by ticket QR, or by search; absentees and late arrivals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from certs import ticket_token
from station.models.common import utcnow
from station.models.scheduling import Candidate, CandidateStatus, ExamSession, SessionState
from station.services import audit, keys, roster, sessions
from station.services.errors import DomainError

OPEN = {SessionState.CHECK_IN, SessionState.IN_PROGRESS}
LATE_ENTRY_MINUTES = 15  # the rule printed on every admission ticket


@dataclass
class CheckInResult:
    candidate: Candidate
    already: bool  # was checked in before; nothing changed


def check_in_token(db: Session, *, actor: str, session_code: str, token: str,
                   now: datetime | None = None) -> CheckInResult:  # fmt: skip
    """Check in the holder of a scanned ticket after verifying its signature."""
    try:
        claims = ticket_token.verify_ticket(token, keys=keys.public_keys(db))
    except ticket_token.TicketError as exc:
        raise DomainError("准考证二维码无效", [str(exc)]) from None
    if claims.session_code != session_code:
        raise DomainError(f"该准考证属于场次 {claims.session_code}，不是本场次 {session_code}")
    return check_in(db, actor=actor, admission_number=claims.admission_number, now=now)


def check_in(db: Session, *, actor: str, admission_number: str,
             now: datetime | None = None) -> CheckInResult:  # fmt: skip
    candidate = roster.get_candidate(db, admission_number)
    session = db.get(ExamSession, candidate.session_id)
    _require_open(session)
    if candidate.status == CandidateStatus.PRESENT:
        return CheckInResult(candidate, already=True)
    now = now or utcnow()
    cutoff = session.theory_start + timedelta(minutes=LATE_ENTRY_MINUTES)
    if now > cutoff:
        raise DomainError(f"开考 {LATE_ENTRY_MINUTES} 分钟后（{sessions.local(cutoff)} 起）不得入场："
                          f"{candidate.name}（{admission_number}）不能再签到")  # fmt: skip
    was = candidate.status.value
    candidate.status = CandidateStatus.PRESENT
    candidate.checked_in_at = now
    candidate.checked_in_by = actor
    candidate.late = now > session.theory_start
    db.add(candidate)
    db.flush()
    audit.record(db, actor=actor, action="candidate.check_in", subject=f"candidate:{admission_number}",
                 data={"late": candidate.late, "was": was})  # fmt: skip
    return CheckInResult(candidate, already=False)


def mark_absent(db: Session, *, actor: str, session_code: str,
                now: datetime | None = None) -> list[Candidate]:  # fmt: skip
    """Once the theory exam has started, everyone not checked in is recorded absent."""
    session = sessions.get_session(db, session_code)
    _require_open(session)
    if (now or utcnow()) < session.theory_start:
        raise DomainError(f"理论考试 {sessions.local(session.theory_start)} 开始后才能登记缺考")
    missing = db.exec(select(Candidate).where(Candidate.session_id == session.id,
                                              Candidate.status == CandidateStatus.REGISTERED)).all()  # fmt: skip
    for candidate in missing:
        candidate.status = CandidateStatus.ABSENT
        db.add(candidate)
    db.flush()
    audit.record(db, actor=actor, action="session.absentees", subject=f"session:{session.code}",
                 data={"absent": [c.admission_number for c in missing]})  # fmt: skip
    return list(missing)


def search(db: Session, session: ExamSession, query: str, limit: int = 20) -> list[Candidate]:
    """By name, admission number, or the ID number (whole or its last digits)."""
    query = query.strip()
    if not query:
        return []
    return list(db.exec(
        select(Candidate).where(
            Candidate.session_id == session.id,
            or_(col(Candidate.name).contains(query), Candidate.admission_number == query,
                col(Candidate.id_number).endswith(query.upper())),
        ).order_by(Candidate.admission_number).limit(limit)
    ))  # fmt: skip


@dataclass
class RoomCount:
    room: str
    seats: int
    total: int
    present: int
    late: int
    absent: int

    @property
    def waiting(self) -> int:
        return self.total - self.present - self.absent


def room_counts(db: Session, session: ExamSession) -> list[RoomCount]:
    everyone = roster.candidates(db, session)
    counts = []
    for room in sessions.theory_rooms(db, session):
        mine = [c for c in everyone if c.room_id == room.id]
        counts.append(RoomCount(
            room=room.code, seats=room.seats, total=len(mine),
            present=sum(c.status == CandidateStatus.PRESENT for c in mine),
            late=sum(c.late for c in mine),
            absent=sum(c.status == CandidateStatus.ABSENT for c in mine),
        ))  # fmt: skip
    return counts


def _require_open(session: ExamSession) -> None:
    if session.state not in OPEN:
        raise DomainError(f"场次 {session.code} 当前为“{sessions.STATE_LABELS[session.state]}”，"
                          "检录尚未开始或已结束")  # fmt: skip
