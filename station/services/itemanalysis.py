"""Item analysis of the theory exam, per session or per bank over all its sessions.

Each candidate sat their own form drawn from the bank, so the score matrix is sparse: a cell is
None where the item was not on the candidate's form. The statistics themselves are the pure
functions of ``question_bank.itemstats``; this module only gathers the marks.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from question_bank import itemstats
from question_bank.items import TRUE_FALSE_KEYS, Item, ItemType
from station.models import Bank, BankVersion
from station.models.exam import AttemptStatus
from station.models.scheduling import Candidate, ExamSession, SessionState
from station.services import theory
from station.services.errors import DomainError

GRADED = [SessionState.GRADING, SessionState.REVIEW, SessionState.PUBLISHED,
          SessionState.CERTIFIED, SessionState.CLOSED]  # fmt: skip
_TAGS = re.compile(r"<[^>]+>")


@dataclass
class Sitting:
    """One candidate's scored form, as the matrix needs it."""

    candidate: str
    marks: dict[str, tuple[float, float, str]]  # uid -> (earned, available, response)


@dataclass
class Report:
    scope: str  # "session IRAP-M-1" / "bank IRAP-M"
    analysis: itemstats.Analysis | None
    items: dict[str, Item] = field(default_factory=dict)
    distractors: dict[str, list[itemstats.OptionStats]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        if self.analysis is None:
            return {"scope": self.scope, "candidates": 0, "analysis": None}
        data = self.analysis.to_dict()
        for row in data["items"]:
            item = self.items.get(row["item_id"])
            if item is not None:
                row["type"] = item.type.value
                row["knowledge_point"] = item.knowledge_point
                row["key"] = "".join(item.answer)
                row["stem"] = plain(item.stem)[:80]
            row["distractors"] = [o.to_dict() for o in self.distractors.get(row["item_id"], [])]
        return {"scope": self.scope, "candidates": self.analysis.overall.n_candidates} | data


def option_keys(item: Item) -> list[str]:
    if item.type == ItemType.TRUE_FALSE:
        return list(TRUE_FALSE_KEYS)
    return [o.key for o in item.options]


def plain(stem: str) -> str:
    return html.unescape(_TAGS.sub("", stem)).strip()


def _sittings(db: Session, session: ExamSession) -> list[Sitting]:
    numbers = {c.id: c.admission_number
               for c in db.exec(select(Candidate).where(Candidate.session_id == session.id))}  # fmt: skip
    out = []
    for candidate_id, score in sorted(theory.session_scores(db, session).items()):
        if score.status in (AttemptStatus.NOT_STARTED, AttemptStatus.DISQUALIFIED):
            continue
        out.append(Sitting(numbers[candidate_id],
                           {m.uid: (m.earned, m.points, m.response) for m in score.marks}))  # fmt: skip
    return out


def build(scope: str, sittings: list[Sitting], items: dict[str, Item]) -> Report:
    """The analysis of these sittings; items in the order they were first seen."""
    if not sittings:
        return Report(scope, None, items)
    uids: dict[str, float] = {}
    for s in sittings:
        for uid, (_, available, _) in s.marks.items():
            uids[uid] = max(uids.get(uid, 0.0), available)
    order = list(uids)
    matrix = itemstats.ScoreMatrix(
        item_ids=order,
        max_marks=[uids[u] for u in order],
        rows=[[s.marks[u][0] if u in s.marks else None for u in order] for s in sittings],
        candidate_ids=[s.candidate for s in sittings],
        source=scope,
    )
    analysis = itemstats.analyse(matrix)
    report = Report(scope, analysis, items)
    for uid in order:
        item = items.get(uid)
        if item is None:
            continue
        seen = [(s, total) for s, total in zip(sittings, analysis.totals, strict=True)
                if uid in s.marks]  # fmt: skip
        choices = [tuple(s.marks[uid][2]) if len(s.marks[uid][2]) > 1 else s.marks[uid][2] or None
                   for s, _ in seen]  # fmt: skip
        report.distractors[uid] = itemstats.distractors(
            choices, item.answer, [t for _, t in seen], options=option_keys(item)
        )
    return report


def session_report(db: Session, session: ExamSession) -> Report:
    if session.state not in GRADED:
        raise DomainError(f"场次 {session.code} 的理论考试尚未结束，暂无试题分析")
    version = db.get(BankVersion, session.bank_version_id)
    return build(f"场次 {session.code}", _sittings(db, session), theory.item_types(db, version))


def bank_report(db: Session, bank_code: str) -> Report:
    """Every graded session that used any version of the bank; an item keeps its uid across
    versions, and the newest version's text describes it."""
    bank = db.exec(select(Bank).where(Bank.code == bank_code)).first()
    if bank is None:
        raise DomainError(f"题库 '{bank_code}' 不存在")
    versions = db.exec(select(BankVersion).where(BankVersion.bank_id == bank.id)
                       .order_by(col(BankVersion.id))).all()  # fmt: skip
    items: dict[str, Item] = {}
    for version in versions:
        if not version.locked:
            items |= theory.item_types(db, version)
    sessions = db.exec(select(ExamSession).where(
        col(ExamSession.bank_version_id).in_([v.id for v in versions]),
        col(ExamSession.state).in_(GRADED)).order_by(col(ExamSession.id))).all()  # fmt: skip
    sittings = [s for session in sessions for s in _sittings(db, session)]
    return build(f"题库 {bank.code}", sittings, items)
