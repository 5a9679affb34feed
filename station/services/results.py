"""Results: what grading gives each candidate, the supervisor's sign-off that locks them, and
the versions regrades and appeals add afterwards.

``compute`` is the single place a result is worked out, from the stored answers, marks,
rulings, review scores and key corrections, plus any part an upheld appeal set by hand (kept in
the current result's ``detail["overrides"]`` and carried into every later version).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from question_bank.scoring import round_points, scale_to_100
from station.models import Attempt, StaffUser
from station.models.exam import FINISHED, AttemptStatus
from station.models.grading import Outcome, Result, ResultSignoff, ReviewScore
from station.models.scheduling import (
    AssignmentRole,
    Candidate,
    CandidateStatus,
    ExamSession,
    Programme,
    SessionState,
)
from station.services import audit, practical, theory
from station.services.assignments import assignments
from station.services.errors import DomainError
from station.services.practical import GradingError
from station.services.sessions import get_session
from sync import outbox

S = SessionState
PARTS = ("theory", "practical", "review")
PART_LABELS = {"theory": "理论知识", "practical": "操作技能", "review": "综合评审"}
OUTCOME_LABELS = {Outcome.PASSED: "合格", Outcome.FAILED: "不合格", Outcome.ABSENT: "缺考",
                  Outcome.DISQUALIFIED: "违纪取消"}  # fmt: skip
PUBLISHED_STATES = {S.PUBLISHED, S.CERTIFIED, S.CLOSED}


@dataclass
class Draft:
    """A result as grading computes it, before it is stored."""

    candidate: Candidate
    theory: float | None
    practical: float | None
    review: float | None
    outcome: Outcome
    detail: dict = field(default_factory=dict)

    def same_as(self, row: Result) -> bool:
        return (self.theory, self.practical, self.review, self.outcome) == (
            row.theory, row.practical, row.review, row.outcome)  # fmt: skip


@dataclass(frozen=True)
class Gap:
    """Something that keeps one candidate's result from being complete."""

    candidate_id: int
    text: str

    def __str__(self) -> str:
        return self.text


def needs_review(programme: Programme, level: str) -> bool:
    return level in [v for v in programme.review_levels.split(",") if v]


def decide_outcome(programme: Programme, *, theory: float | None, practical: float | None,
                   review: float | None, review_needed: bool, vetoed: bool) -> Outcome:  # fmt: skip
    """The programme's pass rule: every part at or above its pass mark, and no upheld veto."""
    parts_ok = (theory is not None and theory >= programme.theory_pass
                and (practical is None or practical >= programme.practical_pass)
                and (not review_needed or (review is not None
                                           and review >= programme.review_pass)))  # fmt: skip
    return Outcome.PASSED if parts_ok and not vetoed else Outcome.FAILED


def compute(db: Session, session: ExamSession, *,
            key: dict | None = None) -> tuple[dict[int, Draft], list[Gap]]:  # fmt: skip
    """Every candidate's result as the data stands, and what stops any from being complete."""
    programme = db.get(Programme, session.programme_id)
    review_needed = needs_review(programme, session.level)
    theory_scores = theory.session_scores(db, session, key)
    attempts = {a.candidate_id: a
                for a in db.exec(select(Attempt).where(Attempt.session_id == session.id))}  # fmt: skip
    cells: dict[int, list[practical.Cell]] = {}
    for cell in practical.cells(db, session):
        cells.setdefault(cell.candidate.id, []).append(cell)
    reviews = {r.candidate_id: r.score for r in db.exec(
        select(ReviewScore).join(Candidate, Candidate.id == ReviewScore.candidate_id)
        .where(Candidate.session_id == session.id))}  # fmt: skip
    overrides = {
        r.candidate_id: r.detail.get("overrides", {}) for r in current_results(db, session)
    }
    people = db.exec(select(Candidate).where(Candidate.session_id == session.id)
                     .order_by(Candidate.admission_number)).all()  # fmt: skip
    drafts, problems = {}, []
    for person in people:
        if person.status != CandidateStatus.PRESENT:
            drafts[person.id] = Draft(person, None, None, None, Outcome.ABSENT, {"absent": True})
            continue
        attempt = attempts.get(person.id)
        problems += [Gap(person.id, text) for text in _incomplete(
            person, attempt, cells.get(person.id, []), review_needed, reviews.get(person.id))]  # fmt: skip
        score = theory_scores.get(person.id)
        t = score.score if score else 0.0
        detail: dict = {"theory": score.detail() if score else {"status": "not_logged_in"}}
        tasks = cells.get(person.id, [])
        p, vetoed = _practical(tasks, detail)
        r = reviews.get(person.id) if review_needed else None
        fixed = overrides.get(person.id, {})
        if fixed:
            detail["overrides"] = fixed
            t = fixed.get("theory", t)
            p = fixed.get("practical", p)
            r = fixed.get("review", r)
        if attempt is not None and attempt.status == AttemptStatus.DISQUALIFIED:
            outcome = Outcome.DISQUALIFIED
        else:
            outcome = decide_outcome(programme, theory=t, practical=p, review=r,
                                     review_needed=review_needed, vetoed=vetoed)  # fmt: skip
        drafts[person.id] = Draft(person, t, p, r, outcome, detail)
    return drafts, problems


def _practical(tasks: list[practical.Cell], detail: dict) -> tuple[float | None, bool]:
    if not tasks:
        return None, False
    detail["practical"] = {c.task.uid: {"points": c.points, "max": c.task.max_points,
                                        "vetoed": c.vetoed, "decided": c.decision is not None}
                           for c in tasks}  # fmt: skip
    if any(c.points is None for c in tasks):
        return None, False
    earned = round_points(sum(c.points for c in tasks))
    return scale_to_100(earned, sum(c.task.max_points for c in tasks)), any(c.vetoed for c in tasks)


def _incomplete(person: Candidate, attempt: Attempt | None, tasks: list[practical.Cell],
                review_needed: bool, review: float | None) -> list[str]:  # fmt: skip
    who = f"考生 {person.admission_number} {person.name}"
    problems = []
    if (
        attempt is not None
        and attempt.status not in FINISHED
        and attempt.status != AttemptStatus.NOT_STARTED
    ):
        problems.append(f"{who}：理论考试尚未交卷")
    for cell in tasks:
        if cell.missing:
            names = "、".join(u.display_name for u in cell.missing)
            problems.append(f"{who}：任务 {cell.task.uid} 缺少 {names} 的评分")
        elif cell.needs_decision:
            problems.append(f"{who}：任务 {cell.task.uid} 待考评组长裁定（"
                            f"{'；'.join(cell.outcome.reasons)}）")  # fmt: skip
    if review_needed and review is None:
        problems.append(f"{who}：缺少综合评审成绩")
    return problems


def current_results(db: Session, session: ExamSession) -> list[Result]:
    return list(db.exec(select(Result).where(Result.session_id == session.id,
                                             col(Result.current).is_(True))))  # fmt: skip


def signoff(db: Session, session: ExamSession) -> ResultSignoff | None:
    return db.get(ResultSignoff, session.id)


def grade_session(db: Session, *, actor: str, session_code: str) -> list[str]:
    """Score the session and store each complete result as its draft (version 1).

    Re-runnable until sign-off; returns what still keeps results from being complete.
    """
    session = get_session(db, session_code)
    if session.state not in (S.GRADING, S.REVIEW):
        raise GradingError(f"场次 {session.code} 须处于“评分中”或“审核中”才能评定成绩")
    if signoff(db, session):
        raise GradingError(f"场次 {session.code} 的成绩已由督导员签字确认锁定；"
                           "如需更改，请通过重新评分或复核")  # fmt: skip
    drafts, gaps = compute(db, session)
    blocked = {g.candidate_id for g in gaps}
    stored = {r.candidate_id: r for r in current_results(db, session)}
    changed = 0
    for draft in drafts.values():
        if draft.candidate.id in blocked:
            continue
        row = stored.get(draft.candidate.id)
        if row is None:
            row = Result(session_id=session.id, candidate_id=draft.candidate.id,
                         outcome=draft.outcome, created_by=actor, reason="评定")  # fmt: skip
        elif draft.same_as(row) and row.detail == draft.detail:
            continue
        row.theory, row.practical, row.review = draft.theory, draft.practical, draft.review
        row.outcome, row.detail, row.created_by = draft.outcome, draft.detail, actor
        db.add(row)
        changed += 1
    db.flush()
    audit.record(db, actor=actor, action="results.grade", subject=f"session:{session.code}",
                 data={"graded": len(drafts) - len(blocked), "changed": changed,
                       "incomplete": len(blocked)})  # fmt: skip
    return [g.text for g in gaps]


def stale_results(drafts: dict[int, Draft], stored: dict[int, Result]) -> list[str]:
    """Admission numbers whose stored result is missing or no longer what grading gives."""
    return [d.candidate.admission_number for d in drafts.values()
            if d.candidate.id not in stored or not d.same_as(stored[d.candidate.id])]  # fmt: skip


def digest(rows: list[tuple[Candidate, Result]]) -> str:
    body = [[c.admission_number, r.version, r.theory, r.practical, r.review, r.outcome.value]
            for c, r in sorted(rows, key=lambda cr: cr[0].admission_number)]  # fmt: skip
    return hashlib.sha256(json.dumps(body, ensure_ascii=False).encode()).hexdigest()


def sign_off(db: Session, *, actor: str, session_code: str, note: str = "") -> ResultSignoff:
    """督导员签字: locks the session's results. Refused unless every candidate has an up-to-date
    result; a second sign-off is refused."""
    session = get_session(db, session_code)
    user = db.exec(select(StaffUser).where(StaffUser.username == actor)).first()
    if done := signoff(db, session):
        raise GradingError(f"场次 {session.code} 的成绩已于 {done.signed_at:%Y-%m-%d %H:%M} UTC "
                           f"由 {done.signed_by} 签字确认，不能再次签字")  # fmt: skip
    if user is None or not any(a.role == AssignmentRole.SUPERVISOR and u.id == user.id
                               for a, u, _ in assignments(db, session)):  # fmt: skip
        raise GradingError(f"只有本场次的督导员可以签字确认（{actor} 不是）")
    if session.state != S.REVIEW:
        raise GradingError(f"场次 {session.code} 须处于“审核中”才能签字确认")
    drafts, gaps = compute(db, session)
    if gaps:
        raise GradingError("成绩尚不完整，不能签字确认", [g.text for g in gaps])
    rows = {r.candidate_id: r for r in current_results(db, session)}
    if stale := stale_results(drafts, rows):
        raise GradingError("以下考生的成绩与当前评分数据不一致，请先重新评定成绩", stale)
    people = {d.candidate.id: d.candidate for d in drafts.values()}
    pairs = [(people[cid], r) for cid, r in rows.items()]
    row = ResultSignoff(session_id=session.id, signed_by=actor, note=note.strip(),
                        results=len(pairs), digest=digest(pairs))  # fmt: skip
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="results.sign_off", subject=f"session:{session.code}",
                 reason=note, data={"results": row.results, "digest": row.digest})  # fmt: skip
    outbox.signoff(db, session=session, signoff=row)  # result summary + session report
    return row


def add_version(db: Session, *, actor: str, previous: Result, draft: Draft, reason: str) -> Result:
    """A new current version after sign-off; the old one stays, no longer current."""
    previous.current = False
    db.add(previous)
    db.flush()
    row = Result(session_id=previous.session_id, candidate_id=previous.candidate_id,
                 version=previous.version + 1, theory=draft.theory, practical=draft.practical,
                 review=draft.review, outcome=draft.outcome, detail=draft.detail, reason=reason,
                 created_by=actor)  # fmt: skip
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="results.version",
                 subject=f"candidate:{draft.candidate.admission_number}", reason=reason,
                 data={"version": row.version, "before": _summary(previous),
                       "after": _summary(row)})  # fmt: skip
    return row


def _summary(row: Result) -> dict:
    return {"theory": row.theory, "practical": row.practical, "review": row.review,
            "outcome": row.outcome.value}  # fmt: skip


@dataclass
class Row:
    candidate: Candidate
    result: Result | None


def session_rows(db: Session, session: ExamSession) -> list[Row]:
    results = {r.candidate_id: r for r in current_results(db, session)}
    people = db.exec(select(Candidate).where(Candidate.session_id == session.id)
                     .order_by(Candidate.admission_number)).all()  # fmt: skip
    return [Row(c, results.get(c.id)) for c in people]


def history(db: Session, candidate: Candidate) -> list[Result]:
    return list(db.exec(select(Result).where(Result.candidate_id == candidate.id)
                        .order_by(col(Result.version))))  # fmt: skip


def require_published(session: ExamSession) -> None:
    if session.state not in PUBLISHED_STATES:
        raise DomainError(f"场次 {session.code} 的成绩尚未公布")
