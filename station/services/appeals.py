"""复核: a candidate's appeal against a published result, reviewed and resolved with a reason.
An upheld appeal that changes a score makes a new result version; the old one is kept."""

from __future__ import annotations

from sqlmodel import Session, col, select

from question_bank.scoring import round_points
from station.models import StaffUser
from station.models.common import utcnow
from station.models.grading import Appeal, AppealStatus
from station.models.scheduling import Candidate, ExamSession, Programme
from station.services import audit, results
from station.services.errors import NotFound
from station.services.practical import GradingError
from station.services.roster import get_candidate
from sync import outbox

REVIEWERS = {"chief_examiner", "supervisor"}


def lodge(db: Session, *, actor: str, admission_number: str, part: str,
          statement: str) -> Appeal:  # fmt: skip
    candidate = get_candidate(db, admission_number)
    session = db.get(ExamSession, candidate.session_id)
    results.require_published(session)
    if part not in results.PARTS:
        raise GradingError(f"复核科目须为 {'、'.join(results.PARTS)} 之一，而不是 '{part}'")
    if not statement.strip():
        raise GradingError("请填写复核申请的理由")
    open_one = db.exec(select(Appeal).where(Appeal.candidate_id == candidate.id,
                                            Appeal.part == part,
                                            Appeal.status == AppealStatus.OPEN)).first()  # fmt: skip
    if open_one:
        raise GradingError(f"考生 {admission_number} 的{results.PART_LABELS[part]}复核申请"
                           f"（#{open_one.id}）尚在处理中")  # fmt: skip
    row = Appeal(session_id=session.id, candidate_id=candidate.id, part=part,
                 statement=statement.strip(), lodged_by=actor)  # fmt: skip
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="appeal.lodge", subject=f"candidate:{admission_number}",
                 reason=statement, data={"appeal": row.id, "part": part})  # fmt: skip
    return row


def resolve(db: Session, *, actor: str, appeal_id: int, upheld: bool, reason: str,
            score: float | None = None) -> Appeal:  # fmt: skip
    """Dismiss (the result stands) or uphold with the part's corrected score out of 100."""
    appeal = db.get(Appeal, appeal_id)
    if appeal is None:
        raise NotFound(f"复核申请 #{appeal_id} 不存在")
    user = db.exec(select(StaffUser).where(StaffUser.username == actor)).first()
    if user is None or not (user.role_set & REVIEWERS):
        raise GradingError("只有考评组长或督导员可以处理复核申请")
    if appeal.status != AppealStatus.OPEN:
        raise GradingError(f"复核申请 #{appeal_id} 已处理（{appeal.status.value}）")
    if not reason.strip():
        raise GradingError("处理复核申请须填写理由")
    session = db.get(ExamSession, appeal.session_id)
    current = next(r for r in results.current_results(db, session)
                   if r.candidate_id == appeal.candidate_id)  # fmt: skip
    if upheld:
        if score is None or not 0 <= score <= 100:
            raise GradingError(
                f"维持申请须给出更正后的{results.PART_LABELS[appeal.part]}成绩（0–100）"
            )
        score = round_points(score)
        if getattr(current, appeal.part) == score:
            raise GradingError(f"更正后的成绩与现有成绩相同（{score:g}），请选择“维持原成绩”")
        draft = _with_override(db, session, current, appeal.part, score)
        row = results.add_version(db, actor=actor, previous=current, draft=draft,
                                  reason=f"复核 #{appeal.id}：{reason.strip()}")  # fmt: skip
        appeal.result_version = row.version
        outbox.revised_summary(db, session=session, reason=f"复核 #{appeal.id}：{reason.strip()}")
    appeal.status = AppealStatus.UPHELD if upheld else AppealStatus.DISMISSED
    appeal.resolution, appeal.resolved_by, appeal.resolved_at = reason.strip(), actor, utcnow()
    db.add(appeal)
    db.flush()
    audit.record(db, actor=actor, action="appeal.resolve", subject=f"appeal:{appeal.id}",
                 reason=reason, data={"upheld": upheld, "score": score,
                                      "version": appeal.result_version})  # fmt: skip
    return appeal


def _with_override(db: Session, session: ExamSession, current, part: str, score: float):
    programme = db.get(Programme, session.programme_id)
    candidate = db.get(Candidate, current.candidate_id)
    detail = dict(current.detail)
    detail["overrides"] = {**detail.get("overrides", {}), part: score}
    parts = {p: getattr(current, p) for p in results.PARTS} | {part: score}
    vetoed = any(t.get("vetoed") for t in detail.get("practical", {}).values())
    outcome = results.decide_outcome(
        programme, **parts, review_needed=results.needs_review(programme, session.level),
        vetoed=vetoed and "practical" not in detail["overrides"])  # fmt: skip
    return results.Draft(candidate, parts["theory"], parts["practical"], parts["review"], outcome,
                         detail)  # fmt: skip


def appeals(db: Session, session: ExamSession) -> list[Appeal]:
    return list(db.exec(select(Appeal).where(Appeal.session_id == session.id)
                        .order_by(col(Appeal.id))))  # fmt: skip
