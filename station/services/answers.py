"""Saving answers: the station's hottest path, applied a batch at a time by one writer thread.

Each save carries the attempt's change counter (``seq``) and only ever replaces an older value,
so a late or repeated request cannot undo a newer answer; it is acknowledged (``ack``) either
way, and ``applied`` says whether it changed what the server holds.

``station.answer_writer`` hands every waiting save to :func:`save_answers` in one transaction
and commits once (group commit). The batch is read and written *set-wise*: one statement reads
the attempts and the stored sequence numbers, Python decides every save, and one statement each
writes the answers and the attempts. The writer thread is the station's one serial step, and
every SQLite call hands the GIL to the request threads and waits to get it back, so it makes
four calls per batch instead of several per save. A refused save (moved to another terminal,
paused, time up, not on the form, a bad option) is decided before anything is written and so
refuses alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from question_bank.items import ItemType
from station.models import AttemptStatus
from station.models.exam import FINISHED
from station.services.attempts import GRACE_SECONDS, ExamError, sql_stamp

MAX_SEQ = 2**62


@dataclass(frozen=True, slots=True)
class Save:
    """One answer change as a terminal sent it, its shape already checked (:func:`parse`)."""

    attempt_id: int
    terminal: str
    uid: str
    seq: int
    response: tuple[str, ...]
    flagged: bool
    now: datetime


@dataclass(frozen=True, slots=True)
class SaveResult:
    ack: int
    applied: bool
    saved_at: datetime
    remaining_seconds: float


def parse(*, attempt_id: int, terminal: str, uid: str, body: dict, now: datetime) -> Save:
    """A save from the API's request body, or the error that names what is wrong with it."""
    response = body.get("response") or []
    if not isinstance(response, list) or not all(isinstance(k, str) for k in response):
        raise ExamError("bad_response", "答案应为选项列表", 400)
    seq = body.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq < MAX_SEQ:
        raise ExamError("bad_seq", f"序号无效：应为 1 到 {MAX_SEQ - 1} 之间的整数", 400)
    return Save(attempt_id=attempt_id, terminal=terminal, uid=uid, seq=seq,
                response=tuple(response), flagged=bool(body.get("flagged")), now=now)  # fmt: skip


# Forms never change once drawn, so the answer rules for each attempt are kept in memory,
# per database (a process may serve, or a test may open, more than one).
_RULES: dict[tuple[str, int], dict[str, tuple[str, frozenset[str]]]] = {}

_READ = (
    "SELECT (SELECT json_group_array(json_array(id, terminal, status, allowed_seconds, "
    "elapsed_seconds, running_since)) FROM attempt WHERE id IN (SELECT value FROM json_each(?1))), "
    "(SELECT json_group_array(json_array(a.attempt_id, a.item_uid, a.seq)) FROM json_each(?2) AS k "
    "JOIN answer AS a ON a.attempt_id = json_extract(k.value, '$[0]') "
    "AND a.item_uid = json_extract(k.value, '$[1]'))"
)
_WRITE_ANSWERS = (
    "INSERT INTO answer (attempt_id, item_uid, response, flagged, seq, saved_at) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), "
    "json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]') "
    "FROM json_each(?) WHERE true "  # (the WHERE lets SQLite parse the ON CONFLICT)
    "ON CONFLICT (attempt_id, item_uid) DO UPDATE SET response = excluded.response, "
    "flagged = excluded.flagged, seq = excluded.seq, saved_at = excluded.saved_at "
    "WHERE excluded.seq > answer.seq"
)
_WRITE_ATTEMPTS = (
    "UPDATE attempt SET seen_at = json_extract(t.value, '$[1]'), "
    "last_seq = max(last_seq, json_extract(t.value, '$[2]')), "
    "answered = (SELECT count(*) FROM answer WHERE answer.attempt_id = attempt.id "
    "AND response != '') "
    "FROM json_each(?) AS t WHERE attempt.id = json_extract(t.value, '$[0]')"
)


def save_answers(cursor, *, database: str, saves: list[Save]) -> list[SaveResult | ExamError]:
    """Apply ``saves`` in order on a DB-API ``cursor`` whose connection holds the write lock.

    Returns, per save, its result or the refusal; nothing is committed here.
    """
    ids = sorted({s.attempt_id for s in saves})
    keys = [[s.attempt_id, s.uid] for s in saves]
    attempt_rows, stored_rows = cursor.execute(
        _READ, (json.dumps(ids), json.dumps(keys))
    ).fetchone()
    attempts = {row[0]: row for row in json.loads(attempt_rows)}
    stored = {(a, uid): seq for a, uid, seq in json.loads(stored_rows)}
    results: list[SaveResult | ExamError] = []
    newest: dict[tuple[int, str], list] = {}  # the value each item ends with
    touched: dict[int, list] = {}  # attempt id → [id, seen_at, highest seq]
    for save in saves:
        try:
            remaining, chosen = _check(save, attempts.get(save.attempt_id), cursor, database)
        except ExamError as refusal:
            results.append(refusal)
            continue
        key = (save.attempt_id, save.uid)
        applied = save.seq > stored.get(key, 0)
        if applied:
            stored[key] = save.seq
            newest[key] = [save.attempt_id, save.uid, chosen, int(save.flagged), save.seq,
                           sql_stamp(save.now)]  # fmt: skip
        seen = touched.setdefault(save.attempt_id, [save.attempt_id, "", 0])
        seen[1], seen[2] = max(seen[1], sql_stamp(save.now)), max(seen[2], save.seq)
        results.append(SaveResult(ack=save.seq, applied=applied, saved_at=save.now,
                                  remaining_seconds=max(remaining, 0.0)))  # fmt: skip
    if newest:
        cursor.execute(_WRITE_ANSWERS, (json.dumps(list(newest.values())),))
    if touched:
        cursor.execute(_WRITE_ATTEMPTS, (json.dumps(list(touched.values())),))
    return results


def _check(save: Save, row: list | None, cursor, database: str) -> tuple[float, str]:
    """Why this save is refused, if it is; else the time left and the stored response."""
    if row is None or row[1] != save.terminal:
        raise ExamError("moved", "本场考试已在其他终端继续", 401)
    _, _, status_name, allowed, elapsed, running_since = row
    status = AttemptStatus[status_name]  # SQLAlchemy stores enum members by name
    if status == AttemptStatus.PAUSED:
        raise ExamError("paused", "考试已暂停，答案将在恢复后保存", 423)
    if status in FINISHED:
        raise ExamError("finished", "本场考试已结束", 409)
    if status == AttemptStatus.NOT_STARTED:
        raise ExamError("not_started", "请先开始答题", 403)
    since = _parse_time(running_since)
    remaining = allowed - elapsed - ((save.now - since).total_seconds() if since else 0)
    if remaining < -GRACE_SECONDS:
        raise ExamError("time_up", "考试时间已到", 409)
    rule = _rules(cursor, database, save.attempt_id).get(save.uid)
    if rule is None:
        raise ExamError("unknown_item", f"试卷中没有试题 {save.uid}", 400)
    item_type, keys = rule
    chosen = sorted(set(save.response))
    if not set(chosen) <= keys or (item_type != ItemType.MULTIPLE_CHOICE and len(chosen) > 1):
        raise ExamError("bad_response", f"试题 {save.uid} 的答案 {chosen} 无效", 400)
    return remaining, "".join(chosen)


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


def _parse_time(value) -> datetime | None:
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
