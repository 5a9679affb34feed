"""Item analysis (question_bank.itemstats), checked against figures worked out by hand.

The worked example is the one in docs/item-statistics.md: 5 candidates, 4 items. Every expected
value below is written out as the arithmetic a person would do on paper, not computed by the
code under test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from question_bank.itemstats import (
    DistractorFlag,
    ItemFlag,
    MatrixError,
    ScoreMatrix,
    Thresholds,
    analyse,
    distractors,
    group_size,
    read_matrix_csv,
)

#            Q1 Q2 Q3 Q4     (Q3 is out of 2, the others out of 1)
ROWS = [
    [1, 1, 2, 0],  # c1  total 4
    [1, 1, 1, 0],  # c2  total 3
    [1, 0, 1, 1],  # c3  total 3
    [0, 1, 0, 0],  # c4  total 1
    [0, 0, 0, 1],  # c5  total 1
]
IDS = ["Q1", "Q2", "Q3", "Q4"]
MAX = [1, 1, 2, 1]
CANDIDATES = ["c1", "c2", "c3", "c4", "c5"]


def approx(value: float) -> object:
    return pytest.approx(value, abs=5e-5)  # "to 4 decimals"


@pytest.fixture
def example():
    return analyse(ScoreMatrix(IDS, MAX, ROWS, CANDIDATES))


def test_worked_example_test_level(example):
    t = example.overall
    # Totals 4, 3, 3, 1, 1: mean 12/5 = 2.4; sorted 1 1 3 3 4, median 3.
    assert (t.n_candidates, t.n_items, t.max_total) == (5, 4, 5.0)
    assert t.mean == approx(2.4) and t.median == 3 and (t.lowest, t.highest) == (1, 4)
    # Deviations 1.6, 0.6, 0.6, -1.4, -1.4.
    p2 = 1.6**2 + 0.6**2 + 0.6**2 + 1.4**2 + 1.4**2  # 7.2
    p3 = 1.6**3 + 0.6**3 + 0.6**3 - 1.4**3 - 1.4**3  # -0.96
    p4 = 1.6**4 + 0.6**4 + 0.6**4 + 1.4**4 + 1.4**4  # 14.496
    assert p2 == approx(7.2) and p3 == approx(-0.96) and p4 == approx(14.496)
    assert t.sd == approx(math.sqrt(7.2 / 4))  # 1.3416
    m2, m3, m4 = 7.2 / 5, -0.96 / 5, 14.496 / 5  # 1.44, -0.192, 2.8992
    k2 = 5 * m2 / 4  # 1.8
    k3 = 25 * m3 / (4 * 3)  # -0.4
    k4 = 25 * (6 * m4 - 3 * 4 * m2 * m2) / (4 * 3 * 2)  # -7.8
    assert t.skewness == approx(-0.4 / 1.8**1.5)  # -0.1656
    assert t.skewness == approx(k3 / k2**1.5)
    assert t.kurtosis == approx(-7.8 / 1.8**2)  # -2.4074
    assert t.kurtosis == approx(k4 / k2**2)
    # Item variances (n - 1 = 4): Q1 1.2/4, Q2 1.2/4, Q3 2.8/4, Q4 1.2/4; sum 1.6.
    alpha = 4 / 3 * (1 - 1.6 / 1.8)  # 0.1481
    assert t.alpha == approx(0.1481)
    assert t.alpha == approx(alpha)
    assert t.error_ratio == approx(math.sqrt(1 - alpha))  # 0.9230
    assert t.sem == approx(math.sqrt(1 - alpha) * math.sqrt(1.8))  # 1.2383
    d = example.to_dict()["test"]
    assert d["mean_fraction"] == approx(2.4 / 5) and d["median_fraction"] == approx(3 / 5)


def test_worked_example_items(example):
    q1, q2, q3, q4 = example.items
    # Facility = mean mark / max mark.
    assert q1.facility == approx(3 / 5) and q2.facility == approx(3 / 5)
    assert q3.facility == approx((2 + 1 + 1) / 5 / 2) and q4.facility == approx(2 / 5)
    # SD of mark/max: Q1 marks 1 1 1 0 0, mean .6, squares 3 x .16 + 2 x .36 = 1.2.
    assert q1.sd == approx(math.sqrt(1.2 / 4))  # 0.5477
    # Q3 marks 2 1 1 0 0, mean .8, squares 1.44 + .04 + .04 + .64 + .64 = 2.8, over max 2.
    assert q3.sd == approx(math.sqrt(2.8 / 4) / 2)  # 0.4183

    # Q1: rest of test = 3 2 2 1 1 (mean 1.8, deviations 1.2 .2 .2 -.8 -.8, squares 2.8).
    # Cross products with .4 .4 .4 -.6 -.6: .48 + .08 + .08 + .48 + .48 = 1.6.
    assert q1.discrimination_index == approx(1.6 / math.sqrt(1.2 * 2.8))  # 0.8729
    # Sorted pairs (0,1) (0,1) (1,2) (1,2) (1,3) give the same 1.6: efficiency 1.
    assert q1.discriminative_efficiency == approx(1.0)

    # Q2: rest = 3 2 3 0 1 (mean 1.8; deviations 1.2 .2 1.2 -1.8 -.8; squares 6.8).
    # Cross products with .4 .4 -.6 .4 -.6: .48 + .08 - .72 - .72 + .48 = -.4.
    assert q2.discrimination_index == approx(-0.4 / math.sqrt(1.2 * 6.8))  # -0.1400
    # Sorted: item -.6 -.6 .4 .4 .4 with rest 0 1 2 3 3 (dev -1.8 -.8 .2 1.2 1.2):
    # 1.08 + .48 + .08 + .48 + .48 = 2.6.
    assert q2.discriminative_efficiency == approx(-0.4 / 2.6)  # -0.1538

    # Q4: rest = 4 3 2 1 0 (mean 2; deviations 2 1 0 -1 -2; squares 10).
    # Cross products with -.4 -.4 .6 -.4 .6: -.8 - .4 + 0 + .4 - 1.2 = -2.
    assert q4.discrimination_index == approx(-2 / math.sqrt(1.2 * 10))  # -0.5774
    # Sorted: -.4 -.4 -.4 .6 .6 with -2 -1 0 1 2: .8 + .4 + 0 + .6 + 1.2 = 3.
    assert q4.discriminative_efficiency == approx(-2 / 3)

    # Q3: rest = 2 2 2 1 1 (mean 1.6; deviations .4 .4 .4 -.6 -.6; squares 1.2).
    # Cross products with 1.2 .2 .2 -.8 -.8: .48 + .08 + .08 + .48 + .48 = 1.6.
    assert q3.discrimination_index == approx(1.6 / math.sqrt(2.8 * 1.2))

    # Intended weight = max / 5. Effective weight: sqrt(cov with the total) over the sum for
    # items with a non-negative covariance. Cov with total (dev 1.6 .6 .6 -1.4 -1.4, / 4):
    # Q1 (.64 + .24 + .24 + .84 + .84) / 4 = .7; Q2 (.64 + .24 - .36 - .56 + .84) / 4 = .2;
    # Q3 (1.92 + .12 + .12 + 1.12 + 1.12) / 4 = 1.1; Q4 (-.64 - .24 + .36 + .56 - .84) / 4 = -.2.
    root_sum = math.sqrt(0.7) + math.sqrt(0.2) + math.sqrt(1.1)
    assert [i.intended_weight for i in example.items] == [0.2, 0.2, 0.4, 0.2]
    assert q1.effective_weight == approx(math.sqrt(0.7) / root_sum)  # 0.3587
    assert q2.effective_weight == approx(math.sqrt(0.2) / root_sum)
    assert q3.effective_weight == approx(math.sqrt(1.1) / root_sum)
    assert q4.effective_weight is None

    assert q1.flags == () and q3.flags == ()
    assert q2.flags == (ItemFlag.NEGATIVE_DISCRIMINATION,)
    assert q4.flags == (ItemFlag.NEGATIVE_DISCRIMINATION,)


def test_to_dict_is_complete_and_json_ready(example):
    d = example.to_dict()
    text = json.dumps(d, allow_nan=False)  # no NaN or infinity anywhere
    assert json.loads(text) == d
    assert d["format"] == "skillcert-itemstats/1"
    assert d["thresholds"] == {
        "weak_discrimination": 0.2,
        "very_easy": 0.9,
        "very_hard": 0.1,
        "group_fraction": 0.27,
    }
    assert set(d["test"]) >= {"n_candidates", "mean", "median", "sd", "skewness", "kurtosis"}
    assert set(d["test"]) >= {"alpha", "error_ratio", "sem", "sd_fraction", "sem_fraction"}
    assert set(d["items"][0]) == {
        "item_id",
        "position",
        "max_mark",
        "n",
        "mean",
        "facility",
        "sd",
        "discrimination_index",
        "discriminative_efficiency",
        "intended_weight",
        "effective_weight",
        "flags",
    }
    assert d["items"][3]["flags"] == ["negative_discrimination"]
    assert d["candidates"][0] == {"index": 1, "id": "c1", "total": 4.0}
    assert example.item("Q3").position == 3
    with pytest.raises(KeyError):
        example.item("nope")


def test_flags_weak_easy_hard_and_no_variance():
    # 10 candidates. E: everybody right (no variance, very easy). H: only the best right, 1/10.
    # W: right for candidates 1, 4, 5, 8, 9: barely related to the rest (r = .066).
    base = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]  # a 9-mark item that drives the totals
    hard = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    weak = [1, 0, 0, 1, 1, 0, 0, 1, 1, 0]
    rows = [[b, 1, h, w] for b, h, w in zip(base, hard, weak, strict=True)]
    a = analyse(ScoreMatrix(["B", "E", "H", "W"], [9, 1, 1, 1], rows))
    b, e, h, w = a.items
    assert e.flags == (ItemFlag.NO_VARIANCE, ItemFlag.VERY_EASY)
    assert e.discrimination_index is None and e.discriminative_efficiency is None
    assert e.sd == 0 and e.effective_weight == 0
    assert h.facility == approx(0.1) and ItemFlag.VERY_HARD in h.flags
    assert 0 <= w.discrimination_index < 0.2
    assert w.flags == (ItemFlag.WEAK_DISCRIMINATION,)
    assert b.flags == ()
    # The weak threshold is configurable: at 0 only negative items are flagged.
    lenient = analyse(ScoreMatrix(["B", "E", "H", "W"], [9, 1, 1, 1], rows), Thresholds(0.0))
    assert lenient.item("W").flags == ()
    with pytest.raises(ValueError, match="group_fraction"):
        Thresholds(group_fraction=0.6)


def test_one_candidate_gives_none_not_nan():
    a = analyse(ScoreMatrix(["Q1", "Q2"], [1, 2], [[1, 1.5]]))
    t = a.overall
    assert (t.mean, t.median, t.n_candidates) == (2.5, 2.5, 1)
    assert t.sd is t.skewness is t.kurtosis is t.alpha is t.error_ratio is t.sem is None
    q1 = a.items[0]
    assert q1.facility == 1 and q1.sd is None and q1.discrimination_index is None
    assert q1.effective_weight is None and ItemFlag.NO_VARIANCE not in q1.flags
    json.dumps(a.to_dict(), allow_nan=False)


def test_zero_total_variance():
    # Everyone scores 2 in total: the test cannot tell anyone apart.
    a = analyse(ScoreMatrix(["A", "B"], [2, 2], [[2, 0], [1, 1], [0, 2], [2, 0]]))
    t = a.overall
    assert t.sd == 0 and t.skewness is None and t.kurtosis is None
    assert t.alpha is None and t.sem is None
    # Each item varies, but the rest of the test mirrors it exactly: r = -1.
    assert a.items[0].discrimination_index == approx(-1)
    json.dumps(a.to_dict(), allow_nan=False)


def test_two_and_three_candidates_and_single_item():
    two = analyse(ScoreMatrix(["A", "B"], [1, 1], [[1, 1], [0, 0]]))
    # Totals 2, 0: sd sqrt(2); items 1 0 each (variance .5); alpha = 2 x (1 - 1/2) = 1.
    assert two.overall.sd == approx(math.sqrt(2)) and two.overall.skewness is None
    assert two.overall.alpha == approx(1.0) and two.overall.sem == approx(0.0)
    three = analyse(ScoreMatrix(["A", "B"], [1, 1], [[1, 1], [0, 0], [1, 0]]))
    assert three.overall.skewness is not None and three.overall.kurtosis is None
    single = analyse(ScoreMatrix(["A"], [1], [[1], [0], [1]]))
    assert single.overall.alpha is None  # needs 2 items
    assert single.items[0].discrimination_index is None  # no rest of test


def test_large_matrix_is_consistent():
    # 300 x 100 with a deterministic pattern; statistics stay in range and the JSON is clean.
    rows = [[float((c * 7 + i * 3) % 5 < 2 + c % 3) for i in range(100)] for c in range(300)]
    a = analyse(ScoreMatrix([f"Q{i}" for i in range(100)], [1.0] * 100, rows))
    assert a.overall.n_candidates == 300 and len(a.items) == 100
    for s in a.items:
        assert 0 <= s.facility <= 1
        assert s.discrimination_index is None or -1 <= s.discrimination_index <= 1
        assert s.discriminative_efficiency is None or s.discriminative_efficiency <= 1
    json.dumps(a.to_dict(), allow_nan=False)


# --- distractors -------------------------------------------------------------------------------


def test_distractors_by_hand():
    # 10 candidates; the groups are the top and bottom round(.27 x 10) = 3 by total.
    totals = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    choices = ["A", "A", "C", "A", "B", None, "B", "C", "B", "C"]
    rows = {o.option: o for o in distractors(choices, "A", totals, options="ABCD")}
    assert list(rows) == ["A", "B", "C", "D", None]
    a, b, c, d, omit = rows["A"], rows["B"], rows["C"], rows["D"], rows[None]
    # Upper = totals 10, 9, 8 (choices A A C); lower = 3, 2, 1 (C B C).
    assert (a.count, a.is_key, a.upper_count, a.lower_count) == (3, True, 2, 0)
    assert a.proportion == approx(3 / 10) and a.mean_total == approx((10 + 9 + 7) / 3)
    assert a.upper_proportion == approx(2 / 3) and a.flags == ()
    assert (b.count, b.upper_count, b.lower_count) == (3, 0, 1)
    assert b.mean_total == approx((6 + 4 + 2) / 3) and b.flags == ()
    assert (c.count, c.upper_count, c.lower_count) == (3, 1, 2)
    assert c.mean_total == approx((8 + 3 + 1) / 3)
    assert (d.count, d.mean_total, d.flags) == (0, None, (DistractorFlag.NEVER_CHOSEN,))
    assert (omit.count, omit.is_key, omit.mean_total) == (1, False, 5)
    assert json.loads(json.dumps(d.to_dict())) == d.to_dict()


def test_distractor_chosen_more_by_the_upper_group():
    totals = [10, 9, 8, 2, 1, 0]  # groups of round(.27 x 6) = 2
    choices = ["B", "B", "A", "A", "A", "C"]
    rows = {o.option: o for o in distractors(choices, "A", totals, options=["A", "B", "C"])}
    assert rows["B"].flags == (DistractorFlag.UPPER_FAVOURED,)
    assert (rows["B"].upper_count, rows["B"].lower_count) == (2, 0)
    assert rows["C"].flags == () and rows["A"].flags == ()  # the key is never flagged


def test_multiple_response_and_ties_and_tiny_groups():
    rows = distractors([("A", "C"), "A", ["C", "B"], ""], ("A", "C"), [3, 2, 1, 0])
    by = {o.option: o for o in rows}
    assert [o.option for o in rows] == ["A", "B", "C", None]  # derived options, sorted
    assert by["A"].is_key and by["C"].is_key and not by["B"].is_key
    assert (by["A"].count, by["C"].count, by[None].count) == (2, 2, 1)
    assert group_size(1) == 0 and group_size(2) == 1 and group_size(10) == 3
    assert group_size(300) == 81 and group_size(4, 0.5) == 2
    lone = distractors(["A"], "A", [5])
    assert lone[0].upper_proportion is None and lone[0].upper_count == 0
    # Ties at the edge: input order decides (the earlier of equal totals counts as lower).
    tie = {o.option: o for o in distractors(["B", "A", "A", "A"], "A", [1, 1, 1, 1])}
    assert (tie["B"].lower_count, tie["B"].upper_count) == (1, 0)


def test_distractor_errors():
    with pytest.raises(MatrixError, match="数目不符"):
        distractors(["A"], "A", [1, 2])
    with pytest.raises(MatrixError, match="empty key"):
        distractors(["A"], "", [1])
    with pytest.raises(MatrixError, match="正确答案 E 不是选项"):
        distractors(["A"], "E", [1], options="ABCD")
    with pytest.raises(MatrixError, match="第2行 choices: 选了不存在的选项 Z"):
        distractors(["A", "Z"], "A", [1, 2], options="ABCD")
    with pytest.raises(MatrixError, match="duplicate option"):
        distractors(["A"], "A", [1], options=["A", "A"])
    with pytest.raises(MatrixError, match="totals"):
        distractors(["A"], "A", [math.nan])


# --- building a matrix in code -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"item_ids": []}, "no items"),
        ({"item_ids": ["Q1", "Q1"]}, "Q1: 题目编号与第 1 题重复"),
        ({"item_ids": ["Q1", " "]}, "第 2 题的题目编号为空"),
        ({"max_marks": [1]}, "max marks do not match"),
        ({"max_marks": [1, 0]}, "Q2: 满分 0 必须大于 0"),
        ({"max_marks": [1, math.inf]}, "Q2: 满分 inf 不是有限数字"),
        ({"rows": []}, "no candidate rows"),
        ({"rows": [[1, 1], [1]]}, "第2行: 有 1 个成绩，应有 2 个"),
        ({"rows": [[1, 3]]}, "第1行 Q2: 成绩 3 超过满分 2"),
        ({"rows": [[-1, 1]]}, "第1行 Q1: 成绩 -1 为负数"),
        ({"rows": [[math.nan, 1]]}, "Q1: 成绩 nan 不是有限数字"),
        ({"rows": [["1", 1]]}, "成绩 '1' 不是有限数字"),
        ({"candidate_ids": ["a"]}, "1 个考生编号、2 行成绩"),
        ({"candidate_ids": ["a", "a"]}, "第2行 candidate: 考生编号与第 1 行重复"),
    ],
)
def test_score_matrix_validation(kwargs, message):
    args = {"item_ids": ["Q1", "Q2"], "max_marks": [1, 2], "rows": [[1, 2], [0, 0]]} | kwargs
    with pytest.raises(MatrixError) as exc:
        ScoreMatrix(**args)
    assert message in str(exc.value)
    assert isinstance(exc.value, ValueError) and exc.value.problems


# --- CSV -------------------------------------------------------------------------------------------

EXAMPLE_CSV = """candidate,Q1,Q2,Q3,Q4
max,1,1,2,1
c1,1,1,2,0
c2,1,1,1,0
c3,1,0,1,1

c4,0,1,0,0
c5,0,0,0,1
"""


def test_read_csv_with_candidate_column_matches_in_memory(example, tmp_path: Path):
    m = read_matrix_csv(EXAMPLE_CSV)
    assert (m.item_ids, m.max_marks, m.candidate_ids) == (IDS, [1, 1, 2, 1], CANDIDATES)
    assert analyse(m).to_dict() == example.to_dict()
    path = tmp_path / "成绩.csv"
    path.write_bytes(EXAMPLE_CSV.encode("gb18030"))  # Excel's plain CSV on Chinese Windows
    assert read_matrix_csv(path).rows == m.rows
    assert read_matrix_csv(str(path)).rows == m.rows  # a str without line breaks is a path
    assert read_matrix_csv(EXAMPLE_CSV.encode("utf-16")).rows == m.rows
    assert read_matrix_csv(("\ufeff" + EXAMPLE_CSV).encode()).candidate_ids == CANDIDATES


def test_read_csv_without_candidate_column_and_other_separators():
    m = read_matrix_csv("Q1;Q2\r\n1;2.5\r\n1;0.5\r\n0;2.5;;\r\n")
    assert m.candidate_ids is None and m.rows == [[1, 0.5], [0, 2.5]] and m.max_marks == [1, 2.5]
    tab = read_matrix_csv("考生\t题1\n\t1\nA01\t1\n")
    assert tab.item_ids == ["题1"] and tab.candidate_ids == ["A01"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "文件是空的"),
        (" , \n,\n", "文件是空的"),
        ("Q1,Q2\n", "第1行: 缺少第二行：每题的满分"),
        ("Q1,Q2\n1,1\n", "第2行: 没有考生成绩行"),
        ("Q1,Q1\n1,1\n1,1\n", "第1行 Q1: 题目编号与第 1 题重复"),
        ("Q1,,Q3\n1,1,1\n1,1,1\n", "第1行: 第 2 题的题目编号为空"),
        ("candidate\nmax\nc1\n", "没有题目"),
        ("Q1,Q2\n1,0\n1,0\n", "第2行 Q2（第2列）: 满分 0 必须大于 0"),
        ("Q1,Q2\n1,x\n1,0\n", "第2行 Q2（第2列）: “x”不是数字"),
        ("Q1,Q2\n1,\n1,0\n", "第2行 Q2（第2列）: 满分为空"),
        ("Q1,Q2\n1,2\n1,3\n", "第3行 Q2（第2列）: 成绩 3 超过满分 2"),
        ("Q1,Q2\n1,2\n-1,1\n", "第3行 Q1（第1列）: 成绩 -1 为负数"),
        ("Q1,Q2\n1,2\n1,abc\n", "第3行 Q2（第2列）: “abc”不是数字"),
        ("Q1,Q2\n1,2\n1,nan\n", "“nan”不是数字"),
        ("Q1,Q2\n1,2\n1,1_0\n", "“1_0”不是数字"),
        ("candidate,Q1,Q2\nmax,1,2\nc1,,-\n", "第3行: 本行没有任何题目的成绩"),  # see sparse tests
        ("Q1,Q2\n1,2\n1,—\n", "第3行 Q2（第2列）: “—”不是数字"),  # only - means not presented
        ("Q1,Q2\n1,2\n1\n", "第3行: 本行有 1 列，表头有 2 列"),
        ("Q1,Q2\n1,2\n1,1,1\n", "第3行: 本行有 3 列，表头有 2 列"),
        ("Q1,Q2\n1,2,5\n1,1\n", "第2行: 本行有 3 列"),
        ("candidate,Q1\nmax,1\n,1\n", "第3行 candidate: 考生编号为空"),
        ("candidate,Q1\nmax,1\nc1,1\n\nc1,0\n", "第5行 candidate: 考生编号与第 3 行重复"),
        ('Q1,Q2\n1,2\n"1,1\n', "第3行: 本行有 1 列"),
        pytest.param("Q1\n1\n" + "1" * 200_000 + "\n", "第3行: CSV 格式错误", id="huge-cell"),
    ],
)
def test_csv_errors(text, message):
    with pytest.raises(MatrixError) as exc:
        read_matrix_csv(text, name="marks.csv")
    assert message in str(exc.value)
    assert str(exc.value).startswith("marks.csv")


def test_csv_reports_every_problem_at_once():
    text = "Q1,Q2,Q1\n1,0,1\n2,1,1\nx,1\n"
    with pytest.raises(MatrixError) as exc:
        read_matrix_csv(text, name="m.csv")
    messages = [str(p) for p in exc.value.problems]
    assert any("题目编号与第 1 题重复" in m for m in messages)
    assert any("满分 0 必须大于 0" in m for m in messages)
    assert any("第3行 Q1（第1列）: 成绩 2 超过满分 1" in m for m in messages)
    assert any("第4行: 本行有 2 列" in m for m in messages)


def test_csv_file_errors(tmp_path: Path):
    with pytest.raises(MatrixError, match="无法读取文件"):
        read_matrix_csv(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfeQ\x00\xd8")  # a UTF-16 BOM, then a broken surrogate
    with pytest.raises(MatrixError, match="bad.csv"):
        read_matrix_csv(bad)
    many = "Q1\n1\n" + "5\n" * 60
    with pytest.raises(MatrixError, match="另有 10 处问题") as exc:
        read_matrix_csv(many)
    assert len(exc.value.problems) == 60
