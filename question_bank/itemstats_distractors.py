"""Distractor analysis of one choice item: who chose which option, and how they scored.

Split from :mod:`question_bank.itemstats`, which re-exports every public name here. The rules
are in ``docs/item-statistics.md`` §4. With a sparse score matrix (each candidate sat their own
form) pass only the candidates who were presented the item, with their ``Analysis.totals``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum

from question_bank.errors import Problem
from question_bank.itemstats_csv import MatrixError, _finite

Choice = str | Iterable[str] | None


class DistractorFlag(StrEnum):
    NEVER_CHOSEN = "never_chosen"  # a distractor nobody chose does no work
    UPPER_FAVOURED = "upper_favoured"  # the upper group chose this wrong option more than the lower


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
