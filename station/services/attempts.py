"""The candidate's side of the theory exam: login, the form, the clock, saving answers, submitting.

The server keeps the only clock. An attempt's time used is ``elapsed_seconds`` plus, while it
runs, the time since ``running_since``; pauses stop it, and so does the station being down
(:func:`compensate_downtime`). Saves carry a per-attempt sequence number and only ever replace an
older value, so a late or repeated request cannot undo a newer answer (``answers``); forms
are drawn by ``exam_forms``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from question_bank.items import TRUE_FALSE_KEYS
from station.models import (
    Answer,
    Attempt,
    AttemptEvent,
    AttemptForm,
    AttemptStatus,
    BankVersion,
    EventKind,
)
from station.models.exam import FINISHED, StationClock
from station.models.scheduling import Candidate, CandidateStatus, ExamSession, Room, SessionState
from station.services import banks, exam_forms
from station.services.errors import DomainError

GRACE_SECONDS = 15  # saves are still taken this long after the deadline (network latency)
TERMINAL_IDLE_SECONDS = 120  # after this, a silent terminal no longer blocks a login elsewhere


class ExamError(Exception):
    """A refusal the API turns into ``{"error": code, "message": ...}`` with ``status``."""

    def __init__(self, code: str, message: str, status: int = 400, **extra):
        self.code, self.message, self.status = code, message, status
        self.extra = extra  # further fields of the JSON answer (e.g. ``retry_after``)
        super().__init__(message)


# --- the clock ---------------------------------------------------------------------------------


def used_seconds(attempt: Attempt, now: datetime) -> float:
    running = (now - attempt.running_since).total_seconds() if attempt.running_since else 0.0
    return attempt.elapsed_seconds + max(running, 0.0)


def remaining_seconds(attempt: Attempt, now: datetime) -> float:
    return max(attempt.allowed_seconds - used_seconds(attempt, now), 0.0)


def stop_clock(attempt: Attempt, now: datetime) -> None:
    attempt.elapsed_seconds = used_seconds(attempt, now)
    attempt.running_since = None


def deadline(attempt: Attempt, now: datetime) -> datetime | None:
    if attempt.running_since is None:
        return None
    return now + timedelta(seconds=remaining_seconds(attempt, now))


def heartbeat(db: Session, now: datetime) -> None:
    db.merge(StationClock(id=1, alive_at=now))


def compensate_downtime(db: Session, now: datetime) -> float:
    """At start-up: the time since the last heartbeat was downtime; no running clock counts it."""
    clock = db.get(StationClock, 1)
    down = (now - clock.alive_at).total_seconds() if clock else 0.0
    if down > 0:
        for attempt in db.exec(select(Attempt).where(col(Attempt.running_since).is_not(None))):
            attempt.running_since = attempt.running_since + timedelta(seconds=down)
            db.add(attempt)
    heartbeat(db, now)
    db.flush()
    return max(down, 0.0)


# --- login and state ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """What the read-only half of a login found out."""

    candidate_id: int
    # This very terminal holds the attempt already, or an examiner approved it: a throttle
    # on the admission number (``login_throttle``) does not apply to it.
    trusted_here: bool
    drawn: exam_forms.DrawnForm | None  # the form, when the candidate has no attempt yet


def terminal_code(terminal: str) -> str:
    """A short code for a terminal, shown on its login page and in the examiners' console, so
    that the examiner approves the terminal the candidate is actually sitting at."""
    return hashlib.sha256(terminal.encode()).hexdigest()[:6].upper()


def prepare_login(db: Session, *, admission_number: str, id_last6: str,
                  terminal: str) -> Prepared:  # fmt: skip
    """The read-only first half of a login, run without the write turn.

    It checks who is asking and, at a first login, draws the form, so that a room of
    candidates logging in together do not queue behind each other's assembly for the write
    lock. :func:`login` then re-checks everything in a short write and keeps the form unless
    another request of the same candidate won the race.
    """
    candidate, session = _admissible(db, admission_number, id_last6, terminal)
    attempt = db.exec(select(Attempt).where(Attempt.candidate_id == candidate.id)).first()
    if attempt is not None:
        _refuse_finished(attempt)
        trusted = terminal in (attempt.terminal, attempt.approved_terminal)
        return Prepared(candidate.id, trusted, None)
    return Prepared(candidate.id, False, exam_forms.draw(db, candidate, session))


@dataclass(frozen=True)
class LoggedIn:
    attempt: Attempt
    state: dict  # as :func:`state` gives it


def login(db: Session, *, admission_number: str, id_last6: str, terminal: str,
          resume_code: str = "", now: datetime, prepared: Prepared | None = None) -> LoggedIn:  # fmt: skip
    """Let a checked-in candidate in on ``terminal``; a second terminal needs an examiner's yes
    (or the resume code an examiner gave out)."""
    candidate, session = _admissible(db, admission_number, id_last6, terminal)
    attempt, new_form = _attempt_for(db, candidate, session, prepared)
    _refuse_finished(attempt)
    if attempt.terminal and attempt.terminal != terminal and _terminal_busy(attempt, now):
        code_given = bool(resume_code.strip())
        if (
            code_given
            and attempt.resume_code
            and secrets.compare_digest(resume_code.strip(), attempt.resume_code)
        ):
            attempt.approved_terminal = terminal
            _event(db, attempt, EventKind.APPROVE_TERMINAL, "candidate", "凭续考码在新终端继续")
        if attempt.approved_terminal != terminal:
            attempt.pending_terminal = terminal
            db.add(attempt)
            if code_given:
                raise ExamError("bad_resume_code",
                                "续考码不正确，请核对后重新输入，或等待监考老师在监考台批准本机",
                                409, terminal_code=terminal_code(terminal))  # fmt: skip
            raise ExamError(
                "awaiting_approval",
                "本场考试已在另一台终端上进行，请举手示意监考老师批准本机继续作答",
                409,
                terminal_code=terminal_code(terminal),
            )
    attempt.terminal = terminal
    attempt.pending_terminal = attempt.approved_terminal = attempt.resume_code = ""
    attempt.seen_at = now
    _store(db, attempt, new_form)
    _event(db, attempt, EventKind.LOGIN, "candidate", f"终端 {terminal[:12]}")
    db.flush()
    return LoggedIn(attempt, _describe(db, attempt, candidate, session, now))


def ask_for_approval(db: Session, *, admission_number: str, id_last6: str, terminal: str,
                     prepared: Prepared) -> bool:  # fmt: skip
    """A login held back by the throttle (``login_throttle``) still shows the examiners which
    terminal asked, when the credentials were right, so that they can approve it; the
    candidate's answer does not say whether they were. True when a request was recorded."""
    try:
        candidate, session = _admissible(db, admission_number, id_last6, terminal)
        attempt, new_form = _attempt_for(db, candidate, session, prepared)
        _refuse_finished(attempt)
    except ExamError:
        return False
    attempt.pending_terminal = terminal
    _store(db, attempt, new_form)
    db.flush()
    return True


def _admissible(db: Session, admission_number: str, id_last6: str,
                terminal: str) -> tuple[Candidate, ExamSession]:  # fmt: skip
    candidate = db.exec(
        select(Candidate).where(Candidate.admission_number == admission_number.strip())
    ).first()
    if candidate is None or not secrets.compare_digest(
        candidate.id_number[-6:].upper(), id_last6.strip().upper()
    ):
        raise ExamError("credentials", "准考证号或证件号码后六位不正确", 401)
    if not terminal or len(terminal) > 64:
        raise ExamError("bad_terminal", "终端标识无效", 400)
    session = db.get(ExamSession, candidate.session_id)
    if session.state != SessionState.IN_PROGRESS:
        raise ExamError("not_open", "本场考试尚未开始或已经结束，请听从监考老师安排", 403)
    if candidate.status != CandidateStatus.PRESENT:
        raise ExamError("not_checked_in", "您尚未完成检录，请先到检录台签到", 403)
    return candidate, session


def _refuse_finished(attempt: Attempt) -> None:
    if attempt.status == AttemptStatus.DISQUALIFIED:
        raise ExamError("disqualified", "您已被取消本场考试资格", 403)
    if attempt.status in FINISHED:
        raise ExamError("finished", "您已交卷，本场考试已结束", 403)


def _terminal_busy(attempt: Attempt, now: datetime) -> bool:
    """Once started, the attempt belongs to its terminal; before that, only while it is active."""
    if attempt.status != AttemptStatus.NOT_STARTED:
        return True
    return (
        attempt.seen_at is not None
        and (now - attempt.seen_at).total_seconds() < TERMINAL_IDLE_SECONDS
    )


def _attempt_for(db: Session, candidate: Candidate, session: ExamSession,
                 prepared: Prepared | None) -> tuple[Attempt, dict | None]:  # fmt: skip
    """The candidate's attempt; or a new one, not stored yet, and the form to store with it (so
    that a first login writes each row once: see :func:`_store`)."""
    drawn = prepared.drawn if prepared and prepared.candidate_id == candidate.id else None
    attempt = db.exec(select(Attempt).where(Attempt.candidate_id == candidate.id)).first()
    if attempt is not None:
        if drawn is not None:  # another request of this candidate got there first
            exam_forms.give_back(drawn)
        return attempt, None
    drawn = drawn or exam_forms.draw(db, candidate, session)
    attempt = Attempt(candidate_id=candidate.id, session_id=session.id,
                      total_items=drawn.total_items,
                      allowed_seconds=session.theory_minutes * 60.0)  # fmt: skip
    return attempt, drawn.form


def _store(db: Session, attempt: Attempt, new_form: dict | None) -> None:
    db.add(attempt)
    if new_form is not None:
        db.flush()  # the new attempt's id
        db.add(AttemptForm(attempt_id=attempt.id, form=new_form))


def authorise(db: Session, *, attempt_id: int, terminal: str, now: datetime,
              expire: bool = True) -> Attempt:  # fmt: skip
    """The attempt behind a token, if this terminal still holds it.

    With ``expire`` (requests that write anyway), an attempt past its deadline is submitted on
    the spot; reads leave that to the exam clock job, which runs every two seconds.
    """
    attempt = db.get(Attempt, attempt_id)
    if attempt is None:
        raise ExamError("unauthorized", "登录已失效，请重新登录", 401)
    if attempt.terminal != terminal:
        raise ExamError("moved", "本场考试已在其他终端继续", 401)
    if expire:
        expire_if_due(db, attempt, now)
    return attempt


def lateness(session: ExamSession, now: datetime) -> float:
    """Seconds a candidate starting now has missed: counted from the scheduled start, or from
    the moment the exam actually opened when that was later."""
    began = max(session.theory_start, session.opened_at or session.theory_start)
    return max((now - began).total_seconds(), 0.0)


def start(db: Session, attempt: Attempt, *, now: datetime) -> Attempt:
    if attempt.status != AttemptStatus.NOT_STARTED:
        return attempt
    session = db.get(ExamSession, attempt.session_id)
    # A late start loses the time since the exam opened: everyone's exam ends together.
    attempt.elapsed_seconds = lateness(session, now)
    attempt.running_since = now
    attempt.started_at = now
    attempt.status = AttemptStatus.IN_PROGRESS
    db.add(attempt)
    _event(db, attempt, EventKind.START, "candidate")
    expire_if_due(db, attempt, now)
    return attempt


def state(db: Session, attempt: Attempt, *, now: datetime) -> dict:
    """What the exam page shows: status, the time left by the server's clock, who and where."""
    candidate = db.get(Candidate, attempt.candidate_id)
    session = db.get(ExamSession, attempt.session_id)
    return _describe(db, attempt, candidate, session, now)


def _describe(db: Session, attempt: Attempt, candidate: Candidate, session: ExamSession,
              now: datetime) -> dict:  # fmt: skip
    room = db.get(Room, candidate.room_id) if candidate.room_id else None
    due = deadline(attempt, now)
    remaining = remaining_seconds(attempt, now)
    if attempt.status == AttemptStatus.NOT_STARTED:  # what start() will leave: late is late
        remaining = max(remaining - lateness(session, now), 0.0)
    return {
        "status": attempt.status.value,
        "remaining_seconds": round(remaining, 1),
        "deadline": due.isoformat() if due else None,
        "server_now": now.isoformat(),
        "answered": attempt.answered,
        "total": attempt.total_items,
        "last_seq": attempt.last_seq,
        "candidate": {"name": candidate.name, "admission_number": candidate.admission_number,
                      "seat": candidate.seat, "room": room.name if room else ""},
        "session": {"title": session.title, "minutes": session.theory_minutes},
        "message": attempt.notice or None,
    }  # fmt: skip


def form_view(db: Session, attempt: Attempt) -> dict:
    """The items as the candidate sees them, in their order, without the key."""
    if attempt.status == AttemptStatus.NOT_STARTED:
        raise ExamError("not_started", "请先阅读考试须知并开始答题", 403)
    entries = exam_forms.attempt_form(db, attempt)["entries"]
    by_uid = exam_forms.bank(db, db.get(ExamSession, attempt.session_id)).by_uid
    items = []
    for n, entry in enumerate(entries, 1):
        item = by_uid[entry["uid"]]
        texts = {o.key: o.text for o in item.options}
        options = [{"key": k, "text": texts.get(k) or TRUE_FALSE_KEYS.get(k, k)}
                   for k in entry["option_order"]]  # fmt: skip
        items.append({"uid": item.uid, "index": n, "type": item.type.value, "stem": item.stem,
                      "options": options, "points": entry["points"]})  # fmt: skip
    answers = {
        a.item_uid: {"response": list(a.response), "flagged": a.flagged, "seq": a.seq}
        for a in db.exec(select(Answer).where(Answer.attempt_id == attempt.id))
    }
    return {"items": items, "answers": answers}


def bank_version_id(db: Session, attempt: Attempt) -> int:
    return db.get(ExamSession, attempt.session_id).bank_version_id


def media(db: Session, *, version_id: int, name: str) -> bytes:
    """A picture from the bank an exam is drawn from (the URL to it was signed by the station)."""
    version = db.get(BankVersion, version_id)
    if version is None:
        raise ExamError("not_found", "图片不存在", 404)
    try:
        return banks.get_media(db, version, name)
    except DomainError:
        raise ExamError("not_found", "图片不存在", 404) from None


# --- saving: see station.services.answers ------------------------------------------------------


def sql_stamp(moment: datetime) -> str:
    """A UTC time as SQLAlchemy stores it in SQLite, for the plain-SQL paths."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


# --- finishing ---------------------------------------------------------------------------------


def submit(db: Session, attempt: Attempt, *, now: datetime, seq: int | None = None,
           actor: str = "candidate", kind: EventKind = EventKind.SUBMIT) -> Attempt:  # fmt: skip
    if attempt.status in FINISHED:
        return attempt
    stop_clock(attempt, now)
    attempt.status = AttemptStatus.SUBMITTED
    attempt.finished_at = now
    db.add(attempt)
    _event(db, attempt, kind, actor, f"最后序号 {seq}" if seq is not None else "")
    return attempt


def expire_if_due(db: Session, attempt: Attempt, now: datetime) -> bool:
    """Submit at the deadline (plus the grace for saves in flight); True when it did."""
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return False
    if attempt.allowed_seconds - used_seconds(attempt, now) >= -GRACE_SECONDS:
        return False
    over = used_seconds(attempt, now) - attempt.allowed_seconds
    submit(
        db, attempt, now=now - timedelta(seconds=over), actor="system", kind=EventKind.AUTO_SUBMIT
    )
    return True


def due_attempt_ids(db: Session, now: datetime) -> list[int]:
    """Attempts whose time is up, found by the database without loading any form."""
    rows = db.connection().execute(
        text("SELECT id FROM attempt WHERE status = 'IN_PROGRESS' AND running_since IS NOT NULL "
             "AND elapsed_seconds + (julianday(:now) - julianday(running_since)) * 86400.0 "
             "> allowed_seconds + :grace"),
        {"now": sql_stamp(now), "grace": GRACE_SECONDS},
    )  # fmt: skip
    return [row.id for row in rows]


def expire_due(db: Session, now: datetime, ids: list[int] | None = None) -> int:
    """The job: submit every attempt whose time is up."""
    count = 0
    for attempt_id in due_attempt_ids(db, now) if ids is None else ids:
        count += expire_if_due(db, db.get(Attempt, attempt_id), now)
    return count


def _event(db: Session, attempt: Attempt, kind: EventKind, actor: str, reason: str = "",
           **fields) -> None:  # fmt: skip
    db.add(AttemptEvent(attempt_id=attempt.id, kind=kind, actor=actor, reason=reason, **fields))
