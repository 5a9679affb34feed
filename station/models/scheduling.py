"""Programmes, the site's rooms, exam sessions and who works them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from station.models.common import utcnow


class Programme(SQLModel, table=True):
    """职业技能等级证书: a certificate scheme with its pass rule."""

    __tablename__ = "programme"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=64)
    name: str = Field(max_length=200)
    occupation_code: str = Field(default="", max_length=32)  # 职业编码, e.g. 6-31-01-10
    occupation: str = Field(default="", max_length=200)
    direction: str = Field(default="", max_length=200)  # 职业方向
    issuer_name: str = Field(default="", max_length=200)
    levels: str = Field(default="初级,中级,高级", max_length=200)  # comma-separated
    theory_pass: float = 60
    practical_pass: float = 60
    review_pass: float = 60
    review_levels: str = Field(default="二级,一级,技师,高级技师", max_length=100)  # 综合评审 levels
    mc_rule: str = Field(default="all_or_nothing", max_length=20)  # scoring.MultipleChoiceRule
    reconcile_method: str = Field(default="mean", max_length=10)  # scoring.Reconciliation
    spread_limit: float = 10  # percent of a task's maximum the examiners' totals may differ by

    @property
    def level_list(self) -> list[str]:
        return [v for v in self.levels.split(",") if v]


class RoomKind(StrEnum):
    THEORY = "theory"  # 理论考场 (computer room)
    PRACTICAL = "practical"  # 实操考场 with workstations


class Room(SQLModel, table=True):
    __tablename__ = "room"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=32)
    name: str = Field(max_length=100)
    kind: RoomKind = Field(max_length=10)
    seats: int  # theory seats, or practical workstations (工位)


class SessionState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    CHECK_IN = "check_in"
    IN_PROGRESS = "in_progress"
    GRADING = "grading"
    REVIEW = "review"
    PUBLISHED = "published"
    CERTIFIED = "certified"
    CLOSED = "closed"


class ExamSession(SQLModel, table=True):
    """批次/场次: one scheduled assessment at this site."""

    __tablename__ = "exam_session"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=32)
    title: str = Field(max_length=200)
    programme_id: int = Field(foreign_key="programme.id", index=True)
    level: str = Field(max_length=20)
    bank_version_id: int = Field(foreign_key="bank_version.id")
    blueprint: str = Field(max_length=100)
    theory_start: datetime  # UTC
    theory_minutes: int = 90
    checkin_minutes: int = 30  # check-in opens this long before the theory start
    state: SessionState = Field(default=SessionState.DRAFT, max_length=20, index=True)
    # When the theory exam actually opened. A late opening must not cost candidates time, so
    # lateness is counted from the later of this and ``theory_start``.
    opened_at: datetime | None = None
    practical_tasks: str = Field(default="", max_length=500)  # task uids, comma-separated; "" = all
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class SessionRoom(SQLModel, table=True):
    """A room a session uses, with the time it holds it (theory window or a practical slot)."""

    __tablename__ = "session_room"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="exam_session.id", index=True)
    room_id: int = Field(foreign_key="room.id", index=True)
    starts_at: datetime
    ends_at: datetime


class AssignmentRole(StrEnum):
    INVIGILATOR = "invigilator"  # 监考, theory rooms
    EXAMINER = "examiner"  # 考评员, practical scoring
    CHIEF_EXAMINER = "chief_examiner"  # 考评组长
    SUPERVISOR = "supervisor"  # 督导员


class Assignment(SQLModel, table=True):
    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("session_id", "user_id", "role", "room_id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="exam_session.id", index=True)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    role: AssignmentRole = Field(max_length=20)
    room_id: int | None = Field(default=None, foreign_key="room.id")


class ExaminerQualification(SQLModel, table=True):
    """考评员证: which programme and levels a staff member may assess, and until when."""

    __tablename__ = "examiner_qualification"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    certificate_number: str = Field(max_length=64)
    programme_code: str = Field(max_length=64)
    levels: str = Field(max_length=200)  # levels the examiner may assess, comma-separated
    valid_until: date | None = None


class CandidateStatus(StrEnum):
    REGISTERED = "registered"
    PRESENT = "present"
    ABSENT = "absent"


class Candidate(SQLModel, table=True):
    __tablename__ = "candidate"
    __table_args__ = (
        UniqueConstraint("session_id", "id_type", "id_number"),
        UniqueConstraint("session_id", "room_id", "seat"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="exam_session.id", index=True)
    admission_number: str = Field(unique=True, index=True, max_length=32)
    name: str = Field(max_length=50)
    gender: str = Field(max_length=1)  # M / F
    id_type: str = Field(max_length=32)
    id_number: str = Field(max_length=32, index=True)
    birth_date: date | None = None
    organisation: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=20)
    photo: bytes | None = None
    room_id: int | None = Field(default=None, foreign_key="room.id")
    seat: int | None = None
    status: CandidateStatus = Field(default=CandidateStatus.REGISTERED, max_length=12)
    checked_in_at: datetime | None = None
    checked_in_by: str = Field(default="", max_length=64)
    late: bool = False


class Recusal(SQLModel, table=True):
    """回避: this examiner may not assess this candidate (flagged relationship)."""

    __tablename__ = "recusal"
    __table_args__ = (UniqueConstraint("user_id", "candidate_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    reason: str = ""
