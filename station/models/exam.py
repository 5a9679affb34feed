"""Theory exam delivery: each candidate's attempt, their answers, and what examiners did."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import JSON, Column, Field, SQLModel

from station.models.common import utcnow


class AttemptStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    SUBMITTED = "submitted"
    ENDED = "ended"  # ended by an examiner
    DISQUALIFIED = "disqualified"


FINISHED = {AttemptStatus.SUBMITTED, AttemptStatus.ENDED, AttemptStatus.DISQUALIFIED}


class Attempt(SQLModel, table=True):
    """作答: one candidate's sitting of the theory exam.

    The clock: ``elapsed_seconds`` holds the time used up to ``running_since``; while the clock
    runs, the time used is that plus (now − running_since). Pauses stop it, and so does the
    station being down (its heartbeat tells how long, see ``StationClock``).
    """

    __tablename__ = "attempt"

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id", unique=True)
    session_id: int = Field(foreign_key="exam_session.id", index=True)
    total_items: int  # on the form (the form itself is in AttemptForm, away from the hot row)
    status: AttemptStatus = Field(default=AttemptStatus.NOT_STARTED, max_length=16, index=True)
    allowed_seconds: float  # the session's duration plus any extra time granted
    elapsed_seconds: float = 0
    running_since: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_seq: int = 0
    answered: int = 0
    terminal: str = Field(default="", max_length=64)  # the terminal that holds the attempt
    seen_at: datetime | None = None  # last request from that terminal
    pending_terminal: str = Field(default="", max_length=64)  # asking to take over
    approved_terminal: str = Field(default="", max_length=64)  # an examiner said yes
    resume_code: str = Field(default="", max_length=12)
    notice: str = ""  # shown on the candidate's screen (extra time, pause reason)


class AttemptForm(SQLModel, table=True):
    """The form an attempt was given (``question_bank.assembly.Form``). Kept out of ``attempt``
    because that row is rewritten on every save, and SQLite rewrites a row whole."""

    __tablename__ = "attempt_form"

    attempt_id: int = Field(foreign_key="attempt.id", primary_key=True)
    form: dict = Field(sa_column=Column(JSON, nullable=False))


class Answer(SQLModel, table=True):
    __tablename__ = "answer"
    __table_args__ = (UniqueConstraint("attempt_id", "item_uid"),)

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="attempt.id", index=True)
    item_uid: str = Field(max_length=100)
    response: str = Field(default="", max_length=20)  # chosen option keys, sorted ("" = none)
    flagged: bool = False
    seq: int  # the attempt's change counter when this value was made
    saved_at: datetime = Field(default_factory=utcnow)


class EventKind(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    EXTEND = "extend"
    IRREGULARITY = "irregularity"
    END = "end"
    DISQUALIFY = "disqualify"
    APPROVE_TERMINAL = "approve_terminal"
    RESUME_CODE = "resume_code"
    LOGIN = "login"
    START = "start"
    SUBMIT = "submit"
    AUTO_SUBMIT = "auto_submit"


class AttemptEvent(SQLModel, table=True):
    """The session's timeline: what happened to which attempt, by whom and why."""

    __tablename__ = "attempt_event"

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="attempt.id", index=True)
    kind: EventKind = Field(max_length=20)
    actor: str = Field(max_length=64)
    reason: str = ""
    category: str = Field(default="", max_length=40)  # irregularity category
    seconds: float | None = None  # extra time granted
    at: datetime = Field(default_factory=utcnow)


class StationClock(SQLModel, table=True):
    """The station's heartbeat, so a restart can tell how long it was down."""

    __tablename__ = "station_clock"

    id: int = Field(default=1, primary_key=True)
    alive_at: datetime
