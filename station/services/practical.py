"""Practical tasks: blind marks from each candidate's panel, reconciliation, and the chief
examiner's rulings on discrepancies and vetoes.

A candidate's panel is every examiner and chief examiner assigned to the session, less those who
must recuse themselves from that candidate (same organisation, or a flagged relationship).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from question_bank.items import Status, Task
from question_bank.scoring import (
    Reconciliation,
    ScoringError,
    TaskMark,
    TaskOutcome,
    check_marks,
    reconcile,
    round_points,
)
from station.models import BankVersion, StaffUser
from station.models.grading import MarkDecision, PracticalMark, ResultSignoff, ReviewScore
from station.models.scheduling import (
    AssignmentRole,
    Candidate,
    CandidateStatus,
    ExamSession,
    Programme,
    SessionState,
)
from station.services import audit, banks
from station.services.assignments import assignments, recusals
from station.services.errors import DomainError, NotFound
from station.services.roster import get_candidate
from station.services.sessions import get_session

PANEL_ROLES = (AssignmentRole.EXAMINER, AssignmentRole.CHIEF_EXAMINER)
SCORING_STATES = {SessionState.IN_PROGRESS, SessionState.GRADING}


class GradingError(DomainError):
    pass


def tasks(db: Session, session: ExamSession) -> list[Task]:
    """The practical tasks the session sets: those chosen when it was scheduled, or else every
    active task of its bank version."""
    version = db.get(BankVersion, session.bank_version_id)
    chosen = [uid for uid in session.practical_tasks.split(",") if uid]
    every = [t for t in banks.load_tasks(db, version) if t.status == Status.ACTIVE]
    return [t for t in every if t.uid in chosen] if chosen else every


def get_task(db: Session, session: ExamSession, uid: str) -> Task:
    for task in tasks(db, session):
        if task.uid == uid:
            return task
    raise NotFound(f"场次 {session.code} 没有实操任务 '{uid}'")


def panels(db: Session, session: ExamSession) -> dict[int, list[StaffUser]]:
    """Candidate id -> the examiners who score them, in username order."""
    staff: dict[str, StaffUser] = {}
    for a, user, _ in assignments(db, session):
        if a.role in PANEL_ROLES:
            staff[user.username] = user
    barred = {(c.examiner, c.candidate) for c in recusals(db, session)}
    people = db.exec(select(Candidate).where(Candidate.session_id == session.id)).all()
    return {c.id: [u for name, u in sorted(staff.items())
                   if (name, c.admission_number) not in barred]
            for c in people}  # fmt: skip


def _marks(db: Session, candidate_id: int, task_uid: str) -> list[PracticalMark]:
    return list(db.exec(select(PracticalMark).where(PracticalMark.candidate_id == candidate_id,
                                                    PracticalMark.task_uid == task_uid)))  # fmt: skip


def _user(db: Session, username: str) -> StaffUser:
    user = db.exec(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None:
        raise NotFound(f"用户 '{username}' 不存在")
    return user


def _locked(db: Session, session: ExamSession) -> bool:
    return db.get(ResultSignoff, session.id) is not None


def submit_marks(db: Session, *, actor: str, session_code: str, admission_number: str,
                 task_uid: str, points: dict[str, float], vetoes: list[str] | tuple = (),
                 note: str = "") -> PracticalMark:  # fmt: skip
    """Record the acting examiner's marks. Refused, changing nothing, unless the examiner is on
    the candidate's panel, has not marked this task for them yet, and every mark fits the rubric."""
    session = get_session(db, session_code)
    candidate = get_candidate(db, admission_number)
    examiner = _user(db, actor)
    task = get_task(db, session, task_uid)
    if candidate.session_id != session.id:
        raise GradingError(f"考生 {admission_number} 不属于场次 {session.code}")
    if session.state not in SCORING_STATES or _locked(db, session):
        raise GradingError(f"场次 {session.code} 当前不接受实操评分")
    if candidate.status != CandidateStatus.PRESENT:
        raise GradingError(f"考生 {admission_number} 未签到（缺考），不能评分")
    panel = panels(db, session)[candidate.id]
    if examiner.id not in {u.id for u in panel}:
        raise GradingError(f"{examiner.display_name} 不在考生 {admission_number} 的考评组内"
                           "（未被安排为本场次考评员，或须回避该考生）")  # fmt: skip
    if any(m.examiner_id == examiner.id for m in _marks(db, candidate.id, task_uid)):
        raise GradingError(f"{examiner.display_name} 已提交考生 {admission_number} 任务 "
                           f"{task_uid} 的评分，提交后不可更改")  # fmt: skip
    try:
        checked = check_marks(task, points, vetoes)
    except ScoringError as exc:
        raise GradingError(f"任务 {task_uid} 的评分无效", str(exc).split("; ")) from None
    row = PracticalMark(session_id=session.id, candidate_id=candidate.id, task_uid=task_uid,
                        examiner_id=examiner.id, points=dict(checked.points),
                        vetoes=sorted(checked.vetoes), total=checked.total, note=note.strip())  # fmt: skip
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="practical.mark", subject=f"candidate:{admission_number}",
                 data={"task": task_uid, "total": row.total, "vetoes": row.vetoes})  # fmt: skip
    return row


@dataclass
class Cell:
    """One candidate on one task: who has marked, who has not, and what it comes to."""

    candidate: Candidate
    task: Task
    panel: list[StaffUser]
    marks: list[PracticalMark]
    outcome: TaskOutcome | None  # once every panel member has marked
    decision: MarkDecision | None

    @property
    def missing(self) -> list[StaffUser]:
        done = {m.examiner_id for m in self.marks}
        return [u for u in self.panel if u.id not in done]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def needs_decision(self) -> bool:
        return bool(self.outcome and self.outcome.needs_decision and self.decision is None)

    @property
    def points(self) -> float | None:
        if self.decision is not None:
            return self.decision.points
        return self.outcome.points if self.outcome else None

    @property
    def vetoed(self) -> bool:
        return bool(self.decision and self.decision.veto_upheld)


def cells(db: Session, session: ExamSession, candidate: Candidate | None = None) -> list[Cell]:
    """The scoring state of every (candidate, task) of the session, or of one candidate."""
    programme = db.get(Programme, session.programme_id)
    names = {u.id: u for u in db.exec(select(StaffUser))}
    all_panels = panels(db, session)
    query = select(PracticalMark).where(PracticalMark.session_id == session.id)
    marks: dict[tuple[int, str], list[PracticalMark]] = {}
    for m in db.exec(query):
        marks.setdefault((m.candidate_id, m.task_uid), []).append(m)
    decisions = {(d.candidate_id, d.task_uid): d
                 for d in db.exec(select(MarkDecision).where(MarkDecision.session_id == session.id))}  # fmt: skip
    people = [candidate] if candidate else db.exec(
        select(Candidate).where(Candidate.session_id == session.id,
                                Candidate.status == CandidateStatus.PRESENT)
        .order_by(Candidate.admission_number)).all()  # fmt: skip
    out = []
    session_tasks = tasks(db, session)
    for person in people:
        for task in session_tasks:
            given = marks.get((person.id, task.uid), [])
            cell = Cell(person, task, all_panels[person.id], given, None,
                        decisions.get((person.id, task.uid)))  # fmt: skip
            if cell.complete and cell.panel:
                cell.outcome = reconcile(
                    task,
                    [TaskMark(names[m.examiner_id].username, m.points, frozenset(m.vetoes))
                     for m in given],
                    method=Reconciliation(programme.reconcile_method),
                    spread_limit_percent=programme.spread_limit,
                )  # fmt: skip
            out.append(cell)
    return out


def visible_marks(db: Session, *, actor: str, session_code: str, admission_number: str,
                  task_uid: str) -> Cell:  # fmt: skip
    """The cell with the other examiners' marks, for someone allowed to see them: a panel member
    only after submitting their own; otherwise the chief examiner or the supervisor."""
    session = get_session(db, session_code)
    candidate = get_candidate(db, admission_number)
    viewer = _user(db, actor)
    cell = next(c for c in cells(db, session, candidate) if c.task.uid == task_uid)
    on_panel = viewer.id in {u.id for u in cell.panel}
    if on_panel and viewer.id not in {m.examiner_id for m in cell.marks}:
        raise GradingError("提交本人评分之前不能查看其他考评员的评分")
    if not on_panel and not _has_session_role(db, session, viewer, AssignmentRole.CHIEF_EXAMINER,
                                              AssignmentRole.SUPERVISOR):  # fmt: skip
        raise GradingError(f"{viewer.display_name} 不能查看该考生的评分")
    return cell


def _has_session_role(db: Session, session: ExamSession, user: StaffUser, *roles) -> bool:
    return any(a.role in roles and u.id == user.id for a, u, _ in assignments(db, session))


def decide(db: Session, *, actor: str, session_code: str, admission_number: str, task_uid: str,
           points: float, veto_upheld: bool, reason: str) -> MarkDecision:  # fmt: skip
    """The chief examiner rules on a cell that needs it; an upheld veto scores the task 0."""
    session = get_session(db, session_code)
    candidate = get_candidate(db, admission_number)
    chief = _user(db, actor)
    if not _has_session_role(db, session, chief, AssignmentRole.CHIEF_EXAMINER):
        raise GradingError(f"只有本场次的考评组长可以裁定（{chief.display_name} 不是）")
    if session.state not in SCORING_STATES or _locked(db, session):
        raise GradingError(f"场次 {session.code} 当前不接受裁定")
    cell = next((c for c in cells(db, session, candidate) if c.task.uid == task_uid), None)
    if cell is None:
        raise NotFound(f"考生 {admission_number} 没有任务 '{task_uid}'")
    if not cell.complete:
        names = "、".join(u.display_name for u in cell.missing)
        raise GradingError(f"尚有考评员未提交评分（{names}），不能裁定")
    if cell.decision is not None:
        raise GradingError(f"考生 {admission_number} 任务 {task_uid} 已裁定，不能再次裁定")
    if not cell.outcome.needs_decision:
        raise GradingError(f"考生 {admission_number} 任务 {task_uid} 的评分无需裁定")
    if not reason.strip():
        raise GradingError("裁定须填写理由")
    points = 0.0 if veto_upheld else round_points(float(points))
    if not 0 <= points <= cell.task.max_points:
        raise GradingError(f"裁定分数须在 0–{cell.task.max_points:g} 之间，而不是 {points:g}")
    row = MarkDecision(session_id=session.id, candidate_id=candidate.id, task_uid=task_uid,
                       points=points, veto_upheld=veto_upheld, reason=reason.strip(),
                       decided_by=actor)  # fmt: skip
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="practical.decide", subject=f"candidate:{admission_number}",
                 reason=reason, data={"task": task_uid, "points": points,
                                      "veto_upheld": veto_upheld})  # fmt: skip
    return row


def record_review(db: Session, *, actor: str, session_code: str, admission_number: str,
                  score: float, note: str = "") -> ReviewScore:  # fmt: skip
    """综合评审 score for a candidate at a level that needs one, entered by the chief examiner."""
    session = get_session(db, session_code)
    candidate = get_candidate(db, admission_number)
    programme = db.get(Programme, session.programme_id)
    if session.level not in programme.review_levels.split(","):
        raise GradingError(f"{session.level} 不需要综合评审")
    if not _has_session_role(db, session, _user(db, actor), AssignmentRole.CHIEF_EXAMINER):
        raise GradingError("只有本场次的考评组长可以录入综合评审成绩")
    if session.state not in SCORING_STATES or _locked(db, session):
        raise GradingError(f"场次 {session.code} 当前不接受综合评审成绩")
    if not 0 <= score <= 100:
        raise GradingError(f"综合评审成绩须在 0–100 之间，而不是 {score:g}")
    if db.exec(select(ReviewScore).where(ReviewScore.candidate_id == candidate.id)).first():
        raise GradingError(f"考生 {admission_number} 的综合评审成绩已录入")
    row = ReviewScore(candidate_id=candidate.id, score=round_points(score), entered_by=actor,
                      note=note.strip())  # fmt: skip
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="review.score", subject=f"candidate:{admission_number}",
                 data={"score": row.score})  # fmt: skip
    return row
