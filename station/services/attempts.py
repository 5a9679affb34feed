"""The candidate's side of the theory exam: login, the form, the clock, saving answers, submitting.

The server keeps the only clock. An attempt's time used is ``elapsed_seconds`` plus, while it
runs, the time since ``running_since``; pauses stop it, and so does the station being down
(:func:`compensate_downtime`). Saves carry a per-attempt sequence number and only ever replace an
older value, so a late or repeated request cannot undo a newer answer.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from question_bank import assembly
from question_bank.coverage import active_items
from question_bank.items import TRUE_FALSE_KEYS, ItemType
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
from station.services import banks
from station.services.errors import DomainError

GRACE_SECONDS = 15  # saves are still taken this long after the deadline (network latency)
TERMINAL_IDLE_SECONDS = 120  # after this, a silent terminal no longer blocks a login elsewhere


class ExamError(Exception):
    """A refusal the API turns into ``{"error": code, "message": ...}`` with ``status``."""

    def __init__(self, code: str, message: str, status: int = 400):
        self.code, self.message, self.status = code, message, status
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


def login(db: Session, *, admission_number: str, id_last6: str, terminal: str,
          resume_code: str = "", now: datetime) -> Attempt:  # fmt: skip
    """Let a checked-in candidate in on ``terminal``; a second terminal needs an examiner's yes."""
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
    attempt = _attempt_for(db, candidate, session)
    if attempt.status == AttemptStatus.DISQUALIFIED:
        raise ExamError("disqualified", "您已被取消本场考试资格", 403)
    if attempt.status in FINISHED:
        raise ExamError("finished", "您已交卷，本场考试已结束", 403)
    if attempt.terminal and attempt.terminal != terminal and _terminal_busy(attempt, now):
        if (
            resume_code
            and attempt.resume_code
            and secrets.compare_digest(resume_code.strip(), attempt.resume_code)
        ):
            attempt.approved_terminal = terminal
            _event(db, attempt, EventKind.APPROVE_TERMINAL, "candidate", "凭续考码在新终端继续")
        if attempt.approved_terminal != terminal:
            attempt.pending_terminal = terminal
            db.add(attempt)
            raise ExamError(
                "awaiting_approval",
                "本场考试已在另一台终端上进行，请举手示意监考老师批准本机继续作答",
                409,
            )
    attempt.terminal = terminal
    attempt.pending_terminal = attempt.approved_terminal = attempt.resume_code = ""
    attempt.seen_at = now
    db.add(attempt)
    _event(db, attempt, EventKind.LOGIN, "candidate", f"终端 {terminal[:12]}")
    db.flush()
    return attempt


def _terminal_busy(attempt: Attempt, now: datetime) -> bool:
    """Once started, the attempt belongs to its terminal; before that, only while it is active."""
    if attempt.status != AttemptStatus.NOT_STARTED:
        return True
    return (
        attempt.seen_at is not None
        and (now - attempt.seen_at).total_seconds() < TERMINAL_IDLE_SECONDS
    )


def _attempt_for(db: Session, candidate: Candidate, session: ExamSession) -> Attempt:
    attempt = db.exec(select(Attempt).where(Attempt.candidate_id == candidate.id)).first()
    if attempt is not None:
        return attempt
    bp, items, target = _bank(db, session)
    form = assembly.assemble(bp, items, seed=session.id * 1_000_003 + candidate.id,
                             exposure=_exposure(db, session), target_difficulty=target)  # fmt: skip
    attempt = Attempt(candidate_id=candidate.id, session_id=session.id,
                      total_items=len(form.entries),
                      allowed_seconds=session.theory_minutes * 60.0)  # fmt: skip
    db.add(attempt)
    db.flush()
    db.add(AttemptForm(attempt_id=attempt.id, form=form.to_dict()))
    db.flush()
    return attempt


def attempt_form(db: Session, attempt: Attempt) -> dict:
    return db.get(AttemptForm, attempt.id).form


# An unlocked bank version never changes: its items are parsed once per process and database.
_BANKS: dict[tuple[str, int, str], tuple] = {}


def _bank(db: Session, session: ExamSession):
    key = (str(db.get_bind().url), session.bank_version_id, session.blueprint)
    if key not in _BANKS:
        version = db.get(BankVersion, session.bank_version_id)
        items = banks.load_items(db, version)
        _BANKS[key] = (banks.get_blueprint(db, version, session.blueprint), items,
                       assembly.mean_difficulty(active_items(items)))  # fmt: skip
    return _BANKS[key]


def _exposure(db: Session, session: ExamSession) -> dict[str, int]:
    """How often each item is already on this session's forms (least-used first), counted by
    the database from the stored forms rather than by parsing them here."""
    rows = db.connection().execute(
        text("SELECT json_extract(entry.value, '$.uid') AS uid, count(*) AS n "
             "FROM attempt JOIN attempt_form ON attempt_form.attempt_id = attempt.id, "
             "json_each(attempt_form.form, '$.entries') AS entry "
             "WHERE attempt.session_id = :session GROUP BY uid"),
        {"session": session.id},
    )  # fmt: skip
    return {row.uid: row.n for row in rows}


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
    candidate = db.get(Candidate, attempt.candidate_id)
    session = db.get(ExamSession, attempt.session_id)
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
    version = db.get(BankVersion, db.get(ExamSession, attempt.session_id).bank_version_id)
    entries = attempt_form(db, attempt)["entries"]
    by_uid = {i.uid: i for i in banks.load_items(db, version, uids=[e["uid"] for e in entries])}
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


# --- saving ------------------------------------------------------------------------------------

# Forms never change once drawn, so the answer rules for each attempt are kept in memory,
# per database (a process may serve, or a test may open, more than one).
_RULES: dict[tuple[str, int], dict[str, tuple[str, frozenset[str]]]] = {}


def _rules(cursor, database: str, attempt_id: int) -> dict[str, tuple[str, frozenset[str]]]:
    rules = _RULES.get((database, attempt_id))
    if rules is None:
        (form,) = cursor.execute(
            "SELECT form FROM attempt_form WHERE attempt_id = ?", (attempt_id,)
        ).fetchone()
        entries = json.loads(form)["entries"]
        rules = {e["uid"]: (e["item_type"], frozenset(e["option_order"])) for e in entries}
        _RULES[(database, attempt_id)] = rules
    return rules


@dataclass
class SaveResult:
    ack: int
    applied: bool
    saved_at: datetime
    remaining_seconds: float


def save_answer(cursor, *, database: str, attempt_id: int, terminal: str, uid: str, seq: int,
                response: list[str], flagged: bool, now: datetime) -> SaveResult:  # fmt: skip
    """Store one change if it is newer than what the server has.

    The hottest path of the station, so it speaks plain SQL on a DB-API ``cursor`` whose
    connection already holds the write lock (``station.answer_writer`` batches these).
    """
    row = cursor.execute(
        "UPDATE attempt SET seen_at = ? WHERE id = ? AND terminal = ? "
        "RETURNING status, allowed_seconds, elapsed_seconds, running_since",
        (_stamp(now), attempt_id, terminal),
    ).fetchone()
    if row is None:
        raise ExamError("moved", "本场考试已在其他终端继续", 401)
    status_name, allowed, elapsed, running_since = row
    status = AttemptStatus[status_name]  # SQLAlchemy stores enum members by name
    if status == AttemptStatus.PAUSED:
        raise ExamError("paused", "考试已暂停，答案将在恢复后保存", 423)
    if status in FINISHED:
        raise ExamError("finished", "本场考试已结束", 409)
    if status == AttemptStatus.NOT_STARTED:
        raise ExamError("not_started", "请先开始答题", 403)
    since = _parse_time(running_since)
    remaining = allowed - elapsed - ((now - since).total_seconds() if since else 0)
    if remaining < -GRACE_SECONDS:
        raise ExamError("time_up", "考试时间已到", 409)
    rule = _rules(cursor, database, attempt_id).get(uid)
    if rule is None:
        raise ExamError("unknown_item", f"试卷中没有试题 {uid}", 400)
    item_type, keys = rule
    chosen = sorted(set(response))
    if not set(chosen) <= keys or (item_type != ItemType.MULTIPLE_CHOICE and len(chosen) > 1):
        raise ExamError("bad_response", f"试题 {uid} 的答案 {chosen} 无效", 400)
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq < 2**62:
        raise ExamError("bad_seq", "序号无效", 400)
    applied = cursor.execute(
        "INSERT INTO answer (attempt_id, item_uid, response, flagged, seq, saved_at) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (attempt_id, item_uid) DO UPDATE SET response = excluded.response, "
        "flagged = excluded.flagged, seq = excluded.seq, saved_at = excluded.saved_at "
        "WHERE excluded.seq > answer.seq",
        (attempt_id, uid, "".join(chosen), int(flagged), seq, _stamp(now)),
    ).rowcount == 1  # fmt: skip
    cursor.execute(
        "UPDATE attempt SET last_seq = max(last_seq, ?), answered = "
        "(SELECT count(*) FROM answer WHERE attempt_id = ? AND response != '') WHERE id = ?",
        (seq, attempt_id, attempt_id),
    )
    return SaveResult(ack=seq, applied=applied, saved_at=now, remaining_seconds=max(remaining, 0.0))


def _stamp(moment: datetime) -> str:
    """A UTC time as SQLAlchemy stores it in SQLite, for the plain-SQL paths."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _parse_time(value) -> datetime | None:
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
        {"now": _stamp(now), "grace": GRACE_SECONDS},
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
