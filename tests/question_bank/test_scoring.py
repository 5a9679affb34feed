"""The scoring rules as pure functions."""

from __future__ import annotations

import pytest

from question_bank.items import Criterion, ItemType, Task
from question_bank.scoring import (
    MultipleChoiceRule,
    Reconciliation,
    ScoringError,
    TaskMark,
    check_marks,
    reconcile,
    round_points,
    scale_to_100,
    score_response,
)

SC, MC, TF = ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE, ItemType.TRUE_FALSE
PARTIAL = MultipleChoiceRule.PARTIAL

TASK = Task(uid="T", title="t", instructions="", criteria=(
    Criterion("C1", "安全准备", 20), Criterion("C2", "示教", 50), Criterion("C3", "验证", 30),
    Criterion("V1", "违规操作", 0, veto=True)))  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "key", "response", "rule", "points"),
    [
        (SC, ("B",), "B", None, 1),
        (SC, ("B",), "C", None, 0),
        (SC, ("B",), "", None, 0),
        (SC, ("B",), "BC", None, 0),
        (TF, ("T",), "T", None, 0.5),
        (TF, ("T",), "F", None, 0),
        (MC, ("A", "C", "D"), "ACD", None, 2),
        (MC, ("A", "C", "D"), ["D", "a", "C"], None, 2),  # order and case do not matter
        (MC, ("A", "C", "D"), "AC", None, 0),  # all or nothing by default
        (MC, ("A", "C", "D"), "AC", PARTIAL, 1.33),  # two thirds of 2 points
        (MC, ("A", "C", "D"), "A", PARTIAL, 0.67),
        (MC, ("A", "C", "D"), "ACB", PARTIAL, 0),  # a wrong option loses everything
        (MC, ("A", "C", "D"), "ABCD", PARTIAL, 0),
        (MC, ("A", "C", "D"), "", PARTIAL, 0),
    ],
)
def test_objective_items(kind, key, response, rule, points):
    worth = {SC: 1, TF: 0.5, MC: 2}[kind]
    rule = rule or MultipleChoiceRule.ALL_OR_NOTHING
    assert score_response(kind, key, response, worth, rule) == points


def test_rounding_is_half_up_on_decimals():
    assert round_points(59.995) == 60.0
    assert round_points(0.125) == 0.13  # float round() would give 0.12
    assert scale_to_100(37.5, 50) == 75 and scale_to_100(1, 3) == 33.33 and scale_to_100(0, 0) == 0


def test_marks_are_checked_against_the_rubric():
    mark = check_marks(TASK, {"C1": 20, "C2": 41.5, "C3": 0}, ["V1"])
    assert mark.total == 61.5 and mark.vetoes == {"V1"}
    with pytest.raises(ScoringError) as caught:
        check_marks(TASK, {"C1": 21, "C2": -1, "X": 3, "V1": 0}, ["C3"])
    message = str(caught.value)
    for part in ("C1 的分数 21 超过该项满分 20", "C2 的分数不能为负数", "C3（验证）未评分",
                 "没有评分项 X", "否决项 V1 不计分", "没有否决项 C3"):  # fmt: skip
        assert part in message
    with pytest.raises(ScoringError, match="不是数字"):
        check_marks(TASK, {"C1": "abc", "C2": 1, "C3": 1}, [])


def _marks(*totals, vetoes=()):
    out = []
    for n, total in enumerate(totals):
        out.append(TaskMark(f"e{n}", {"C1": 0, "C2": total, "C3": 0},
                            frozenset(vetoes) if n == 0 else frozenset()))  # fmt: skip
    return out


def test_reconcile_mean_median_spread_and_veto():
    mean = reconcile(TASK, _marks(40, 45, 47), method=Reconciliation.MEAN, spread_limit_percent=10)
    assert not mean.needs_decision and mean.points == 44 and mean.spread == 7
    median = reconcile(TASK, _marks(40, 49, 41), method=Reconciliation.MEDIAN,
                       spread_limit_percent=10)  # fmt: skip
    assert median.points == 41
    exactly = reconcile(TASK, _marks(40, 50, 45), method=Reconciliation.MEAN,
                        spread_limit_percent=10)  # fmt: skip
    assert not exactly.needs_decision  # a spread of exactly the limit is allowed
    wide = reconcile(TASK, _marks(40, 50.5, 45), method=Reconciliation.MEAN,
                     spread_limit_percent=10)  # fmt: skip
    assert wide.needs_decision and wide.points is None and "10.5" in wide.reasons[0]
    veto = reconcile(TASK, _marks(45, 45, 45, vetoes={"V1"}), method=Reconciliation.MEAN,
                     spread_limit_percent=10)  # fmt: skip
    assert veto.needs_decision and "e0 勾选了否决项 V1" in veto.reasons[0]
