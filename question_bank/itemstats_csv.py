"""The score matrix as input: :class:`ScoreMatrix` with its validation, and reading one from CSV.

Split from :mod:`question_bank.itemstats`, which builds on it and re-exports every public name
here. Format, encodings and every error: ``docs/item-statistics.md`` §5. A mark is ``None``
where the item was not on the candidate's form (not the same as 0); in CSV that is an empty cell
or ``-`` in a candidate row.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from question_bank.errors import Problem

MAX_PROBLEMS = 50  # a MatrixError lists at most this many problems (and says how many more)

CANDIDATE_HEADERS = {
    "candidate",
    "candidate_id",
    "考生",
    "考生编号",
    "准考证号",
}  # a first header cell that marks a candidate-id column
NOT_PRESENTED = {"", "-"}  # a candidate-row cell meaning "item not on this candidate's form"


class MatrixError(ValueError):
    """Bad input; ``problems`` lists every reason found, each with file, row and item/column."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = [str(p) for p in self.problems[:MAX_PROBLEMS]]
        if len(self.problems) > MAX_PROBLEMS:
            lines.append(f"……另有 {len(self.problems) - MAX_PROBLEMS} 处问题 (more problems)")
        super().__init__("\n".join(lines))


@dataclass
class ScoreMatrix:
    """Marks of ``len(rows)`` candidates on ``len(item_ids)`` items, validated on creation
    (raises :class:`MatrixError`). A mark is ``None`` where the item was not presented to the
    candidate (not the same as 0); every candidate must have been presented at least one item.
    ``source`` names the matrix in error messages."""

    item_ids: list[str]
    max_marks: list[float]
    rows: list[list[float | None]]
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
            if width and all(v is None for v in row):
                msg = "没有任何题目的成绩 (no item presented to this candidate)"
                problems.append(Problem(src, msg, r))
            for item_id, top, value in zip(self.item_ids, self.max_marks, row, strict=checks_marks):
                if value is None:
                    continue
                if why := _mark_problem(value, top if _finite(top) else math.inf):
                    problems.append(Problem(src, why, r, item_id))
        if problems:
            raise MatrixError(problems)
        self.max_marks = [float(m) for m in self.max_marks]
        self.rows = [[None if v is None else float(v) for v in row] for row in self.rows]

    @property
    def n_candidates(self) -> int:
        return len(self.rows)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def sparse(self) -> bool:
        """Whether some item was not presented to some candidate."""
        return any(v is None for row in self.rows for v in row)


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
    tops = [m if m is not None and _finite(m) and m > 0 else None for m in max_marks]
    rows, cand_ids, seen = [], [], {}
    for line, cells in rest:
        row = _numbers(file, line, cells, width, first, item_ids, problems, tops)
        if item_ids and all(v is None for v in row):
            msg = "本行没有任何题目的成绩 (no item presented to this candidate)"
            problems.append(Problem(file, msg, line))
        rows.append(row)
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
) -> list[float | None]:
    """Parse one row; ``tops`` None for the max-marks row, else the max marks. In a candidate
    row a cell in :data:`NOT_PRESENTED` gives ``None``; an unusable cell gives NaN (and a
    problem), so that a row with errors is never mistaken for an empty form."""
    if len(cells) < width or any(cells[width:]):
        problems.append(
            Problem(file, f"本行有 {len(cells)} 列，表头有 {width} 列 (ragged row)", line)
        )
        return [math.nan] * len(item_ids)
    values: list[float | None] = []
    for j, item_id in enumerate(item_ids):
        cell = cells[first + j]
        value: float | None = math.nan
        if tops is not None and cell in NOT_PRESENTED:
            value, why = None, None
        elif not cell:
            why = "满分为空 (empty)"
        elif not _NUMBER.fullmatch(cell):
            why = f"“{cell}”不是数字 (not a number)"
        else:
            value = float(cell)
            if tops is None:
                why = _max_mark_problem(value)
            else:
                why = _mark_problem(value, tops[j]) if tops[j] is not None else None
        values.append(value)
        if why:
            problems.append(Problem(file, why, line, f"{item_id}（第{first + j + 1}列）"))
    return values


def _decode(file: str, data: bytes) -> str:
    """UTF-8 (BOM or not), UTF-16 with a BOM, else GB18030 (Excel's CSV on Chinese Windows)."""
    for encoding in ("utf-16", "utf-8-sig", "gb18030"):
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise MatrixError([Problem(file, "编码无法识别，请存为 UTF-8 (unknown text encoding)")])
