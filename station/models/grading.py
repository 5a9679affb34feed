"""Grading: examiners' practical marks, the chief examiner's decisions, key corrections,
versioned results, the supervisor's sign-off and appeals (复核)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import JSON, Column, Field, SQLModel

from station.models.common import utcnow


class PracticalMark(SQLModel, table=True):
    """One examiner's submitted marks for one candidate on one practical task. Final once in."""

    __tablename__ = "practical_mark"
    __table_args__ = (UniqueConstraint("candidate_id", "task_uid", "examiner_id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="exam_session.id", index=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    task_uid: str = Field(max_length=100)
    examiner_id: int = Field(foreign_key="staff_user.id", index=True)
    points: dict = Field(sa_column=Column(JSON, nullable=False))  # criterion code -> points
    vetoes: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    total: float
    note: str = ""
    submitted_at: datetime = Field(default_factory=utcnow)


class MarkDecision(SQLModel, table=True):
    """考评组长裁定: the chief examiner's ruling on a discrepancy or a raised veto."""

    __tablename__ = "mark_decision"
    __table_args__ = (UniqueConstraint("candidate_id", "task_uid"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="exam_session.id", index=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    task_uid: str = Field(max_length=100)
    points: float
    veto_upheld: bool = False
    reason: str
    decided_by: str = Field(max_length=64)
    decided_at: datetime = Field(default_factory=utcnow)


class ReviewScore(SQLModel, table=True):
    """综合评审: the panel's score for technician levels, entered by the chief examiner."""

    __tablename__ = "review_score"

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id", unique=True)
    score: float
    entered_by: str = Field(max_length=64)
    entered_at: datetime = Field(default_factory=utcnow)
    note: str = ""


class KeyCorrection(SQLModel, table=True):
    """A corrected answer key for one item of a bank version (the newest one counts)."""

    __tablename__ = "key_correction"

    id: int | None = Field(default=None, primary_key=True)
    bank_version_id: int = Field(foreign_key="bank_version.id", index=True)
    item_uid: str = Field(max_length=100)
    answer: str = Field(default="", max_length=20)  # corrected keys, sorted
    credit_all: bool = False  # 送分: every candidate who saw the item gets its points
    reason: str
    corrected_by: str = Field(max_length=64)
    corrected_at: datetime = Field(default_factory=utcnow)


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ABSENT = "absent"  # 缺考
    DISQUALIFIED = "disqualified"  # 违纪取消成绩


class Result(SQLModel, table=True):
    """A candidate's result. Version 1 is made by grading; after sign-off every change (regrade,
    appeal) adds a version and the old ones stay."""

    __tablename__ = "result"
    __table_args__ = (UniqueConstraint("candidate_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="exam_session.id", index=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    version: int = 1
    current: bool = Field(default=True, index=True)
    theory: float | None = None
    practical: float | None = None
    review: float | None = None
    outcome: Outcome = Field(max_length=16)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str = ""  # why this version exists
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def passed(self) -> bool:
        return self.outcome == Outcome.PASSED


class ResultSignoff(SQLModel, table=True):
    """督导员签字确认: locks the session's results. One per session, ever."""

    __tablename__ = "result_signoff"

    session_id: int = Field(foreign_key="exam_session.id", primary_key=True)
    signed_by: str = Field(max_length=64)
    signed_at: datetime = Field(default_factory=utcnow)
    note: str = ""
    results: int  # how many results were signed
    digest: str = Field(max_length=64)  # sha256 over the signed results, to show nothing moved


class AppealStatus(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"  # the result changed
    DISMISSED = "dismissed"  # the result stands


class Appeal(SQLModel, table=True):
    """复核申请: a candidate's request to have a part of their result checked again."""

    __tablename__ = "appeal"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="exam_session.id", index=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    part: str = Field(max_length=16)  # theory / practical / review
    statement: str
    lodged_by: str = Field(max_length=64)
    lodged_at: datetime = Field(default_factory=utcnow)
    status: AppealStatus = Field(default=AppealStatus.OPEN, max_length=12)
    resolution: str = ""
    resolved_by: str = Field(default="", max_length=64)
    resolved_at: datetime | None = None
    result_version: int | None = None  # the version the resolution made, if it changed anything
