"""Read-only views over grading data for the console: an examiner's work list, the "who is
missing" board, the supervisor's distribution and outlier figures, review scores and key
corrections.

Nothing here writes or decides anything; the rules live in ``practical``, ``results``,
``regrade`` and ``appeals``. These functions only arrange what those services store so that a
page (or a CLI) can show it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from station.models import BankVersion, StaffUser
from station.models.grading import KeyCorrection, Outcome, ReviewScore
from station.models.scheduling import (
    AssignmentRole,
    Candidate,
    CandidateStatus,
    ExamSession,
    Programme,
)
from station.services import practical, results
from station.services.assignments import assignments

Z_LIMIT = 2.0  # |z| at or above this on a part marks an outlier
GAP_LIMIT = 30.0  # theory and practical this far apart (out of 100) marks an outlier
MIN_FOR_Z = 3  # fewer scores than this give no meaningful z


def session_roles(db: Session, session: ExamSession, username: str) -> set[AssignmentRole]:
    """The roles ``username`` is assigned in ``session`` (not their account's roles)."""
    return {a.role for a, u, _ in assignments(db, session) if u.username == username}


# --- an examiner's work list --------------------------------------------------------------------


@dataclass
class WorkItem:
    """One cell on an examiner's list: whether they have marked it yet."""

    cell: practical.Cell
    done: bool


def work_list(db: Session, session: ExamSession, username: str) -> list[WorkItem]:
    """Every (candidate, task) whose panel includes ``username``, in admission-number order.
    Carries no one else's marks: the page shows only the examiner's own done/missing state."""
    user = db.exec(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None:
        return []
    out = []
    for cell in practical.cells(db, session):
        if user.id in {u.id for u in cell.panel}:
            out.append(WorkItem(cell, user.id in {m.examiner_id for m in cell.marks}))
    return out


# --- who is missing -----------------------------------------------------------------------------


@dataclass
class BoardCell:
    """A candidate × task square of the board. ``status`` is one of ``missing`` (someone has
    not marked), ``ruling`` (waits for the chief examiner), ``decided`` (ruled), ``done``
    (reconciled without a ruling) or ``no_panel`` (every examiner recused)."""

    status: str
    missing: list[StaffUser] = field(default_factory=list)
    marked: int = 0
    panel: int = 0


@dataclass
class BoardRow:
    candidate: Candidate
    cells: list[BoardCell]


@dataclass
class Board:
    tasks: list  # question_bank.items.Task, in the session's order
    rows: list[BoardRow]
    by_examiner: dict[str, list[tuple[str, str]]]  # display name -> [(admission no., task uid)]

    @property
    def outstanding(self) -> int:
        return sum(1 for r in self.rows for c in r.cells if c.status in ("missing", "ruling"))


def _board_cell(cell: practical.Cell) -> BoardCell:
    if not cell.panel:
        status = "no_panel"
    elif cell.missing:
        status = "missing"
    elif cell.needs_decision:
        status = "ruling"
    elif cell.decision is not None:
        status = "decided"
    else:
        status = "done"
    return BoardCell(status, cell.missing, len(cell.marks), len(cell.panel))


def board(db: Session, session: ExamSession) -> Board:
    """The whole session's practical scoring state, and per examiner what they still owe."""
    session_tasks = practical.tasks(db, session)
    rows: dict[int, BoardRow] = {}
    owed: dict[str, list[tuple[str, str]]] = {}
    for cell in practical.cells(db, session):
        row = rows.setdefault(cell.candidate.id, BoardRow(cell.candidate, []))
        row.cells.append(_board_cell(cell))
        for user in cell.missing:
            owed.setdefault(user.display_name, []).append(
                (cell.candidate.admission_number, cell.task.uid)
            )
    return Board(session_tasks, list(rows.values()), dict(sorted(owed.items())))


# --- distributions and outliers -----------------------------------------------------------------


@dataclass
class PartStats:
    """Descriptive figures for one part's scores (out of 100)."""

    n: int
    mean: float
    median: float
    sd: float  # sample standard deviation; 0 with fewer than two scores
    minimum: float
    maximum: float
    at_or_above_pass: int
    pass_mark: float

    @property
    def pass_rate(self) -> float:
        return self.at_or_above_pass / self.n if self.n else 0.0


def describe(values: Sequence[float], pass_mark: float) -> PartStats | None:
    """The figures for ``values``; None when there are none."""
    if not values:
        return None
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return PartStats(len(values), statistics.fmean(values), statistics.median(values), sd,
                     min(values), max(values), sum(1 for v in values if v >= pass_mark),
                     pass_mark)  # fmt: skip


@dataclass
class Outlier:
    """Why one candidate's result deserves a second look: ``kind`` is ``z`` (``part`` lies
    ``z`` standard deviations from the mean) or ``gap`` (theory and practical differ by
    ``value``)."""

    candidate: Candidate
    kind: str
    part: str
    value: float
    z: float | None = None


@dataclass
class Overview:
    registered: int
    present: int
    graded: int
    outcomes: dict[str, int]  # Outcome value -> count among current results
    parts: dict[str, PartStats]  # "theory", "practical", "review" -> figures (parts with data)
    scores: dict[str, list[float]]
    outliers: list[Outlier]
    pass_marks: dict[str, float]

    @property
    def pass_rate(self) -> float:
        sat = self.outcomes.get(Outcome.PASSED, 0) + self.outcomes.get(Outcome.FAILED, 0)
        return self.outcomes.get(Outcome.PASSED, 0) / sat if sat else 0.0


def overview(db: Session, session: ExamSession, *, z_limit: float = Z_LIMIT,
             gap_limit: float = GAP_LIMIT) -> Overview:  # fmt: skip
    """The current results' distribution per part, the pass rate and the outliers."""
    programme = db.get(Programme, session.programme_id)
    pass_marks = {"theory": programme.theory_pass, "practical": programme.practical_pass,
                  "review": programme.review_pass}  # fmt: skip
    rows = results.session_rows(db, session)
    sat = [(r.candidate, r.result) for r in rows
           if r.result is not None and r.result.outcome != Outcome.ABSENT]  # fmt: skip
    outcomes: dict[str, int] = {}
    for r in rows:
        if r.result is not None:
            outcomes[r.result.outcome.value] = outcomes.get(r.result.outcome.value, 0) + 1
    scores = {part: [getattr(res, part) for _, res in sat if getattr(res, part) is not None]
              for part in results.PARTS}  # fmt: skip
    parts = {p: s for p in results.PARTS if (s := describe(scores[p], pass_marks[p]))}
    found = []
    for candidate, res in sat:
        for part, figures in parts.items():
            value = getattr(res, part)
            if value is None or figures.n < MIN_FOR_Z or figures.sd == 0:
                continue
            z = (value - figures.mean) / figures.sd
            if abs(z) >= z_limit - 1e-9:
                found.append(Outlier(candidate, "z", part, value, z))
        if res.theory is not None and res.practical is not None:
            gap = res.theory - res.practical
            if abs(gap) >= gap_limit - 1e-9:
                found.append(Outlier(candidate, "gap", "theory-practical", gap))
    present = sum(1 for r in rows if r.candidate.status == CandidateStatus.PRESENT)
    graded = sum(1 for r in rows if r.result is not None)
    return Overview(len(rows), present, graded, outcomes, parts, scores, found, pass_marks)


# --- review scores and key corrections ----------------------------------------------------------


def review_entries(db: Session, session: ExamSession) -> list[tuple[Candidate, ReviewScore | None]]:
    """Each present candidate with their 综合评审 score, if entered."""
    people = db.exec(select(Candidate).where(Candidate.session_id == session.id,
                                             Candidate.status == CandidateStatus.PRESENT)
                     .order_by(Candidate.admission_number)).all()  # fmt: skip
    ids = [c.id for c in people]
    scores = {r.candidate_id: r
              for r in db.exec(select(ReviewScore).where(col(ReviewScore.candidate_id).in_(ids)))}  # fmt: skip
    return [(c, scores.get(c.id)) for c in people]


def key_corrections(db: Session, session: ExamSession) -> list[KeyCorrection]:
    """Every key correction recorded for the session's bank version, oldest first."""
    version = db.get(BankVersion, session.bank_version_id)
    return list(db.exec(select(KeyCorrection)
                        .where(KeyCorrection.bank_version_id == version.id)
                        .order_by(col(KeyCorrection.id))))  # fmt: skip
