"""Theory scores: each attempt's answers scored against the (possibly corrected) answer key.

Nothing here writes: the results service stores what these functions compute, and a regrade
dry run compares them with what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from question_bank.assembly import Form
from question_bank.items import Item, ItemType
from question_bank.scoring import MultipleChoiceRule, round_points, scale_to_100, score_response
from station.models import Answer, Attempt, AttemptForm, BankVersion, KeyCorrection
from station.models.exam import AttemptStatus
from station.models.scheduling import ExamSession, Programme
from station.services import banks


@dataclass(frozen=True)
class Key:
    """What an item is scored against: its options' keys, or credit for everyone (送分)."""

    answer: tuple[str, ...]
    credit_all: bool = False
    corrected: bool = False


@dataclass
class ItemMark:
    uid: str
    item_type: ItemType
    points: float  # available
    earned: float
    response: str  # chosen keys, sorted; "" = not answered


@dataclass
class TheoryScore:
    candidate_id: int
    status: AttemptStatus
    score: float  # out of 100
    earned: float
    available: float
    marks: list[ItemMark] = field(default_factory=list)

    def detail(self) -> dict:
        return {
            "status": self.status.value,
            "earned": self.earned,
            "available": self.available,
            "by_type": _by_type(self.marks),
        }


def keys(db: Session, version: BankVersion) -> dict[str, Key]:
    """Each item's key with the newest correction applied."""
    result = {item.uid: Key(tuple(item.answer)) for item in banks.load_items(db, version)}
    corrections = db.exec(
        select(KeyCorrection)
        .where(KeyCorrection.bank_version_id == version.id)
        .order_by(col(KeyCorrection.id))
    )
    for fix in corrections:
        result[fix.item_uid] = Key(tuple(fix.answer), fix.credit_all, corrected=True)
    return result


def item_types(db: Session, version: BankVersion) -> dict[str, Item]:
    return {item.uid: item for item in banks.load_items(db, version)}


def score_attempt(form: Form, responses: dict[str, str], key: dict[str, Key],
                  rule: MultipleChoiceRule) -> tuple[float, float, list[ItemMark]]:  # fmt: skip
    """(earned, available, per item) for one form and the responses given to it."""
    marks = []
    for entry in form.entries:
        item_key = key.get(entry.uid)
        response = responses.get(entry.uid, "")
        if item_key is None:  # the item left the bank: nobody can be marked on it
            continue
        if item_key.credit_all:
            earned = float(entry.points)
        else:
            earned = score_response(entry.item_type, item_key.answer, response, entry.points, rule)
        marks.append(ItemMark(entry.uid, entry.item_type, entry.points, earned, response))
    return (round_points(sum(m.earned for m in marks)),
            round_points(sum(m.points for m in marks)), marks)  # fmt: skip


def session_scores(db: Session, session: ExamSession,
                   key: dict[str, Key] | None = None) -> dict[int, TheoryScore]:  # fmt: skip
    """Every attempt of the session scored; keyed by candidate id."""
    programme = db.get(Programme, session.programme_id)
    version = db.get(BankVersion, session.bank_version_id)
    key = keys(db, version) if key is None else key
    rule = MultipleChoiceRule(programme.mc_rule)
    attempts = db.exec(select(Attempt).where(Attempt.session_id == session.id)).all()
    ids = [a.id for a in attempts]
    forms = {f.attempt_id: Form.from_dict(f.form)
             for f in db.exec(select(AttemptForm).where(col(AttemptForm.attempt_id).in_(ids)))}  # fmt: skip
    responses: dict[int, dict[str, str]] = {}
    for answer in db.exec(select(Answer).where(col(Answer.attempt_id).in_(ids))):
        responses.setdefault(answer.attempt_id, {})[answer.item_uid] = answer.response
    scores = {}
    for attempt in attempts:
        form = forms.get(attempt.id)
        if form is None:
            continue
        earned, available, marks = score_attempt(form, responses.get(attempt.id, {}), key, rule)
        scores[attempt.candidate_id] = TheoryScore(attempt.candidate_id, attempt.status,
                                                   scale_to_100(earned, available), earned,
                                                   available, marks)  # fmt: skip
    return scores


def _by_type(marks: list[ItemMark]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for m in marks:
        row = out.setdefault(m.item_type.value, {"items": 0, "correct": 0, "earned": 0.0,
                                                  "available": 0.0})  # fmt: skip
        row["items"] += 1
        row["correct"] += m.earned == m.points
        row["earned"] = round_points(row["earned"] + m.earned)
        row["available"] = round_points(row["available"] + m.points)
    return out
