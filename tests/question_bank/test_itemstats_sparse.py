"""Item analysis of a sparse score matrix (each candidate sat their own form), by hand.

``None`` in a row means "this item was not on the candidate's form". Expected values are the
arithmetic a person would do on paper (docs/item-statistics.md §8.4), not the code under test.
"""

from __future__ import annotations

import json
import math
import statistics
from itertools import combinations

import pytest

from question_bank import itemstats_csv, itemstats_distractors
from question_bank.itemstats import (
    ItemFlag,
    MatrixError,
    ScoreMatrix,
    analyse,
    distractors,
    read_matrix_csv,
)

_ = None  # not presented
#           A  B  C  D      every form has two of A, B, C (1 mark each); D was on nobody's form
SPARSE = [
    [1, 1, _, _],  # c1  total 2
    [1, 1, _, _],  # c2  total 2
    [1, 0, _, _],  # c3  total 1
    [0, _, 0, _],  # c4  total 0
    [0, _, 0, _],  # c5  total 0
    [1, _, 1, _],  # c6  total 2
    [_, 0, 1, _],  # c7  total 1
    [_, 0, 0, _],  # c8  total 0
]
SPARSE_IDS = [f"c{i}" for i in range(1, 9)]

SPARSE_CSV = """candidate,A,B,C,D
max,1,1,1,1
c1,1,1,-,-
c2,1,1,,
c3,1,0,-,
c4,0,,0,-
c5,0,-,0,-
c6,1,,1,
c7,-,0,1,-
c8,,0,0,
"""

# The full worked example of test_itemstats.py / docs §7.
FULL = [[1, 1, 2, 0], [1, 1, 1, 0], [1, 0, 1, 1], [0, 1, 0, 0], [0, 0, 0, 1]]
FULL_IDS, FULL_MAX = ["Q1", "Q2", "Q3", "Q4"], [1, 1, 2, 1]


def approx(value: float) -> object:
    return pytest.approx(value, abs=5e-5)  # "to 4 decimals"


@pytest.fixture
def sparse():
    return analyse(ScoreMatrix(["A", "B", "C", "D"], [1, 1, 1, 1], SPARSE, SPARSE_IDS))


def test_sparse_worked_example_test_level(sparse):
    t = sparse.overall
    # Every form is out of 2, so the paper's total is 2 and totals need no scaling.
    assert (t.n_candidates, t.n_items, t.max_total, t.sparse) == (8, 4, 2.0, True)
    assert t.mean_items_presented == 2.0
    assert sparse.totals == (2, 2, 1, 0, 0, 2, 1, 0) == sparse.raw_totals
    assert sparse.form_maxima == (2,) * 8
    # Sum 8, mean 1; sorted 0 0 0 1 1 2 2 2, median (1 + 1) / 2 = 1.
    assert t.mean == 1 and t.median == 1 and (t.lowest, t.highest) == (0, 2)
    # Deviations 1 1 0 -1 -1 1 0 -1: squares sum to 6, so k2 = 6/7 and SD = 0.9258.
    assert t.sd == approx(math.sqrt(6 / 7))
    # Cubes cancel: skewness 0. m2 = m4 = 6/8 = .75;
    # k4 = 64 x (9 x .75 - 3 x 7 x .75^2) / (7 x 6 x 5) = 64 x -5.0625 / 210 = -1.542857.
    assert t.skewness == approx(0)
    assert t.kurtosis == approx(-1.542857 / (6 / 7) ** 2)  # -2.1
    assert t.kurtosis == approx(-2.1)
    # Alpha from pooled variances and covariances (each over the candidates presented):
    #   item sums of squares  A: marks 1 1 1 0 0 1, mean 2/3 -> 4 x 1/9 + 2 x 4/9 = 4/3 (df 5)
    #                         B: 1 1 0 0 0, mean .4 -> 2 x .36 + 3 x .16 = 1.2 (df 4); C alike
    #   v = (4/3 + 1.2 + 1.2) / 13 = 56/195 = 0.2872
    #   pairs  A,B on c1 c2 c3: A is 1 1 1, flat, cross products 0 (df 2)
    #          A,C on c4 c5 c6: both 0 0 1, deviations -1/3 -1/3 2/3: 1/9 + 1/9 + 4/9 = 2/3 (df 2)
    #          B,C on c7 c8: B is 0 0, flat, 0 (df 1)
    #   c = (0 + 2/3 + 0) / 5 = 2/15 = 0.1333; forms have k = 2 items:
    #   alpha = k c / (v + (k - 1) c) = (4/15) / (56/195 + 26/195) = 52/82 = 26/41 = 0.6341
    v, c = (4 / 3 + 1.2 + 1.2) / 13, (2 / 3) / 5
    assert v == approx(56 / 195) and c == approx(2 / 15)
    assert t.alpha == approx(2 * c / (v + c))
    assert t.alpha == approx(0.6341)
    # The same in Cronbach's form: k/(k-1) x (1 - k v / (k v + k (k-1) c)).
    assert t.alpha == approx(2 * (1 - 2 * v / (2 * v + 2 * c)))
    assert t.error_ratio == approx(math.sqrt(15 / 41))  # 0.6049
    assert t.sem == approx(math.sqrt(15 / 41) * math.sqrt(6 / 7))  # 0.5600 marks


def test_sparse_worked_example_items(sparse):
    a, b, c, d = sparse.items
    assert [i.n for i in sparse.items] == [6, 5, 5, 0]
    # A, over c1..c6: marks 1 1 1 0 0 1. Facility 4/6; squares 4/3 over 5: SD sqrt(4/15).
    assert a.facility == approx(4 / 6) and a.mean == approx(4 / 6)
    assert a.sd == approx(math.sqrt(4 / 15))  # 0.5164
    # Rest = own total minus A: 1 1 0 0 0 1 (mean .5, squares 6 x .25 = 1.5).
    # Cross products (1/3 1/3 1/3 -2/3 -2/3 1/3) x (.5 .5 -.5 -.5 -.5 .5):
    # (1 + 1 - 1 + 2 + 2 + 1) / 6 = 1.
    assert a.discrimination_index == approx(1 / math.sqrt(4 / 3 * 1.5))  # 0.7071
    # Sorted: x 0 0 1 1 1 1, rest 0 0 0 1 1 1: 2 x 1/3 - 1/6 + 3 x 1/6 = 1 -> efficiency 1.
    assert a.discriminative_efficiency == approx(1.0)
    # B, over c1 c2 c3 c7 c8: 1 1 0 0 0 (mean .4, squares 1.2). Rest 1 1 1 1 0 (mean .8,
    # squares 4 x .04 + .64 = .8). Cross: .12 + .12 - .08 - .08 + .32 = .4.
    assert b.facility == approx(0.4) and b.sd == approx(math.sqrt(1.2 / 4))  # 0.5477
    assert b.discrimination_index == approx(0.4 / math.sqrt(1.2 * 0.8))  # 0.4082
    # Sorted: rest 0 1 1 1 1 against 0 0 0 1 1: .32 - .08 - .08 + .12 + .12 = .4.
    assert b.discriminative_efficiency == approx(1.0)
    # C, over c4..c8: 0 0 1 1 0 (mean .4, squares 1.2). Rest 0 0 1 0 0 (A, A, A, B, B; mean .2,
    # squares .8). Cross: .08 + .08 + .48 - .12 + .08 = .6.
    assert c.facility == approx(0.4)
    assert c.discrimination_index == approx(0.6 / math.sqrt(1.2 * 0.8))  # 0.6124
    assert c.discriminative_efficiency == approx(1.0)
    assert a.flags == b.flags == c.flags == ()
    # D was on nobody's form: no statistics, one flag.
    assert (d.mean, d.facility, d.sd, d.discrimination_index) == (None, None, None, None)
    assert d.discriminative_efficiency is None and d.flags == (ItemFlag.TOO_FEW_RESPONSES,)
    # Weights: intended = max / paper total (1/2); no effective weight for sparse data.
    assert [i.intended_weight for i in sparse.items] == [0.5] * 4
    assert all(i.effective_weight is None for i in sparse.items)


def test_sparse_json_and_csv(sparse):
    d = sparse.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["items"][3]["flags"] == ["too_few_responses"] and d["items"][3]["facility"] is None
    assert d["test"]["sparse"] is True and d["test"]["mean_items_presented"] == 2.0
    assert d["candidates"][0] == {"index": 1, "id": "c1", "total": 2.0}
    # The same matrix from CSV: an empty cell and "-" both mean "not presented".
    m = read_matrix_csv(SPARSE_CSV, name="sparse.csv")
    assert m.rows == [[None if x is None else float(x) for x in row] for row in SPARSE]
    assert m.sparse and analyse(m).to_dict() == d


def test_blanking_cells_changes_only_what_it_should():
    full = analyse(ScoreMatrix(FULL_IDS, FULL_MAX, FULL))
    rows = [list(r) for r in FULL]
    rows[0][1] = None  # c1 was not presented Q2 (c1 now 1 - 2 0: 3 of 4)
    rows[4][3] = None  # c5 was not presented Q4 (c5 now 0 0 0 -: 0 of 4)
    blank = analyse(ScoreMatrix(FULL_IDS, FULL_MAX, rows))
    t = blank.overall
    # Form maxima 4 5 5 5 4, median 5 = the old paper total; totals scaled to 5:
    # c1 3/4 x 5 = 3.75, c5 0/4 x 5 = 0, the others unchanged (3 3 1).
    assert blank.form_maxima == (4, 5, 5, 5, 4) and t.max_total == full.overall.max_total == 5
    assert blank.raw_totals == (3, 3, 3, 1, 0) and blank.totals == (3.75, 3, 3, 1, 0)
    assert blank.totals[1:4] == full.totals[1:4]
    assert t.mean == approx(10.75 / 5) and t.median == 3
    # Deviations 1.6 .85 .85 -1.15 -2.15; squares 2.56 + 2 x .7225 + 1.3225 + 4.6225 = 9.95.
    assert t.sd == approx(math.sqrt(9.95 / 4))  # 1.5772
    q1, q2, q3, q4 = blank.items
    old = {s.item_id: s for s in full.items}
    # Columns left whole keep n, mean, facility and SD exactly; weights as intended stay.
    for s in (q1, q3):
        o = old[s.item_id]
        assert (s.n, s.mean, s.facility, s.sd) == (o.n, o.mean, o.facility, o.sd)
    assert [s.intended_weight for s in blank.items] == [s.intended_weight for s in full.items]
    # Q2 over c2..c5: 1 0 1 0 -> facility .5, variance 1/3. Q4 over c1..c4: 0 0 1 0 -> .25, .25.
    assert (q2.n, q4.n) == (4, 4)
    assert q2.facility == approx(0.5) and q2.sd == approx(math.sqrt(1 / 3))  # 0.5774
    assert q4.facility == approx(0.25) and q4.sd == approx(0.5)
    # Forms differ, so the rest of test is a fraction of the rest of each form.
    # Q1: (3-1)/(4-1), (3-1)/4, (3-1)/4, (1-0)/4, (0-0)/(4-1) = 8 6 6 3 0 twelfths (mean 4.6,
    # deviations 3.4 1.4 1.4 -1.6 -4.6, squares 39.2); marks 1 1 1 0 0 (deviations .4 x 3,
    # -.6 x 2, squares 1.2). Cross: .4 x 6.2 + .6 x 6.2 = 6.2.
    assert q1.discrimination_index == approx(6.2 / math.sqrt(1.2 * 39.2))  # 0.9040
    assert q1.discriminative_efficiency == approx(1.0)  # sorted pairing gives the same 6.2
    # Q3: (3-2)/2, (3-1)/3, (3-1)/3, (1-0)/3, 0/2 = 3 4 4 2 0 sixths (mean 2.6, deviations
    # .4 1.4 1.4 -.6 -2.6, squares 11.2); marks 2 1 1 0 0 (1.2 .2 .2 -.8 -.8, squares 2.8).
    # Cross: .48 + .28 + .28 + .48 + 2.08 = 3.6. Sorted: 2.08 + .48 + .08 + .28 + 1.68 = 4.6.
    assert q3.discrimination_index == approx(3.6 / math.sqrt(2.8 * 11.2))  # 0.6429
    assert q3.discriminative_efficiency == approx(3.6 / 4.6)  # 0.7826
    # Q2 over c2..c5: (3-1)/4, (3-0)/4, (1-1)/4, (0-0)/3 = 2 3 0 0 quarters (mean 1.25,
    # squares 6.75); marks 1 0 1 0 (squares 1). Cross: .375 - .875 - .625 + .625 = -.5.
    assert q2.discrimination_index == approx(-0.5 / math.sqrt(6.75))  # -0.1925
    assert q2.discriminative_efficiency == approx(-0.5 / 2.5)
    assert ItemFlag.NEGATIVE_DISCRIMINATION in q2.flags
    # Q4 over c1..c4: (3-0)/3, (3-0)/4, (3-1)/4, (1-0)/4 = 4 3 2 1 quarters (squares 5);
    # marks 0 0 1 0 (squares .75). Cross: -.375 - .125 - .375 + .375 = -.5. Sorted: 1.5.
    assert q4.discrimination_index == approx(-0.5 / math.sqrt(0.75 * 5))  # -0.2582
    assert q4.discriminative_efficiency == approx(-0.5 / 1.5)
    # Sparse data: no effective weights; alpha from pooled pairwise covariances.
    assert all(s.effective_weight is None for s in blank.items)
    assert t.alpha == approx(_pairwise_alpha(rows))
    assert t.alpha != approx(full.overall.alpha)
    assert t.sem == approx(math.sqrt(1 - t.alpha) * t.sd)


def _pairwise_alpha(rows: list[list[float | None]]) -> float:
    """Reference: each pair's covariance about its own means, pooled by degrees of freedom."""
    k = len(rows[0])
    ss = df = sp = pdf = 0.0
    for j in range(k):
        xs = [r[j] for r in rows if r[j] is not None]
        if len(xs) > 1:
            ss, df = ss + statistics.variance(xs) * (len(xs) - 1), df + len(xs) - 1
    for j, m in combinations(range(k), 2):
        both = [(r[j], r[m]) for r in rows if r[j] is not None and r[m] is not None]
        if len(both) > 1:
            cov = statistics.covariance([x for x, _ in both], [y for _, y in both])
            sp, pdf = sp + cov * (len(both) - 1), pdf + len(both) - 1
    forms = sum(x is not None for r in rows for x in r) / len(rows)
    v, c = ss / df, sp / pdf
    return forms * c / (v + (forms - 1) * c)


def test_full_matrix_plus_an_unseen_item_changes_only_that_item_and_the_weights():
    # A column nobody was presented makes the matrix sparse but leaves every form whole:
    # the pairwise alpha then is Cronbach's alpha, algebraically, and the rest is unchanged.
    full = analyse(ScoreMatrix(FULL_IDS, FULL_MAX, FULL))
    more = analyse(ScoreMatrix([*FULL_IDS, "X"], [*FULL_MAX, 3], [[*r, None] for r in FULL]))
    assert more.overall.sparse and not full.overall.sparse
    assert more.totals == full.totals and more.overall.max_total == 5
    assert more.overall.alpha == pytest.approx(full.overall.alpha, abs=1e-12)
    assert more.overall.sem == pytest.approx(full.overall.sem, abs=1e-12)
    for new, old in zip(more.items, full.items, strict=False):
        assert new.facility == old.facility and new.sd == old.sd and new.flags == old.flags
        assert new.discrimination_index == old.discrimination_index
        assert new.effective_weight is None
    x = more.item("X")
    assert x.n == 0 and x.flags == (ItemFlag.TOO_FEW_RESPONSES,) and x.intended_weight == 3 / 5


def test_item_seen_once_and_unequal_forms_and_paper_total():
    # c1 sat P, Q (out of 3); c2 P, Q; c3 P, R (out of 2); R was seen once.
    rows = [[1, 2, None], [0, 1, None], [1, None, 0]]
    a = analyse(ScoreMatrix(["P", "Q", "R"], [1, 2, 1], rows))
    p, q, r = a.items
    assert (r.n, r.facility, r.sd, r.flags) == (1, None, None, (ItemFlag.TOO_FEW_RESPONSES,))
    assert ItemFlag.VERY_HARD not in r.flags  # one response says nothing about difficulty
    # Maxima 3 3 2: median 3. c3 has 1 of 2 -> 1.5 of 3.
    assert a.form_maxima == (3, 3, 2) and a.totals == (3, 1, 1.5) and a.overall.max_total == 3
    # P's rest of test: forms differ, so (3-1)/(3-1) = 1, (1-0)/2 = .5, (1-1)/(2-1) = 0.
    # Marks 1 0 1 against 1 .5 0: deviations (1/3 -2/3 1/3), (.5 0 -.5): cross 0; r = 0.
    assert p.discrimination_index == approx(0) and p.flags == (ItemFlag.WEAK_DISCRIMINATION,)
    # Only the pair P,Q has two candidates: c = cov(1 0, 2 1) = .5; v pools P (2/3, df 2) and
    # Q (.5, df 1): 7/6 / 3 = 7/18. k = 2: alpha = 2 x .5 / (7/18 + .5) = 18/16 -> above 1,
    # which no real items give (mean covariance above mean variance): too thin, None.
    assert a.overall.alpha is None and a.overall.sem is None and a.overall.sd is not None
    # An explicit paper total rescales every total, full or not.
    b = analyse(ScoreMatrix(["P", "Q", "R"], [1, 2, 1], rows), paper_total=100)
    assert b.totals == pytest.approx((100, 100 / 3, 50)) and b.overall.max_total == 100
    assert b.items[0].intended_weight == 0.01
    with pytest.raises(ValueError, match="paper_total"):
        analyse(ScoreMatrix(["P"], [1], [[1]]), paper_total=0)


def test_alpha_none_without_a_pair_seen_together_twice():
    # Forms AB, CD, AC, BD: each item seen twice, but every pair by one candidate at most.
    rows = [[1, 0, _, _], [_, _, 1, 0], [0, _, 1, _], [_, 1, _, 1]]
    t = analyse(ScoreMatrix(["A", "B", "C", "D"], [1, 1, 1, 1], rows)).overall
    assert (t.alpha, t.error_ratio, t.sem) == (None, None, None) and t.sd is not None


def test_sparse_matrix_validation():
    with pytest.raises(MatrixError, match="第2行: 没有任何题目的成绩"):
        ScoreMatrix(["A", "B"], [1, 1], [[1, None], [None, None]])
    with pytest.raises(MatrixError, match="第1行 B: 成绩 2 超过满分 1"):
        ScoreMatrix(["A", "B"], [1, 1], [[None, 2]])
    m = ScoreMatrix(["A", "B"], [1, 2], [[1, None], [None, 2]])
    assert m.sparse and m.rows == [[1.0, None], [None, 2.0]]
    assert not ScoreMatrix(["A"], [1], [[0]]).sparse


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("candidate,A,B\nmax,1,1\nc1,1,\nc2,-,-\n", "第4行: 本行没有任何题目的成绩"),
        ("candidate,A,B\nmax,1,-\nc1,1,1\n", "第2行 B（第3列）: “-”不是数字"),
        ("A,B\n1,1\n1,\n-,2\n", "第4行 B（第2列）: 成绩 2 超过满分 1"),
    ],
)
def test_sparse_csv_errors(text, message):
    with pytest.raises(MatrixError) as exc:
        read_matrix_csv(text, name="m.csv")
    assert message in str(exc.value)


def test_distractors_over_the_candidates_presented(sparse):
    # For one item of a sparse matrix: the candidates presented it, with their (scaled) totals.
    m = ScoreMatrix(["A", "B", "C", "D"], [1, 1, 1, 1], SPARSE, SPARSE_IDS)
    seen = [i for i, row in enumerate(m.rows) if row[1] is not None]  # B: c1 c2 c3 c7 c8
    choices = ["A", "A", "C", "B", "C"]
    rows = distractors(choices, "A", [sparse.totals[i] for i in seen], options="ABC")
    assert [(o.option, o.count) for o in rows] == [("A", 2), ("B", 1), ("C", 2), (None, 0)]


def test_split_modules_are_reexported():
    from question_bank import itemstats

    assert itemstats.read_matrix_csv is itemstats_csv.read_matrix_csv
    assert itemstats.ScoreMatrix is itemstats_csv.ScoreMatrix
    assert itemstats.distractors is itemstats_distractors.distractors
    assert itemstats.OptionStats is itemstats_distractors.OptionStats
    assert set(itemstats.__all__) >= {"DistractorFlag", "group_size", "CANDIDATE_HEADERS"}
