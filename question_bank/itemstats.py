"""Classical item analysis of a score matrix, computed the way Moodle's quiz statistics report does.

:func:`analyse` turns a :class:`ScoreMatrix` (marks per candidate and item; ``None`` where the
item was not on the candidate's own form) into an :class:`Analysis`: per item, over the
candidates presented it, facility, SD, discrimination index (against the rest of the test) and
discriminative efficiency; for the test the moments of the totals (on the paper's scale when
forms differ), Cronbach's alpha (from pairwise covariances if sparse), error ratio and SEM.
Matrix and CSV reader: ``itemstats_csv``; distractors: ``itemstats_distractors``; both are
re-exported here. Undefined statistics are ``None``, never NaN. Formulas and formats:
``docs/item-statistics.md``. Pure Python: a full 300 x 100 matrix takes tens of milliseconds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from question_bank.itemstats_csv import (
    CANDIDATE_HEADERS,
    MAX_PROBLEMS,
    NOT_PRESENTED,
    MatrixError,
    ScoreMatrix,
    _finite,
    read_matrix_csv,
)
from question_bank.itemstats_distractors import (
    Choice,
    DistractorFlag,
    OptionStats,
    distractors,
    group_size,
)

__all__ = [  # with the names re-exported from the split-off modules
    "FORMAT", "Analysis", "ItemFlag", "ItemStats", "OverallStats", "Thresholds", "analyse",
    "CANDIDATE_HEADERS", "MAX_PROBLEMS", "NOT_PRESENTED", "MatrixError", "ScoreMatrix",
    "read_matrix_csv", "Choice", "DistractorFlag", "OptionStats", "distractors", "group_size",
]  # fmt: skip

FORMAT = "skillcert-itemstats/1"  # Analysis.to_dict()["format"]; bump on a breaking change


class ItemFlag(StrEnum):
    NEGATIVE_DISCRIMINATION = "negative_discrimination"  # discrimination index < 0
    WEAK_DISCRIMINATION = "weak_discrimination"  # 0 <= discrimination index < threshold
    NO_VARIANCE = "no_variance"  # everybody got the same mark, so the item cannot discriminate
    VERY_EASY = "very_easy"  # facility >= threshold
    VERY_HARD = "very_hard"  # facility <= threshold
    TOO_FEW_RESPONSES = "too_few_responses"  # sparse matrix: presented to fewer than 2


@dataclass(frozen=True)
class Thresholds:
    """Where the flags start; the defaults follow Moodle's guidance bands (see the docs)."""

    weak_discrimination: float = 0.20  # Moodle: below 20% "very weak"; Ebel: below .20 "poor"
    very_easy: float = 0.90  # Moodle: 90-94% "very easy", 95-100% "extremely easy"
    very_hard: float = 0.10  # Moodle: 6-10% "very difficult", 5% or less "extremely difficult"
    group_fraction: float = 0.27  # Kelley's upper and lower 27%, for distractor analysis

    def __post_init__(self) -> None:
        if not (0 <= self.very_hard < self.very_easy <= 1 and -1 <= self.weak_discrimination <= 1):
            raise ValueError("thresholds: need 0 <= very_hard < very_easy <= 1, |weak| <= 1")
        if not 0 < self.group_fraction <= 0.5:
            raise ValueError("thresholds: group_fraction must be in (0, 0.5]")


@dataclass(frozen=True)
class ItemStats:
    """One item. Fractions are 0..1; ``None`` where the data cannot define a statistic."""

    item_id: str
    position: int  # 1-based column in the matrix
    max_mark: float
    n: int  # candidates presented the item (all of them in a full matrix)
    mean: float | None  # mean mark; None in a sparse matrix below 2 candidates presented
    facility: float | None  # mean mark / max mark; None as for mean
    sd: float | None  # sample SD of mark / max mark; None below 2 candidates
    discrimination_index: float | None  # r(item mark, rest-of-test mark); None if either is flat
    discriminative_efficiency: float | None  # covariance / the largest these marks allow
    intended_weight: float  # max mark / the paper's total
    effective_weight: float | None  # Moodle's share of the variance of the total; full only
    flags: tuple[ItemFlag, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self) | {"flags": [f.value for f in self.flags]}


@dataclass(frozen=True)
class OverallStats:
    """Statistics of the candidates' totals (scaled to ``max_total`` in a sparse matrix)."""

    n_candidates: int
    n_items: int  # columns of the matrix
    max_total: float  # the paper's total: sum of max marks, or the forms' common maximum
    mean: float
    median: float
    lowest: float
    highest: float
    sd: float | None  # sample SD; None below 2 candidates
    skewness: float | None  # None below 3 candidates or when the totals do not vary
    kurtosis: float | None  # excess kurtosis; None below 4 candidates or no variance
    alpha: float | None  # Cronbach's alpha (pairwise form when sparse); None if undefined
    error_ratio: float | None  # sqrt(1 - alpha)
    sem: float | None  # standard error of measurement, error_ratio x sd, in marks
    sparse: bool = False  # some item was not presented to some candidate
    mean_items_presented: float | None = None  # items on a candidate's form, on average

    def to_dict(self) -> dict:
        top = self.max_total
        return asdict(self) | {
            "mean_fraction": self.mean / top,
            "median_fraction": self.median / top,
            "sd_fraction": None if self.sd is None else self.sd / top,
            "sem_fraction": None if self.sem is None else self.sem / top,
        }


@dataclass(frozen=True)
class Analysis:
    overall: OverallStats
    items: tuple[ItemStats, ...]
    totals: tuple[float, ...]  # per candidate, in matrix order; scaled to the paper's total
    candidate_ids: tuple[str, ...] | None
    thresholds: Thresholds = field(default_factory=Thresholds)
    raw_totals: tuple[float, ...] = ()  # marks earned on the items presented
    form_maxima: tuple[float, ...] = ()  # sum of the max marks of the items presented

    def item(self, item_id: str) -> ItemStats:
        for stats in self.items:
            if stats.item_id == item_id:
                return stats
        raise KeyError(item_id)

    def to_dict(self) -> dict:
        """Everything, JSON-ready (numbers, strings, lists, None; never NaN); keys are stable."""
        ids = self.candidate_ids or (None,) * len(self.totals)
        return {
            "format": FORMAT,
            "thresholds": asdict(self.thresholds),
            "test": self.overall.to_dict(),
            "items": [s.to_dict() for s in self.items],
            "candidates": [
                {"index": i, "id": cid, "total": t}
                for i, (cid, t) in enumerate(zip(ids, self.totals, strict=True), start=1)
            ],
        }


def analyse(
    matrix: ScoreMatrix, thresholds: Thresholds | None = None, *, paper_total: float | None = None
) -> Analysis:
    """Item and test statistics of ``matrix`` by Moodle's formulas (see the docs).

    Each candidate's total is put on the paper's scale (their marks as a fraction of the
    maximum of the items they were presented, times the paper's total): ``paper_total`` if
    given, else the maximum all forms share (the sum of the max marks for a full matrix), or
    the median of the forms' maxima when they differ.
    """
    if paper_total is not None and not (_finite(paper_total) and paper_total > 0):
        raise ValueError(f"paper_total: {paper_total!r} is not a number > 0")
    th = thresholds or Thresholds()
    rows, n, k, sparse = matrix.rows, matrix.n_candidates, matrix.n_items, matrix.sparse
    raw_totals = [math.fsum(x for x in row if x is not None) for row in rows]
    maxima = [
        math.fsum(m for m, x in zip(matrix.max_marks, row, strict=True) if x is not None)
        for row in rows
    ]
    paper = paper_total or (maxima[0] if len(set(maxima)) == 1 else statistics.median(maxima))
    totals = [t if m == paper else t / m * paper for t, m in zip(raw_totals, maxima, strict=True)]
    tol = 1e-9 * max(1.0, paper)  # marks closer than this are the same mark
    mean_total = math.fsum(totals) / n
    total_dev = [t - mean_total for t in totals]
    raw = [
        _column(matrix, j, raw_totals, maxima, None if sparse else total_dev, tol) for j in range(k)
    ]
    # Effective weight (Moodle): sqrt(cov(item, total)) / the sum of that over the items; an
    # item whose covariance with the total is negative gets none. Full matrices only.
    roots = [math.sqrt(r.cov_total) for r in raw if r.cov_total is not None and r.cov_total >= 0]
    root_sum = math.fsum(roots)
    items = []
    for j, r in enumerate(raw):
        top = matrix.max_marks[j]
        has_weight = r.cov_total is not None and r.cov_total >= 0 and root_sum > 0
        items.append(
            ItemStats(
                item_id=matrix.item_ids[j],
                position=j + 1,
                max_mark=top,
                n=r.n,
                mean=r.mean,
                facility=None if r.mean is None else r.mean / top,
                sd=None if r.variance is None else math.sqrt(r.variance) / top,
                discrimination_index=r.di,
                discriminative_efficiency=r.de,
                intended_weight=top / paper,
                effective_weight=math.sqrt(r.cov_total) / root_sum if has_weight else None,
                flags=(ItemFlag.TOO_FEW_RESPONSES,)
                if r.mean is None
                else _item_flags(r.mean / top, r.di, r.flat and r.n > 1, th),
            )
        )
    if sparse:
        alpha_terms = _pairwise_alpha_terms(rows)
    else:
        alpha_terms = (k, math.fsum(r.variance or 0.0 for r in raw), None)
    presented = math.fsum(sum(x is not None for x in row) for row in rows) / n
    overall = _overall(totals, total_dev, tol, alpha_terms, n_items=k, max_total=paper,
                       sparse=sparse, mean_items_presented=presented)  # fmt: skip
    ids = tuple(matrix.candidate_ids) if matrix.candidate_ids is not None else None
    return Analysis(overall, tuple(items), tuple(totals), ids, th, tuple(raw_totals), tuple(maxima))


@dataclass(frozen=True)
class _Sums:
    n: int  # candidates presented the item
    mean: float | None  # None: too few candidates in a sparse matrix
    flat: bool
    variance: float | None = None  # sample variance of the mark
    cov_total: float | None = None  # sample covariance of the mark with the total (full only)
    di: float | None = None
    de: float | None = None


_Terms = tuple[float, float, float | None]  # alpha's k, item variance sum, total variance


def _flat(values: Sequence[float], tol: float) -> bool:
    return max(values) - min(values) <= tol


def _column(
    matrix: ScoreMatrix,
    j: int,
    raw: list[float],
    fmax: list[float],
    dev: list[float] | None,
    tol: float,
) -> _Sums:
    """Item ``j`` over the candidates presented it. The rest-of-test mark is the candidate's
    total minus this mark, if all of them had forms of the same maximum; otherwise it is that
    as a fraction of the rest of the form's maximum (None for a form of this item alone), so
    that a longer form does not pass for a stronger candidate. ``dev`` None: sparse matrix."""
    seen = [i for i, row in enumerate(matrix.rows) if row[j] is not None]
    if dev is None and len(seen) < 2:
        return _Sums(len(seen), None, False)
    col = [matrix.rows[i][j] for i in seen]
    top = matrix.max_marks[j]
    if len({fmax[i] for i in seen}) == 1:
        rests = [raw[i] - x for i, x in zip(seen, col, strict=True)]
    else:
        rests = [
            (raw[i] - x) / (fmax[i] - top) if fmax[i] - top > tol else None
            for i, x in zip(seen, col, strict=True)
        ]
    return _item_sums(col, rests, dev, tol)


def _item_sums(
    col: list[float], rests: list[float | None], total_dev: list[float] | None, tol: float
) -> _Sums:
    """Moodle's per-item sums: the mark x; its covariance with the total (full matrix); and its
    correlation with the rest-of-test mark o, over the candidates who have one."""
    n = len(col)
    mean_x, flat_x = math.fsum(col) / n, _flat(col, tol)
    if n < 2:
        return _Sums(n, mean_x, flat_x)
    if flat_x:
        return _Sums(n, mean_x, True, variance=0.0, cov_total=None if total_dev is None else 0.0)
    var_x = math.fsum((x - mean_x) ** 2 for x in col) / (n - 1)
    cov_total = None
    if total_dev is not None:
        cov_total = math.fsum((x - mean_x) * t for x, t in zip(col, total_dev, strict=True))
        cov_total /= n - 1
    xs = [x for x, o in zip(col, rests, strict=True) if o is not None]
    os = [o for o in rests if o is not None]
    return _Sums(n, mean_x, False, var_x, cov_total, *_discrimination(xs, os, tol))


def _discrimination(
    xs: list[float], os: list[float], tol: float
) -> tuple[float | None, float | None]:
    """Discrimination index r(x, o) and discriminative efficiency cov / cov_max."""
    n = len(xs)
    if n < 2 or _flat(xs, tol) or _flat(os, tol):
        return None, None
    mean_x, mean_o = math.fsum(xs) / n, math.fsum(os) / n
    dx, do = [x - mean_x for x in xs], [o - mean_o for o in os]
    var_x = math.fsum(d * d for d in dx) / (n - 1)
    var_o = math.fsum(d * d for d in do) / (n - 1)
    cov = math.fsum(a * b for a, b in zip(dx, do, strict=True)) / (n - 1)
    # The largest covariance these two sets of marks allow: pair both in sorted order.
    pairs = zip(sorted(xs), sorted(os), strict=True)
    cov_max = math.fsum((a - mean_x) * (b - mean_o) for a, b in pairs) / (n - 1)
    di = max(-1.0, min(1.0, cov / math.sqrt(var_x * var_o)))
    return di, (min(1.0, cov / cov_max) if cov_max > 0 else None)


def _item_flags(
    facility: float, di: float | None, no_variance: bool, th: Thresholds
) -> tuple[ItemFlag, ...]:
    flags = []
    if di is not None and di < 0:
        flags.append(ItemFlag.NEGATIVE_DISCRIMINATION)
    elif di is not None and di < th.weak_discrimination:
        flags.append(ItemFlag.WEAK_DISCRIMINATION)
    if no_variance:
        flags.append(ItemFlag.NO_VARIANCE)
    if facility >= th.very_easy:
        flags.append(ItemFlag.VERY_EASY)
    elif facility <= th.very_hard:
        flags.append(ItemFlag.VERY_HARD)
    return tuple(flags)


def _pairwise_alpha_terms(rows: list[list[float | None]]) -> _Terms | None:
    """Alpha's terms for a sparse matrix: (k, expected sum of item variances on a form,
    expected variance of a form's total) for a form of k = the mean number of items presented,
    from the pooled item variance v and the pooled covariance c of the pairs of items presented
    together, each over the candidates presented both: k, k v, k v + k (k - 1) c.

    Pooled means sum of squares (cross products) over sum of degrees of freedom. A pair's
    cross products about its own means are sum(x y) - sum(x) sum(y) / m; the sum(x y) part over
    all pairs comes from each candidate's marks at once, the rest from bit sets per mark value.
    None when no item or no pair of items was presented to two candidates, or k <= 1."""
    n, width = len(rows), len(rows[0])
    k = math.fsum(sum(x is not None for x in row) for row in rows) / n
    present, levels, squares, item_df = [0] * width, [], [], 0
    for j in range(width):
        col = [(i, row[j]) for i, row in enumerate(rows) if row[j] is not None]
        by_value: dict[float, int] = {}
        for i, x in col:
            present[j] |= 1 << i
            if x:
                by_value[x] = by_value.get(x, 0) | 1 << i
        levels.append(list(by_value.items()))
        if len(col) > 1:
            mean = math.fsum(x for _, x in col) / len(col)
            squares.append(math.fsum((x - mean) ** 2 for _, x in col))
            item_df += len(col) - 1
    products = []  # sum over the pairs on each form of x * y
    for row in rows:
        marks = [x for x in row if x is not None]
        products.append((math.fsum(marks) ** 2 - math.fsum(x * x for x in marks)) / 2)
    corrections, pair_df = [], 0
    for j in range(width):
        mask_j, levels_j = present[j], levels[j]
        for m in range(j + 1, width):
            both = mask_j & present[m]
            if not both:
                continue
            count = both.bit_count()
            sum_j = math.fsum(v * (bits & both).bit_count() for v, bits in levels_j)
            sum_m = math.fsum(v * (bits & both).bit_count() for v, bits in levels[m])
            corrections.append(sum_j * sum_m / count)
            pair_df += count - 1
    if k <= 1 or not item_df or not pair_df:
        return None
    variance = math.fsum(squares) / item_df
    covariance = (math.fsum(products) - math.fsum(corrections)) / pair_df
    return k, k * variance, k * variance + k * (k - 1) * covariance


def _overall(
    totals: list[float], dev: list[float], tol: float, alpha_terms: _Terms | None, **fixed: Any
) -> OverallStats:
    """Moodle's test statistics (mod/quiz/report/statistics/classes/calculator.php). Alpha is
    k / (k - 1) x (1 - item variance sum / total variance), from ``alpha_terms``: a full matrix
    gives (items, sum of item variances, None = the variance of the totals). ``fixed``: the
    fields that need no computing (n_items, max_total, sparse, mean_items_presented)."""
    n, flat = len(totals), _flat(totals, tol)
    sd = skew = kurt = alpha = error_ratio = sem = None
    if n > 1:
        sd = 0.0 if flat else math.sqrt(math.fsum(d**2 for d in dev) / (n - 1))
    if n > 1 and not flat:
        k2 = math.fsum(d**2 for d in dev) / (n - 1)  # unbiased variance of the totals
        m2, m3, m4 = (math.fsum(d**p for d in dev) / n for p in (2, 3, 4))
        if n > 2:
            skew = n * n * m3 / ((n - 1) * (n - 2)) / k2**1.5
        if n > 3:
            k4 = n * n * ((n + 1) * m4 - 3 * (n - 1) * m2 * m2) / ((n - 1) * (n - 2) * (n - 3))
            kurt = k4 / (k2 * k2)
        k, var_sum, form_var = alpha_terms or (0, 0.0, None)
        if k > 1 and form_var is None:
            alpha = k / (k - 1) * (1 - var_sum / k2)
        elif k > 1 and form_var > tol:
            alpha = k / (k - 1) * (1 - var_sum / form_var)
            # Above 1 only if the mean covariance exceeds the mean variance, which no real set
            # of items can do: the pairs are too thin to estimate from.
            alpha = None if alpha > 1 + 1e-9 else min(alpha, 1.0)
        if alpha is not None:
            error_ratio = math.sqrt(max(0.0, 1 - alpha))
            sem = error_ratio * sd
    mean, median = math.fsum(totals) / n, statistics.median(totals)
    return OverallStats(n_candidates=n, mean=mean, median=median, lowest=min(totals),
                        highest=max(totals), sd=sd, skewness=skew, kurtosis=kurt, alpha=alpha,
                        error_ratio=error_ratio, sem=sem, **fixed)  # fmt: skip
