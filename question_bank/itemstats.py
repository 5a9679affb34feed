"""Classical item analysis of a score matrix, computed the way Moodle's quiz statistics report does.

A :class:`ScoreMatrix` holds one row of marks per candidate and one column per item, each item
with its maximum mark. :func:`analyse` returns an :class:`Analysis`: per item the facility index,
the SD of the score as a fraction of the maximum, the discrimination index (corrected item-total
correlation: the item's mark against the rest of the test) and the discriminative efficiency;
for the test mean, median, SD, skewness, kurtosis, Cronbach's alpha (Moodle's "coefficient of
internal consistency"), error ratio and standard error of measurement. :func:`distractors`
analyses the options of one choice item; :func:`read_matrix_csv` reads a matrix from CSV.

A statistic the data cannot define (one candidate, an item everybody scored the same on, totals
that do not vary) is ``None``, never NaN. Fractions stay fractions (Moodle shows them x100).
Formulas, thresholds and the CSV format: ``docs/item-statistics.md``. Pure Python with
``math.fsum``: 300 candidates x 100 items take a few tens of milliseconds.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from question_bank.errors import Problem

FORMAT = "skillcert-itemstats/1"  # Analysis.to_dict()["format"]; bump on a breaking change
CANDIDATE_HEADERS = {
    "candidate",
    "candidate_id",
    "考生",
    "考生编号",
    "准考证号",
}  # a first header cell that marks a candidate-id column
MAX_PROBLEMS = 50  # a MatrixError lists at most this many problems (and says how many more)


class MatrixError(ValueError):
    """Bad input; ``problems`` lists every reason found, each with file, row and item/column."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = [str(p) for p in self.problems[:MAX_PROBLEMS]]
        if len(self.problems) > MAX_PROBLEMS:
            lines.append(f"……另有 {len(self.problems) - MAX_PROBLEMS} 处问题 (more problems)")
        super().__init__("\n".join(lines))


class ItemFlag(StrEnum):
    NEGATIVE_DISCRIMINATION = "negative_discrimination"  # discrimination index < 0
    WEAK_DISCRIMINATION = "weak_discrimination"  # 0 <= discrimination index < threshold
    NO_VARIANCE = "no_variance"  # everybody got the same mark, so the item cannot discriminate
    VERY_EASY = "very_easy"  # facility >= threshold
    VERY_HARD = "very_hard"  # facility <= threshold


class DistractorFlag(StrEnum):
    NEVER_CHOSEN = "never_chosen"  # a distractor nobody chose does no work
    UPPER_FAVOURED = "upper_favoured"  # the upper group chose this wrong option more than the lower


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


@dataclass
class ScoreMatrix:
    """Marks of ``len(rows)`` candidates on ``len(item_ids)`` items, validated on creation
    (raises :class:`MatrixError`). ``source`` names the matrix in error messages."""

    item_ids: list[str]
    max_marks: list[float]
    rows: list[list[float]]
    candidate_ids: list[str] | None = None
    source: str = "成绩矩阵"

    def __post_init__(self) -> None:
        self.item_ids = [str(i) for i in self.item_ids]
        src, width = self.source, len(self.item_ids)
        problems = _header_problems(src, self.item_ids, list(self.max_marks), None)
        checks_marks = len(self.max_marks) == width
        if not self.rows:
            problems.append(Problem(src, "没有考生成绩 (no candidate rows)"))
        if self.candidate_ids is not None:
            problems += _candidate_problems(src, self.candidate_ids, len(self.rows))
        for r, row in enumerate(self.rows, start=1):
            if len(row) != width:
                problems.append(Problem(src, f"有 {len(row)} 个成绩，应有 {width} 个 (ragged)", r))
                continue
            for item_id, top, value in zip(self.item_ids, self.max_marks, row, strict=checks_marks):
                if why := _mark_problem(value, top if _finite(top) else math.inf):
                    problems.append(Problem(src, why, r, item_id))
        if problems:
            raise MatrixError(problems)
        self.max_marks = [float(m) for m in self.max_marks]
        self.rows = [[float(v) for v in row] for row in self.rows]

    @property
    def n_candidates(self) -> int:
        return len(self.rows)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


@dataclass(frozen=True)
class ItemStats:
    """One item. Fractions are 0..1; ``None`` where the data cannot define a statistic."""

    item_id: str
    position: int  # 1-based column in the matrix
    max_mark: float
    n: int  # candidates
    mean: float  # mean mark
    facility: float  # mean mark / max mark
    sd: float | None  # sample SD of mark / max mark; None below 2 candidates
    discrimination_index: float | None  # r(item mark, rest-of-test mark); None if either is flat
    discriminative_efficiency: float | None  # covariance / the largest these marks allow
    intended_weight: float  # max mark / test max
    effective_weight: float | None  # Moodle's share of the variance of the total
    flags: tuple[ItemFlag, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self) | {"flags": [f.value for f in self.flags]}


@dataclass(frozen=True)
class OverallStats:
    """The candidates' total scores, in marks; ``to_dict`` adds ``*_fraction`` of ``max_total``."""

    n_candidates: int
    n_items: int
    max_total: float
    mean: float
    median: float
    lowest: float
    highest: float
    sd: float | None  # sample SD; None below 2 candidates
    skewness: float | None  # None below 3 candidates or when the totals do not vary
    kurtosis: float | None  # excess kurtosis; None below 4 candidates or no variance
    alpha: float | None  # Cronbach's alpha; None below 2 items or 2 candidates, or no variance
    error_ratio: float | None  # sqrt(1 - alpha)
    sem: float | None  # standard error of measurement, error_ratio x sd, in marks

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
    totals: tuple[float, ...]  # per candidate, in matrix order
    candidate_ids: tuple[str, ...] | None
    thresholds: Thresholds = field(default_factory=Thresholds)

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


def analyse(matrix: ScoreMatrix, thresholds: Thresholds | None = None) -> Analysis:
    """Item and test statistics of ``matrix`` by Moodle's formulas (see the docs)."""
    th = thresholds or Thresholds()
    n, k = matrix.n_candidates, matrix.n_items
    totals = [math.fsum(row) for row in matrix.rows]
    max_total = math.fsum(matrix.max_marks)
    tol = 1e-9 * max(1.0, max_total)  # marks closer than this are the same mark
    mean_total = math.fsum(totals) / n
    total_dev = [t - mean_total for t in totals]
    raw = [_item_sums(col, totals, total_dev, tol) for col in zip(*matrix.rows, strict=True)]
    # Effective weight (Moodle): sqrt(cov(item, total)) / the sum of that over the items; an
    # item whose covariance with the total is negative gets none.
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
                n=n,
                mean=r.mean,
                facility=r.mean / top,
                sd=None if r.variance is None else math.sqrt(r.variance) / top,
                discrimination_index=r.di,
                discriminative_efficiency=r.de,
                intended_weight=top / max_total,
                effective_weight=math.sqrt(r.cov_total) / root_sum if has_weight else None,
                flags=_item_flags(r.mean / top, r.di, r.flat and n > 1, th),
            )
        )
    variance_sum = math.fsum(r.variance or 0.0 for r in raw)
    overall = _overall(totals, total_dev, _flat(totals, tol), max_total, k, variance_sum)
    ids = tuple(matrix.candidate_ids) if matrix.candidate_ids is not None else None
    return Analysis(overall, tuple(items), tuple(totals), ids, th)


@dataclass(frozen=True)
class _Sums:
    mean: float
    flat: bool
    variance: float | None = None  # sample variance of the mark
    cov_total: float | None = None  # sample covariance of the mark with the total
    di: float | None = None
    de: float | None = None


def _flat(values: Sequence[float], tol: float) -> bool:
    return max(values) - min(values) <= tol


def _item_sums(
    col: Sequence[float], totals: list[float], total_dev: list[float], tol: float
) -> _Sums:
    """Moodle's per-item sums: the mark x against the rest-of-test mark o = total - x."""
    n = len(col)
    others = [t - x for t, x in zip(totals, col, strict=True)]
    mean_x, mean_o = math.fsum(col) / n, math.fsum(others) / n
    flat_x, flat_o = _flat(col, tol), _flat(others, tol)
    if n < 2:
        return _Sums(mean_x, flat_x)
    if flat_x:
        return _Sums(mean_x, True, variance=0.0, cov_total=0.0)
    dx = [x - mean_x for x in col]
    var_x = math.fsum(d * d for d in dx) / (n - 1)
    cov_total = math.fsum(a * b for a, b in zip(dx, total_dev, strict=True)) / (n - 1)
    if flat_o:
        return _Sums(mean_x, False, var_x, cov_total)
    do = [o - mean_o for o in others]
    var_o = math.fsum(d * d for d in do) / (n - 1)
    cov = math.fsum(a * b for a, b in zip(dx, do, strict=True)) / (n - 1)
    # The largest covariance these two sets of marks allow: pair both in sorted order.
    pairs = zip(sorted(col), sorted(others), strict=True)
    cov_max = math.fsum((a - mean_x) * (b - mean_o) for a, b in pairs) / (n - 1)
    di = max(-1.0, min(1.0, cov / math.sqrt(var_x * var_o)))
    de = min(1.0, cov / cov_max) if cov_max > 0 else None
    return _Sums(mean_x, False, var_x, cov_total, di, de)


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


def _overall(
    totals: list[float], dev: list[float], flat: bool, max_total: float, k: int, var_sum: float
) -> OverallStats:
    """Moodle's test statistics (mod/quiz/report/statistics/classes/calculator.php)."""
    n = len(totals)
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
        if k > 1:
            alpha = k / (k - 1) * (1 - var_sum / k2)
            error_ratio = math.sqrt(max(0.0, 1 - alpha))
            sem = error_ratio * sd
    return OverallStats(
        n_candidates=n,
        n_items=k,
        max_total=max_total,
        mean=math.fsum(totals) / n,
        median=statistics.median(totals),
        lowest=min(totals),
        highest=max(totals),
        sd=sd,
        skewness=skew,
        kurtosis=kurt,
        alpha=alpha,
        error_ratio=error_ratio,
        sem=sem,
    )


# --- distractor analysis -----------------------------------------------------------------------


@dataclass(frozen=True)
class OptionStats:
    """How one option of a choice item was chosen; ``option`` None is the "no answer" row."""

    option: str | None
    is_key: bool
    count: int
    proportion: float  # count / candidates
    mean_total: float | None  # mean total score of those who chose it; None if nobody did
    upper_count: int  # chosen by the upper group (the top group_size totals)
    lower_count: int
    upper_proportion: float | None  # upper_count / group size; None when there are no groups
    lower_proportion: float | None
    flags: tuple[DistractorFlag, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self) | {"flags": [f.value for f in self.flags]}


def group_size(n: int, fraction: float = 0.27) -> int:
    """Size of the upper and of the lower group: ``fraction`` of ``n`` rounded half up, at least
    1 and at most half; 0 below 2 candidates (one candidate cannot be in both)."""
    return 0 if n < 2 else min(n // 2, max(1, math.floor(fraction * n + 0.5)))


Choice = str | Iterable[str] | None


def distractors(
    choices: Sequence[Choice],
    key: str | Iterable[str],
    totals: Sequence[float],
    *,
    options: Sequence[str] | None = None,
    group_fraction: float = 0.27,
) -> list[OptionStats]:
    """Per-option statistics of one choice item, in ``options`` order, then a "no answer" row.

    ``choices[i]`` is what candidate i chose: an option key; several keys (a tuple or set) for a
    multiple-response item, the candidate then counting for each; or None / "" for no answer.
    ``key`` is the correct key or keys (``Item.answer`` fits), ``totals[i]`` candidate i's total.
    Pass ``options`` (all of the item's option keys) so that a distractor nobody chose shows up;
    without it the options are the key plus whatever was chosen, sorted. Ties at the edge of the
    upper or lower group are settled by input order (the earlier candidate counts as lower).
    """
    where, problems = "distractors", []
    keys, picked = _keys(key), [_keys(c) for c in choices]
    if len(choices) != len(totals):
        problems.append(Problem(where, f"作答 {len(choices)} 个、总分 {len(totals)} 个，数目不符"))
    if not keys:
        problems.append(Problem(where, "正确答案为空 (empty key)", field="key"))
    opts = list(options) if options is not None else sorted(keys.union(*picked))
    if len(set(opts)) != len(opts):
        problems.append(Problem(where, "选项重复 (duplicate option)", field="options"))
    problems += [
        Problem(where, f"正确答案 {o} 不是选项", field="key") for o in sorted(keys - {*opts})
    ]
    for i, chosen in enumerate(picked, start=1):
        problems += [
            Problem(where, f"选了不存在的选项 {o}", i, "choices") for o in sorted(chosen - {*opts})
        ]
    for i, total in enumerate(totals, start=1):
        if not _finite(total):
            problems.append(Problem(where, f"总分 {total!r} 不是有限数字", i, "totals"))
    if problems:
        raise MatrixError(problems)
    n = len(totals)
    g = group_size(n, group_fraction)
    order = sorted(range(n), key=lambda i: (totals[i], i))
    lower, upper = set(order[:g]), set(order[n - g :] if g else ())
    rows = [(o, o in keys, [i for i in range(n) if o in picked[i]]) for o in opts]
    rows.append((None, False, [i for i in range(n) if not picked[i]]))
    result = []
    for option, is_key, chosen_by in rows:
        up, low = len(upper.intersection(chosen_by)), len(lower.intersection(chosen_by))
        flags = []
        if option is not None and not is_key and not chosen_by:
            flags.append(DistractorFlag.NEVER_CHOSEN)
        if option is not None and not is_key and g and up > low:
            flags.append(DistractorFlag.UPPER_FAVOURED)
        result.append(
            OptionStats(
                option=option,
                is_key=is_key,
                count=len(chosen_by),
                proportion=len(chosen_by) / n if n else 0.0,
                mean_total=math.fsum(totals[i] for i in chosen_by) / len(chosen_by)
                if chosen_by
                else None,
                upper_count=up,
                lower_count=low,
                upper_proportion=up / g if g else None,
                lower_proportion=low / g if g else None,
                flags=tuple(flags),
            )
        )
    return result


def _keys(value: Choice) -> set[str]:
    if value is None:
        return set()
    values = [value] if isinstance(value, str) else value
    return {str(v).strip() for v in values if v is not None and str(v).strip()}


# --- CSV ---------------------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def read_matrix_csv(
    source: str | os.PathLike[str] | bytes, *, name: str | None = None
) -> ScoreMatrix:
    """Read a :class:`ScoreMatrix` from CSV (format in ``docs/item-statistics.md``).

    ``source`` is a path (``Path``, or a ``str`` without a line break), the file's bytes, or CSV
    text (a ``str`` with line breaks). ``name`` is how messages name the file. All-or-nothing:
    any problem raises :class:`MatrixError` listing every problem with its row and item.
    """
    if isinstance(source, bytes):
        file = name or "CSV"
        text = _decode(file, source)
    elif isinstance(source, os.PathLike) or (source and not re.search(r"[\r\n]", source)):
        file = name or os.fspath(source)
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise MatrixError(
                [Problem(file, f"无法读取文件 (cannot read: {exc.strerror})")]
            ) from None
        text = _decode(file, data)
    else:
        file, text = name or "CSV", source.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first_line.count)
    records: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                records.append((line, [c.strip() for c in cells]))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise MatrixError([Problem(file, f"CSV 格式错误 (malformed CSV: {exc})", line)]) from None
    if not records:
        raise MatrixError([Problem(file, "文件是空的 (empty file)")])
    return _parse_records(file, records)


def _parse_records(file: str, records: list[tuple[int, list[str]]]) -> ScoreMatrix:
    (head_line, header), rest = records[0], records[1:]
    while header and not header[-1]:
        header = header[:-1]
    has_ids = header[0].lower() in CANDIDATE_HEADERS
    first = 1 if has_ids else 0
    item_ids, width = header[first:], len(header)
    problems: list[Problem] = []
    if not rest:
        raise MatrixError([Problem(file, "缺少第二行：每题的满分 (no max-marks row)", head_line)])
    (max_line, max_cells), rest = rest[0], rest[1:]
    max_marks = _numbers(file, max_line, max_cells, width, first, item_ids, problems, None)
    problems += _header_problems(file, item_ids, None, head_line)
    if not rest:
        problems.append(Problem(file, "没有考生成绩行 (no candidate rows)", max_line))
    tops = [m if _finite(m) and m > 0 else None for m in max_marks]
    rows, cand_ids, seen = [], [], {}
    for line, cells in rest:
        rows.append(_numbers(file, line, cells, width, first, item_ids, problems, tops))
        if has_ids:
            cid = cells[0]
            if not cid:
                problems.append(Problem(file, "考生编号为空 (empty candidate id)", line, header[0]))
            elif cid in seen:
                msg = f"考生编号与第 {seen[cid]} 行重复 (duplicate candidate id)"
                problems.append(Problem(file, msg, line, header[0]))
            seen.setdefault(cid, line)
            cand_ids.append(cid)
    if problems:
        raise MatrixError(sorted(problems, key=lambda p: p.line or 0))  # in file order
    return ScoreMatrix(item_ids, max_marks, rows, cand_ids if has_ids else None, source=file)


def _numbers(
    file: str,
    line: int,
    cells: list[str],
    width: int,
    first: int,
    item_ids: list[str],
    problems: list[Problem],
    tops: list[float | None] | None,
) -> list[float]:
    """Parse one row's numbers; ``tops`` None for the max-marks row, else the max marks."""
    if len(cells) < width or any(cells[width:]):
        problems.append(
            Problem(file, f"本行有 {len(cells)} 列，表头有 {width} 列 (ragged row)", line)
        )
        return [math.nan] * len(item_ids)
    values = []
    for j, item_id in enumerate(item_ids):
        cell = cells[first + j]
        if not cell:
            value, why = None, "成绩为空，未得分请填 0 (empty mark)" if tops else "满分为空 (empty)"
        elif not _NUMBER.fullmatch(cell):
            value, why = None, f"“{cell}”不是数字 (not a number)"
        else:
            value = float(cell)
            if tops is None:
                why = _max_mark_problem(value)
            else:
                why = _mark_problem(value, tops[j]) if tops[j] is not None else None
        values.append(math.nan if value is None else value)
        if why:
            problems.append(Problem(file, why, line, f"{item_id}（第{first + j + 1}列）"))
    return values


def _decode(file: str, data: bytes) -> str:
    """UTF-8 (BOM or not), UTF-16 with a BOM, else GB18030 (what Excel writes on Chinese Windows)."""
    for encoding in ("utf-16", "utf-8-sig", "gb18030"):
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise MatrixError([Problem(file, "编码无法识别，请存为 UTF-8 (unknown text encoding)")])


# --- validation shared by ScoreMatrix and the CSV reader ----------------------------------------


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _mark_problem(value: object, top: float) -> str | None:
    if not _finite(value):
        return f"成绩 {value!r} 不是有限数字 (not a number)"
    if value < 0:
        return f"成绩 {value:g} 为负数 (negative mark)"
    if value > top * (1 + 1e-9):
        return f"成绩 {value:g} 超过满分 {top:g} (mark above max)"
    return None


def _header_problems(
    file: str, item_ids: list[str], max_marks: list | None, line: int | None
) -> list[Problem]:
    """Item ids present and unique; with ``max_marks`` (in-memory only: the CSV reader checks
    its max-marks row cell by cell) one finite positive max mark per item."""
    problems, seen = [], {}
    if not item_ids:
        problems.append(Problem(file, "没有题目 (no items)", line))
    for pos, item_id in enumerate(item_ids, start=1):
        if not item_id.strip():
            problems.append(Problem(file, f"第 {pos} 题的题目编号为空 (empty item id)", line))
        elif item_id in seen:
            msg = f"题目编号与第 {seen[item_id]} 题重复 (duplicate item id)"
            problems.append(Problem(file, msg, line, item_id))
        seen.setdefault(item_id, pos)
    if max_marks is not None and len(max_marks) != len(item_ids):
        msg = f"{len(item_ids)} 个题目、{len(max_marks)} 个满分 (max marks do not match items)"
        problems.append(Problem(file, msg))
    elif max_marks is not None:
        for item_id, top in zip(item_ids, max_marks, strict=True):
            if why := _max_mark_problem(top):
                problems.append(Problem(file, why, None, item_id))
    return problems


def _max_mark_problem(top: object) -> str | None:
    if not _finite(top):
        return f"满分 {top!r} 不是有限数字 (not a number)"
    return None if top > 0 else f"满分 {top:g} 必须大于 0 (max mark <= 0)"


def _candidate_problems(file: str, ids: Sequence[str], n_rows: int) -> list[Problem]:
    problems, seen = [], {}
    if len(ids) != n_rows:
        problems.append(Problem(file, f"{len(ids)} 个考生编号、{n_rows} 行成绩 (count mismatch)"))
    for r, cid in enumerate(ids, start=1):
        if not str(cid).strip():
            problems.append(Problem(file, "考生编号为空 (empty candidate id)", r, "candidate"))
        elif cid in seen:
            problems.append(
                Problem(file, f"考生编号与第 {seen[cid]} 行重复 (duplicate)", r, "candidate")
            )
        seen.setdefault(cid, r)
    return problems
