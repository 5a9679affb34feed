"""Scoring rules as pure functions: objective items, practical marks and their reconciliation.

Everything here is deterministic: the same inputs give the same scores, so grading can be run
again at any time (after a key correction, for an appeal) and compared with what it gave before.
Points are rounded half-up to two decimals with :class:`~decimal.Decimal`, never with binary
floats, so 59.995 is 60.00 on every machine.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from question_bank.items import Criterion, ItemType, Task


class MultipleChoiceRule(StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"  # 全部选对才得分
    PARTIAL = "partial"  # 少选按选对比例得分，错选不得分


class Reconciliation(StrEnum):
    MEAN = "mean"
    MEDIAN = "median"


class ScoringError(ValueError):
    """Marks that do not fit the rubric: each message names the criterion and why."""


def round_points(value: float) -> float:
    """Half-up to two decimals (the way a score sheet rounds, unlike ``round``)."""
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def normalise_response(response: str | Iterable[str]) -> tuple[str, ...]:
    keys = response if not isinstance(response, str) else list(response.replace(",", ""))
    return tuple(sorted({k.strip().upper() for k in keys if k.strip()}))


def score_response(item_type: ItemType, key: Sequence[str], response: str | Iterable[str],
                   points: float, rule: MultipleChoiceRule = MultipleChoiceRule.ALL_OR_NOTHING
                   ) -> float:  # fmt: skip
    """Points earned by ``response`` (chosen option keys) on an item worth ``points``.

    Single choice and true/false score by exact match. Multiple choice is all-or-nothing by
    default; under ``PARTIAL`` a response with no wrong option earns the share of the correct
    options it chose (choosing two of three correct options earns two thirds).
    """
    chosen = set(normalise_response(response))
    correct = set(key)
    if not chosen or not correct:
        return 0.0
    if chosen == correct:
        return float(points)
    if item_type != ItemType.MULTIPLE_CHOICE or rule == MultipleChoiceRule.ALL_OR_NOTHING:
        return 0.0
    if chosen - correct:
        return 0.0
    return round_points(points * len(chosen) / len(correct))


def scale_to_100(earned: float, available: float) -> float:
    return round_points(100 * earned / available) if available else 0.0


@dataclass(frozen=True)
class TaskMark:
    """One examiner's marks for one candidate on one task."""

    examiner: str
    points: Mapping[str, float]  # criterion code -> points given
    vetoes: frozenset[str] = frozenset()  # veto criteria the examiner raised

    @property
    def total(self) -> float:
        return round_points(sum(self.points.values()))


def check_marks(task: Task, points: Mapping[str, float], vetoes: Iterable[str]) -> TaskMark:
    """Validate one examiner's marks against the rubric; every problem is listed."""
    by_code: dict[str, Criterion] = {c.code: c for c in task.criteria}
    problems = []
    clean: dict[str, float] = {}
    for criterion in task.criteria:
        if criterion.veto:
            continue
        if criterion.code not in points or points[criterion.code] is None:
            problems.append(f"评分项 {criterion.code}（{criterion.description}）未评分")
            continue
        try:
            value = float(points[criterion.code])
        except (TypeError, ValueError):
            problems.append(f"评分项 {criterion.code} 的分数 '{points[criterion.code]}' 不是数字")
            continue
        if value != value or value < 0:  # NaN or negative
            problems.append(f"评分项 {criterion.code} 的分数不能为负数（{value:g}）")
        elif value > criterion.max_points:
            problems.append(f"评分项 {criterion.code} 的分数 {value:g} 超过该项满分 "
                            f"{criterion.max_points:g}")  # fmt: skip
        else:
            clean[criterion.code] = value
    for code in points:
        if code not in by_code:
            problems.append(f"任务 {task.uid} 没有评分项 {code}")
        elif by_code[code].veto:
            problems.append(f"否决项 {code} 不计分，只能勾选是否触发")
    raised = set(vetoes)
    for code in sorted(raised):
        if code not in by_code or not by_code[code].veto:
            problems.append(f"任务 {task.uid} 没有否决项 {code}")
    if problems:
        raise ScoringError("; ".join(problems))
    return TaskMark(examiner="", points=clean, vetoes=frozenset(raised))


@dataclass(frozen=True)
class TaskOutcome:
    """What the panel's marks add up to for one candidate on one task."""

    marks: tuple[TaskMark, ...]
    max_points: float
    points: float | None  # reconciled; None while it waits for the chief examiner
    spread: float
    needs_decision: bool
    reasons: tuple[str, ...] = field(default=())
    vetoed: bool = False


def reconcile(task: Task, marks: Sequence[TaskMark], *, method: Reconciliation,
              spread_limit_percent: float) -> TaskOutcome:  # fmt: skip
    """Combine a complete panel's marks into the task's points.

    The spread is the highest total minus the lowest. A spread above ``spread_limit_percent`` of
    the task's maximum, or any veto raised by anyone, leaves the outcome to the chief examiner.
    """
    totals = [m.total for m in marks]
    spread = round_points(max(totals) - min(totals)) if totals else 0.0
    limit = task.max_points * spread_limit_percent / 100
    reasons = []
    if spread > limit + 1e-9:
        reasons.append(f"评分差异 {spread:g} 分，超过允许的 {round_points(limit):g} 分")
    raised = sorted({code for m in marks for code in m.vetoes})
    if raised:
        who = "、".join(sorted(m.examiner for m in marks if m.vetoes))
        reasons.append(f"{who} 勾选了否决项 {'、'.join(raised)}")
    if reasons or not totals:
        return TaskOutcome(tuple(marks), task.max_points, None, spread, True, tuple(reasons))
    combine = statistics.fmean if method == Reconciliation.MEAN else statistics.median
    return TaskOutcome(tuple(marks), task.max_points, round_points(combine(totals)), spread, False)
