"""The session state machine: which state may follow which, and what each needs first."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from station.models import Attempt
from station.models.common import utcnow
from station.models.exam import FINISHED
from station.models.scheduling import Candidate, ExamSession, SessionState
from station.services import audit, results
from station.services.assignments import staffing_report
from station.services.errors import DomainError
from station.services.sessions import STATE_LABELS, TRANSITIONS, get_session, local

S = SessionState


def transition(db: Session, *, actor: str, session_code: str, to: str, reason: str = "",
               now: datetime | None = None) -> ExamSession:  # fmt: skip
    """Move a session to ``to`` if the machine allows it and the session is ready."""
    session = get_session(db, session_code)
    try:
        target = SessionState(to)
    except ValueError:
        raise DomainError(f"未知状态 '{to}'") from None
    if target not in TRANSITIONS[session.state]:
        allowed = "、".join(STATE_LABELS[s] for s in TRANSITIONS[session.state]) or "无"
        raise DomainError(f"场次 {session.code} 当前为“{STATE_LABELS[session.state]}”，不能转为"
                          f"“{STATE_LABELS[target]}”（可转为：{allowed}）")  # fmt: skip
    problems = _readiness(db, session, target, now or utcnow())
    if problems:
        raise DomainError(f"场次 {session.code} 不能转为“{STATE_LABELS[target]}”", problems)
    before = session.state
    session.state = target
    if target == S.IN_PROGRESS:
        session.opened_at = now or utcnow()
    db.add(session)
    db.flush()
    audit.record(db, actor=actor, action="session.transition", subject=f"session:{session.code}",
                 reason=reason, data={"from": before.value, "to": target.value})  # fmt: skip
    return session


def _readiness(db: Session, session: ExamSession, target: SessionState, now: datetime) -> list[str]:
    count = db.exec(
        select(func.count()).select_from(Candidate).where(Candidate.session_id == session.id)
    ).one()
    if target == S.SCHEDULED:
        return staffing_report(db, session)
    if target == S.CHECK_IN:
        problems = [] if count else ["花名册为空，请先导入考生"]
        return problems + staffing_report(db, session)
    if target == S.IN_PROGRESS and now < session.theory_start - timedelta(minutes=5):
        return [f"理论考试 {local(session.theory_start)} 开始，尚未到开考时间"]
    if target == S.GRADING and session.state == S.REVIEW:
        return ["成绩已签字确认，不能退回评分"] if results.signoff(db, session) else []
    if target == S.GRADING:
        return _theory_still_running(db, session, now)
    if target == S.REVIEW:
        return _results_incomplete(db, session)
    if target == S.PUBLISHED:
        return [] if results.signoff(db, session) else ["成绩尚未经督导员签字确认"]
    if target == S.CERTIFIED:
        from station.services.certificates import missing_certificates

        missing = missing_certificates(db, session)
        return [f"尚未发证的合格考生：{'、'.join(missing)}"] if missing else []
    if target == S.CLOSED:
        from station.services.appeals import appeals

        open_ones = [a for a in appeals(db, session) if a.status == "open"]
        return [f"仍有 {len(open_ones)} 件复核申请未处理"] if open_ones else []
    return []


def _results_incomplete(db: Session, session: ExamSession) -> list[str]:
    drafts, gaps = results.compute(db, session)
    if gaps:
        return [g.text for g in gaps]
    stored = {r.candidate_id: r for r in results.current_results(db, session)}
    stale = results.stale_results(drafts, stored)
    return (
        [f"尚未评定或评定后数据有变化的考生：{'、'.join(stale)}（请先评定成绩）"] if stale else []
    )


def _theory_still_running(db: Session, session: ExamSession, now: datetime) -> list[str]:
    end = session.theory_start + timedelta(minutes=session.theory_minutes)
    open_attempts = [a for a in db.exec(select(Attempt).where(Attempt.session_id == session.id))
                     if a.status not in FINISHED]  # fmt: skip
    if now < end or open_attempts:
        left = len(open_attempts)
        return [f"理论考试尚未结束（{local(end)} 结束，仍有 {left} 名考生未交卷）"]
    return []


def due_transitions(db: Session, now: datetime) -> list[tuple[str, SessionState]]:
    """What the clock asks for: check-in opens before the theory start, the exam at it."""
    due = []
    for session in db.exec(
        select(ExamSession).where(col(ExamSession.state).in_([S.SCHEDULED, S.CHECK_IN]))
    ):
        opens = session.theory_start - timedelta(minutes=session.checkin_minutes)
        if session.state == S.SCHEDULED and now >= opens:
            due.append((session.code, S.CHECK_IN))
        elif session.state == S.CHECK_IN and now >= session.theory_start:
            due.append((session.code, S.IN_PROGRESS))
    return due
