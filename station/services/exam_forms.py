"""The forms candidates are given: drawn from the session's bank by its blueprint, each one
different, the least-used items first.

A form is drawn at a candidate's first login, in the read-only half of the login (see
``attempts.prepare_login``), so drawing never holds the station's write turn. How often each
item is on the session's forms already (its exposure) is counted from the stored forms once,
then kept up to date in memory as forms are drawn; drawing is serialised (about 1.5 ms each),
so forms drawn at the same moment still spread over the bank instead of all starting from the
same counts.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session

from question_bank import assembly
from question_bank.blueprint import Blueprint
from question_bank.coverage import active_items
from question_bank.items import Item
from station.models import Attempt, AttemptForm, BankVersion
from station.models.scheduling import Candidate, ExamSession
from station.services import banks


@dataclass(frozen=True)
class DrawnForm:
    """A form drawn for a candidate's first login, before the write turn."""

    candidate_id: int
    form: dict  # ``question_bank.assembly.Form.to_dict()``
    total_items: int
    pool: tuple[str, int]  # the exposure count it was added to (database, session id)


@dataclass(frozen=True)
class SessionBank:
    """A session's bank version and blueprint, parsed once."""

    blueprint: Blueprint
    items: list[Item]
    by_uid: dict[str, Item]
    target: float | None  # mean difficulty of the active items


# An unlocked bank version never changes: its items are parsed once per process and database.
_BANKS: dict[tuple[str, int, str], SessionBank] = {}


def bank(db: Session, session: ExamSession) -> SessionBank:
    """The session's items and blueprint (cached: an unlocked bank version never changes)."""
    key = (str(db.get_bind().url), session.bank_version_id, session.blueprint)
    if key not in _BANKS:
        version = db.get(BankVersion, session.bank_version_id)
        items = banks.load_items(db, version)
        _BANKS[key] = SessionBank(banks.get_blueprint(db, version, session.blueprint), items,
                            {i.uid: i for i in items},
                            assembly.mean_difficulty(active_items(items)))  # fmt: skip
    return _BANKS[key]


# How often each item is on the forms already drawn in a session (least-used items go first),
# per database and session. Counted from the stored forms once, then kept up to date here as
# forms are drawn, so that forms drawn at the same moment still spread over the bank.
_EXPOSURE: dict[tuple[str, int], Counter] = {}
_DRAW_LOCK = threading.Lock()  # one assembly at a time (~1.5 ms; CPU work shares the GIL anyway)


def draw(db: Session, candidate: Candidate, session: ExamSession) -> DrawnForm:
    """A new form for ``candidate``, counted in the session's exposure at once."""
    source = bank(db, session)
    pool = (str(db.get_bind().url), session.id)
    with _DRAW_LOCK:
        exposure = _EXPOSURE.get(pool)
        if exposure is None:
            exposure = _EXPOSURE[pool] = Counter(_exposure(db, session))
        form = assembly.assemble(source.blueprint, source.items,
                                 seed=session.id * 1_000_003 + candidate.id,
                                 exposure=exposure, target_difficulty=source.target)  # fmt: skip
        exposure.update(entry.uid for entry in form.entries)
    return DrawnForm(candidate_id=candidate.id, form=form.to_dict(),
                     total_items=len(form.entries), pool=pool)  # fmt: skip


def give_back(drawn: DrawnForm) -> None:
    """A drawn form that was not used no longer counts towards exposure."""
    with _DRAW_LOCK:
        exposure = _EXPOSURE.get(drawn.pool)
        if exposure is not None:
            exposure.subtract(entry["uid"] for entry in drawn.form["entries"])


def _exposure(db: Session, session: ExamSession) -> dict[str, int]:
    """How often each item is on this session's stored forms, counted by the database."""
    rows = db.connection().execute(
        text("SELECT json_extract(entry.value, '$.uid') AS uid, count(*) AS n "
             "FROM attempt JOIN attempt_form ON attempt_form.attempt_id = attempt.id, "
             "json_each(attempt_form.form, '$.entries') AS entry "
             "WHERE attempt.session_id = :session GROUP BY uid"),
        {"session": session.id},
    )  # fmt: skip
    return {row.uid: row.n for row in rows}


def attempt_form(db: Session, attempt: Attempt) -> dict:
    return db.get(AttemptForm, attempt.id).form
