"""Answer key corrections and regrading: a dry run shows whose scores and pass/fail would
change; applying it stores the change (a new result version once results are signed off)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from question_bank.items import OPTION_KEYS, TRUE_FALSE_KEYS, ItemType
from question_bank.scoring import normalise_response
from station.models import BankVersion
from station.models.grading import KeyCorrection, Outcome
from station.models.scheduling import SessionState
from station.services import audit, results, theory
from station.services.practical import GradingError
from station.services.sessions import get_session
from sync import outbox

AFTER_EXAM = {SessionState.GRADING, SessionState.REVIEW, SessionState.PUBLISHED,
              SessionState.CERTIFIED}  # fmt: skip


def correct_key(db: Session, *, actor: str, session_code: str, item_uid: str, answer: str = "",
                credit_all: bool = False, reason: str) -> KeyCorrection:  # fmt: skip
    """Record a corrected key (or credit for everyone) for an item of the session's bank.
    Scores change only when the session is graded or regraded."""
    session = get_session(db, session_code)
    if session.state not in AFTER_EXAM:
        raise GradingError(f"场次 {session.code} 考试结束后才能更正答案")
    version = db.get(BankVersion, session.bank_version_id)
    item = theory.item_types(db, version).get(item_uid)
    if item is None:
        raise GradingError(f"题库中没有试题 '{item_uid}'")
    if not reason.strip():
        raise GradingError("更正答案须填写理由")
    keys = normalise_response(answer)
    if not credit_all:
        allowed = set(TRUE_FALSE_KEYS) if item.type == ItemType.TRUE_FALSE else {
            o.key for o in item.options} & set(OPTION_KEYS)  # fmt: skip
        if not keys:
            raise GradingError("请给出正确答案，或选择“全部给分”")
        if set(keys) - allowed:
            raise GradingError(f"试题 {item_uid} 没有选项 {'、'.join(sorted(set(keys) - allowed))}")
        if item.type != ItemType.MULTIPLE_CHOICE and len(keys) != 1:
            raise GradingError(f"试题 {item_uid} 是单选/判断题，只能有一个正确答案")
        if keys == tuple(theory.keys(db, version)[item_uid].answer):
            raise GradingError(f"试题 {item_uid} 的答案已是 {''.join(keys)}")
    row = KeyCorrection(bank_version_id=version.id, item_uid=item_uid,
                        answer="" if credit_all else "".join(keys), credit_all=credit_all,
                        reason=reason.strip(), corrected_by=actor)  # fmt: skip
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="key.correct", subject=f"item:{item_uid}", reason=reason,
                 data={"session": session.code, "answer": row.answer, "credit_all": credit_all,
                       "was": "".join(item.answer)})  # fmt: skip
    return row


@dataclass
class Change:
    admission_number: str
    name: str
    before: dict
    after: dict

    @property
    def outcome_changed(self) -> bool:
        return self.before["outcome"] != self.after["outcome"]

    def to_dict(self) -> dict:
        return {"admission_number": self.admission_number, "name": self.name,
                "before": self.before, "after": self.after,
                "outcome_changed": self.outcome_changed}  # fmt: skip


def regrade(db: Session, *, actor: str, session_code: str, apply: bool = False,
            reason: str = "") -> list[Change]:  # fmt: skip
    """Whose stored result differs from what grading gives now. With ``apply``, store it: drafts
    are rewritten before sign-off; after it each change becomes a new version."""
    session = get_session(db, session_code)
    if session.state not in AFTER_EXAM:
        raise GradingError(f"场次 {session.code} 尚无成绩可重新评定")
    drafts, _gaps = results.compute(db, session)
    stored = {r.candidate_id: r for r in results.current_results(db, session)}
    changes = []
    for draft in drafts.values():
        row = stored.get(draft.candidate.id)
        if row is None or draft.same_as(row):
            continue
        changes.append(Change(draft.candidate.admission_number, draft.candidate.name,
                              _part_scores(row.theory, row.practical, row.review, row.outcome),
                              _part_scores(draft.theory, draft.practical, draft.review,
                                           draft.outcome)))  # fmt: skip
    if not apply:
        return changes
    if not reason.strip():
        raise GradingError("重新评分须填写理由")
    if results.signoff(db, session) is None:
        results.grade_session(db, actor=actor, session_code=session_code)
    else:
        for draft in drafts.values():
            row = stored.get(draft.candidate.id)
            if row is not None and not draft.same_as(row):
                results.add_version(db, actor=actor, previous=row, draft=draft,
                                    reason=f"重新评分：{reason.strip()}")  # fmt: skip
        outbox.revised_summary(db, session=session, reason=f"重新评分：{reason.strip()}")
    audit.record(db, actor=actor, action="results.regrade", subject=f"session:{session.code}",
                 reason=reason, data={"changed": len(changes)})  # fmt: skip
    return changes


def _part_scores(t, p, r, outcome: Outcome) -> dict:
    return {"theory": t, "practical": p, "review": r, "outcome": outcome.value}
