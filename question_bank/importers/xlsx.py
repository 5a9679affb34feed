"""Reading a bank from the XLSX template (Chinese headers): items, practical tasks, rubrics,
blueprints, metadata.

The layout (``SHEETS``) is declared in :mod:`question_bank.importers.xlsx_schema`; the exporter
writes the same layout, and :func:`xlsx_template` is the exporter's rendering of a small example
bank. Every problem names its sheet, row and column. Layout and rules: ``docs/import-formats.md``.
"""

from __future__ import annotations

import io
import json
import math
import re

from question_bank.blueprint import (
    Blueprint,
    Cell,
    InvalidBlueprint,
    KnowledgePoint,
    Scope,
    Section,
    validate_blueprint,
)
from question_bank.errors import BankImportError, Problem
from question_bank.importers import check_zip
from question_bank.importers.xlsx_schema import (
    BLUEPRINTS,
    CELLS,
    CRITERIA,
    FALSE_WORDS,
    HELP,
    ITEMS,
    META,
    META_FIELDS,
    NO,
    POINTS,
    SCOPE_LEVELS,
    SECTIONS,
    SHEETS,
    STATUS_NAMES,
    TASKS,
    TRUE_WORDS,
    TYPE_HINT,
    TYPE_NAMES,
    YES,
    cell_html,
    normalise,
)
from question_bank.items import (
    OPTION_KEYS,
    BankContent,
    Criterion,
    Importance,
    Item,
    ItemType,
    Option,
    Status,
    Task,
)

__all__ = ["SHEETS", "import_xlsx", "xlsx_template"]


# --- reading -------------------------------------------------------------------------------------


class _Row:
    def __init__(self, reader: _Reader, sheet: str, number: int, values: dict, headers: dict):
        self.reader, self.sheet, self.line = reader, sheet, number
        self.values, self.headers = values, headers

    def problem(self, key: str, message: str) -> None:
        self.reader.problem(self.sheet, self.line, self.headers.get(key, key), message)

    def text(self, key: str) -> str:
        value = self.values.get(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return "" if value is None else str(value).strip()

    def required(self, key: str) -> str:
        value = self.text(key)
        if not value:
            self.problem(key, f"{self.headers.get(key, key)}不能为空")
        return value

    def number(self, key: str, *, integer=False, low=None, high=None, default=None):
        raw = self.values.get(key)
        if raw is None or str(raw).strip() == "":
            return default
        try:
            value = float(str(raw).strip()) if not isinstance(raw, int | float) else float(raw)
        except ValueError:
            value = None
        bad = value is None or not math.isfinite(value) or (integer and not value.is_integer())
        if bad or (low is not None and value < low) or (high is not None and value > high):
            what = "整数" if integer else "数字"
            bounds = (
                f"，范围 {low}～{high}"
                if high is not None
                else (f"，不小于 {low}" if low is not None else "")
            )
            self.problem(key, f"'{raw}' 不是有效的{what}{bounds}")
            return default
        return int(value) if integer else value

    def choice(self, key: str, names: dict, hint: str, default=None):
        value = self.text(key)
        if not value:
            return default
        found = names.get(value, names.get(value.upper(), names.get(value.lower())))
        if found is None:
            self.problem(key, f"'{value}' 无效，应为 {hint}")
        return found if found is not None else default


_IMPORTANCE = {i.value: i for i in Importance}


class _Reader:
    def __init__(self, filename: str, data: bytes):
        self.filename, self.problems = filename, []
        check_zip(filename, data)  # an .xlsx is a zip: refuse zip bombs before openpyxl reads it
        try:
            from openpyxl import load_workbook

            self.book = load_workbook(io.BytesIO(data), data_only=True)
        except Exception as exc:  # openpyxl raises many kinds on damaged files
            raise BankImportError(
                [
                    Problem(
                        filename,
                        f"无法作为 XLSX 工作簿读取（{type(exc).__name__}）：文件已损坏或不是 .xlsx",
                    )
                ]
            ) from None

    def problem(self, sheet: str, row: int | None, field: str | None, message: str) -> None:
        self.problems.append(Problem(f"{self.filename} 工作表“{sheet}”", message, row, field))

    def rows(self, sheet: str) -> list[_Row]:
        if sheet not in self.book.sheetnames:
            return []
        ws = self.book[sheet]
        if not hasattr(ws, "iter_rows"):
            self.problem(sheet, None, None, "这是图表，不是数据表")
            return []
        grid = [list(r) for r in ws.iter_rows(values_only=True)]
        for merged in ws.merged_cells.ranges:  # a merged cell counts for every row it spans
            if merged.min_row > len(grid) or merged.min_col > len(grid[merged.min_row - 1]):
                continue
            top = grid[merged.min_row - 1][merged.min_col - 1]
            for r in range(merged.min_row, min(merged.max_row, len(grid)) + 1):
                for c in range(merged.min_col, min(merged.max_col, len(grid[r - 1])) + 1):
                    grid[r - 1][c - 1] = top
        if not grid:
            return []
        columns = {c.key: c for c in SHEETS[sheet]}
        index, headers = {}, {}
        for n, raw in enumerate(grid[0]):
            key = normalise(raw)
            if not key or key.startswith("备注"):
                continue
            if key not in columns:
                known = "、".join(c.header for c in SHEETS[sheet])
                self.problem(sheet, 1, str(raw), f"未知的列 '{raw}'（可用的列：{known}）")
            elif key in index:
                self.problem(sheet, 1, str(raw), f"列 '{raw}' 出现了两次")
            else:
                index[key], headers[key] = n, str(raw).strip()
        missing = [c.header for c in SHEETS[sheet] if c.required and c.key not in index]
        if missing:
            self.problem(sheet, 1, None, f"缺少必填的列：{'、'.join(missing)}")
            return []
        out = []
        for number, values in enumerate(grid[1:], 2):
            cells = {k: values[i] if i < len(values) else None for k, i in index.items()}
            if all(v is None or str(v).strip() == "" for v in cells.values()):
                continue
            out.append(_Row(self, sheet, number, cells, headers))
        return out


def import_xlsx(filename: str, data: bytes) -> BankContent:
    """A bank from the XLSX template: all or nothing, every problem with sheet, row and column."""
    reader = _Reader(filename, data)
    for ws in reader.book.worksheets:
        filled = any(
            v is not None and str(v).strip() for r in ws.iter_rows(values_only=True) for v in r
        )
        if ws.title not in SHEETS and ws.title != HELP and filled:
            known = "、".join([HELP, *SHEETS])
            reader.problem(ws.title, None, None, f"未知的工作表（可用的工作表：{known}）")
    meta = _meta(reader)
    items = _items(reader)
    tasks = _tasks(reader)
    blueprints = _blueprints(reader)
    if not items and not tasks and not reader.problems:
        reader.problem(ITEMS, None, None, "工作簿中没有试题，也没有实操任务")
    if reader.problems:
        raise BankImportError(reader.problems)
    return BankContent(items=items, tasks=tasks, blueprints=blueprints, meta=meta, format="xlsx")


def _meta(reader: _Reader) -> dict:
    meta: dict = {}
    for row in reader.rows(META):
        key = normalise(row.text("项目"))
        field = META_FIELDS.get(key)
        if field is None:
            row.problem(
                "项目", f"未知的项目 '{row.text('项目')}'（可用：{'、'.join(META_FIELDS)}）"
            )
        elif field == "version":
            meta["version"] = row.number("内容", integer=True, low=1)
        elif "." in field:
            group, part = field.split(".")
            meta.setdefault(group, {"code": "", "name": ""})[part] = row.text("内容")
        elif row.text("内容"):
            meta[field] = row.text("内容")
    return {k: v for k, v in meta.items() if v is not None}


def _items(reader: _Reader) -> list[Item]:
    items, seen = [], {}
    for row in reader.rows(ITEMS):
        uid = row.required("题目编号")
        if uid in seen:
            row.problem("题目编号", f"题目编号 '{uid}' 与第{seen[uid]}行重复")
        seen.setdefault(uid, row.line)
        item_type = row.choice("题型", TYPE_NAMES, TYPE_HINT)
        if not row.text("题型"):
            row.problem("题型", "题型不能为空，应为 单选、多选 或 判断")
        stem = row.required("题干")
        options = _options(row, item_type)
        answer = _answer(row, item_type, [o.key for o in options])
        item = Item(
            uid=uid, type=item_type or ItemType.SINGLE_CHOICE, stem=cell_html(stem),
            answer=answer, options=tuple(options),
            version=row.number("版本", integer=True, low=1, default=1),
            knowledge_point=row.text("鉴定点") or None,
            importance=row.choice("重要程度", _IMPORTANCE, "X、Y 或 Z"),
            cognitive_level=row.text("认知层次") or None,
            difficulty=row.number("难度", low=0, high=1),
            status=row.choice("状态", STATUS_NAMES, "启用 或 停用", Status.ACTIVE),
            explanation=cell_html(row.text("解析")) if row.text("解析") else "",
            title=row.text("标题") or None,
            tags=tuple(t for t in re.split(r"[;；,，、\n]", row.text("标签")) if t.strip()),
        )  # fmt: skip
        items.append(item)
    return items


def _options(row: _Row, item_type: ItemType | None) -> list[Option]:
    texts = {k: row.text(f"选项{k}") for k in OPTION_KEYS}
    last = max((n for n, k in enumerate(OPTION_KEYS) if texts[k]), default=-1)
    gaps = [k for k in OPTION_KEYS[: max(last, 0)] if not texts[k]]
    for k in gaps:
        row.problem(f"选项{k}", f"选项{k}为空，但后面的选项有内容；选项须从 A 起连续填写")
    weights = _weights(row)
    if item_type == ItemType.TRUE_FALSE:
        if last >= 0 and (last != 1 or gaps):
            row.problem("选项A", "判断题不填选项，或只在选项A、选项B填写“对”“错”两项的文字")
            return []
        return (
            [Option("T", cell_html(texts["A"])), Option("F", cell_html(texts["B"]))]
            if last == 1
            else []
        )
    if item_type is not None and last < 1:
        row.problem("选项A", f"选择题至少要 2 个选项，现有 {last + 1} 个")
    for k in weights:
        if not texts.get(k):
            row.problem("选项分值", f"选项{k}没有内容，不能设分值")
    return [Option(k, cell_html(texts[k]), weights.get(k)) for k in OPTION_KEYS[: last + 1]]


def _weights(row: _Row) -> dict[str, float]:
    raw = row.text("选项分值")
    weights = {}
    for part in filter(None, (p.strip() for p in re.split(r"[;；,，、\s]+", raw))):
        match = re.fullmatch(r"([A-Ha-h])\s*[:：=]\s*(-?\d+(?:\.\d+)?)%?", part)
        if not match or not -100 <= float(match.group(2)) <= 100:
            row.problem("选项分值", f"'{part}' 无法识别，应写作 A:50；C:50（百分比，-100～100）")
            continue
        weights[match.group(1).upper()] = float(match.group(2))
    return weights


def _answer(row: _Row, item_type: ItemType | None, keys: list[str]) -> tuple[str, ...]:
    raw = row.text("答案")
    if not raw or item_type is None:
        if not raw:
            row.problem("答案", "答案不能为空")
        return ()
    if item_type == ItemType.TRUE_FALSE:
        word = raw.upper() if raw.isascii() else raw
        if word in TRUE_WORDS or raw in TRUE_WORDS:
            return ("T",)
        if word in FALSE_WORDS or raw in FALSE_WORDS:
            return ("F",)
        row.problem("答案", f"判断题答案 '{raw}' 无效，应为 对/错 或 √/×")
        return ()
    letters = [c for c in raw.upper() if c not in " ,，、;；"]
    span = f"选项A–{keys[-1]}" if keys else "已填写的选项"
    wrong = [c for c in letters if c not in keys]
    if wrong:
        row.problem("答案", f"答案 '{''.join(wrong)}' 不在{span}中")
        return ()
    if len(set(letters)) != len(letters):
        row.problem("答案", f"答案 '{raw}' 中有重复的选项")
    if item_type == ItemType.SINGLE_CHOICE and len(set(letters)) != 1:
        row.problem("答案", f"单选题只能有一个答案，而不是 '{raw}'")
    if item_type == ItemType.MULTIPLE_CHOICE and len(set(letters)) < 2:
        row.problem("答案", f"多选题至少要 2 个正确选项，而不是 '{raw}'（只有一个请改为单选）")
    return tuple(sorted(set(letters)))


def _tasks(reader: _Reader) -> list[Task]:
    tasks: dict[str, tuple[_Row, dict]] = {}
    for row in reader.rows(TASKS):
        uid = row.required("任务编号")
        if uid in tasks:
            row.problem("任务编号", f"任务编号 '{uid}' 与第{tasks[uid][0].line}行重复")
            continue
        tasks[uid] = (row, dict(
            uid=uid, title=row.required("任务名称"), instructions=cell_html(row.required("任务说明")),
            version=row.number("版本", integer=True, low=1, default=1),
            duration_minutes=row.number("时长", integer=True, low=1),
            knowledge_point=row.text("鉴定点") or None,
            importance=row.choice("重要程度", _IMPORTANCE, "X、Y 或 Z"),
            status=row.choice("状态", STATUS_NAMES, "启用 或 停用", Status.ACTIVE),
            equipment=row.text("设备材料"),
        ))  # fmt: skip
    criteria: dict[str, list[Criterion]] = {uid: [] for uid in tasks}
    for row in reader.rows(CRITERIA):
        uid, code = row.required("任务编号"), row.required("评分项编号")
        if uid and uid not in tasks:
            row.problem("任务编号", f"任务编号 '{uid}' 不在“{TASKS}”表中")
            continue
        if code and any(c.code == code for c in criteria.get(uid, [])):
            row.problem("评分项编号", f"任务 {uid} 的评分项编号 '{code}' 重复")
        veto = row.choice(
            "否决项", {**{w: True for w in YES}, **{w: False for w in NO}}, "是 或 否", False
        )
        points = row.number("配分", low=0)
        if veto and points:
            row.problem("配分", "否决项不计分，配分应为 0 或留空")
        elif not veto and points is None:
            row.problem("配分", "配分不能为空（否决项除外）")
        description = row.required("评分项")
        if uid in criteria:
            criteria[uid].append(Criterion(code, description, float(points or 0), bool(veto)))
    for uid, (row, _) in tasks.items():
        if not criteria[uid]:
            row.problem("任务编号", f"任务 '{uid}' 在“{CRITERIA}”表中没有评分项")
    return [Task(criteria=tuple(criteria[uid]), **fields) for uid, (_, fields) in tasks.items()]


def _blueprints(reader: _Reader) -> list[Blueprint]:
    before = len(reader.problems)
    found: dict[str, Blueprint] = {}

    def get(row: _Row) -> Blueprint | None:
        name = row.required("细目表名称")
        return found.setdefault(name, Blueprint(name, [], [], [], [])) if name else None

    for row in reader.rows(BLUEPRINTS):
        if row.text("细目表名称") in found:
            row.problem("细目表名称", f"细目表 '{row.text('细目表名称')}' 重复")
        bp = get(row)
        if bp is not None:
            bp.title = row.text("标题")
            bp.total_points = row.number("总分", low=0, default=100.0)
            bp.meta = _json(row)
    for row in reader.rows(POINTS):
        bp = get(row)
        if bp is not None:
            _point_row(row, bp)
    for row in reader.rows(SECTIONS):
        bp, item_type = get(row), row.choice("题型", TYPE_NAMES, TYPE_HINT)
        points = row.number("每题分值", low=0)
        if bp is not None and item_type is not None and points is not None:
            bp.sections.append(Section(item_type, points))
    for row in reader.rows(CELLS):
        bp, item_type = get(row), row.choice("题型", TYPE_NAMES, TYPE_HINT)
        scope, count = row.required("鉴定范围代码"), row.number("题量", integer=True, low=1)
        if bp is not None and item_type is not None and scope and count is not None:
            bp.cells.append(Cell(scope, item_type, count))
    if len(reader.problems) == before:
        for bp in found.values():
            try:
                validate_blueprint(bp)
            except InvalidBlueprint as exc:
                for message in exc.problems:
                    reader.problem(POINTS, None, None, f"细目表 '{bp.name}'：{message}")
    return list(found.values())


def _json(row: _Row) -> dict:
    raw = row.text("附加信息")
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        value = None
    if not isinstance(value, dict):
        row.problem("附加信息", '附加信息应为 JSON 对象，如 {"duration_minutes": 90}')
        return {}
    return value


def _point_row(row: _Row, bp: Blueprint) -> None:
    scopes = {s.code: s for s in bp.scopes}
    parent = None
    for level in SCOPE_LEVELS:
        code, name = row.text(f"{level}范围代码"), row.text(f"{level}范围名称")
        if not code:
            if name:
                row.problem(f"{level}范围代码", f"填了{level}范围名称，但{level}范围代码为空")
            break
        known = scopes.get(code)
        if known is None:
            if not name:
                row.problem(f"{level}范围名称", f"{level}范围 {code} 第一次出现，名称不能为空")
            bp.scopes.append(Scope(code, name, parent))
            scopes[code] = bp.scopes[-1]
        elif known.parent != parent or (name and name != known.name):
            row.problem(
                f"{level}范围代码", f"鉴定范围 {code} 与前面的行不一致（名称或上级范围不同）"
            )
        parent = code
    if parent is None:
        row.problem("一级范围代码", "一级范围代码不能为空")
    code = row.text("鉴定点代码")
    if not code:
        return
    if any(k.code == code for k in bp.knowledge_points):
        row.problem("鉴定点代码", f"鉴定点 {code} 在细目表 '{bp.name}' 中重复")
        return
    importance = row.choice("重要程度", _IMPORTANCE, "X、Y 或 Z")
    if not row.text("重要程度"):
        row.problem("重要程度", "鉴定点的重要程度不能为空，应为 X、Y 或 Z")
    name = row.required("鉴定点名称")
    weight = row.number("比重", low=0, high=100, default=0.0)
    if parent is not None:
        bp.knowledge_points.append(
            KnowledgePoint(code, name, parent, importance or Importance.Y, weight)
        )


def xlsx_template() -> bytes:
    """The import template: every sheet with its headers, an example bank and instructions."""
    from question_bank.exporters.xlsx import example_content, export_xlsx

    return export_xlsx(example_content())
