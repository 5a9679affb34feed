"""A bank as an XLSX workbook in the import template's layout.

``export_xlsx`` writes what ``question_bank.importers.xlsx.import_xlsx`` reads back to an equal
``BankContent`` (items, tasks, blueprints, metadata; media are not part of a workbook). Rich text
is written as plain text when that loses nothing, otherwise as the sanitised HTML itself.
"""

from __future__ import annotations

import io
import json

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from question_bank.blueprint import Blueprint, Cell, KnowledgePoint, Scope, Section
from question_bank.importers.xlsx_schema import (
    BLUEPRINTS,
    CELLS,
    CRITERIA,
    HELP,
    ITEMS,
    META,
    META_FIELDS,
    POINTS,
    SCOPE_LEVELS,
    SECTIONS,
    SHEETS,
    TASKS,
    cell_html,
    looks_like_html,
)
from question_bank.items import (
    ITEM_TYPE_LABELS,
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
from question_bank.richtext import html_to_text

MAX_CELL = 32767  # characters Excel keeps in one cell
_STATUS = {Status.ACTIVE: "启用", Status.RETIRED: "停用"}
_LISTS = {"题型": "单选,多选,判断", "重要程度": "X,Y,Z", "状态": "启用,停用", "否决项": "是,否"}
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")

HELP_TEXT = f"""\
题库导入模板（SkillCert）
每张工作表第 1 行是表头，不要改动表头文字；表头后面括号里是填写提示。空行会被忽略，以“备注”开头的列会被忽略。
导入是“全部或全不”：只要有一处错误，整个文件都不导入，并列出每一处错误（工作表、行号、列名和原因）。
{META}：每行一个项目（题库编号、题库名称、证书项目代码、证书项目、职业、职业方向、等级、版本、发布机构代码、发布机构）。版本为正整数。
{ITEMS}：题目编号唯一；题型填 单选、多选 或 判断；选项从选项A起连续填写（最多 8 个）；答案：单选填一个字母（如 A），多选填两个或以上字母（如 ABD），判断填 对/错（或 √/×）。判断题不填选项，或在选项A、选项B填写“对”“错”两项的文字。
{ITEMS}：题干、选项、解析可直接写文字（换行保留），也可写 HTML（<p>、<b>、<img src="media/图片名"> 等）。重要程度 X/Y/Z；难度 0～1；状态 启用/停用（默认启用）；标签用分号分隔；选项分值写作 A:50；C:50（百分比，可省略）。
{TASKS} 与 {CRITERIA}：每个实操任务至少一个评分项；评分项按任务编号归属任务，按行序排列；否决项填“是”时不计分（配分为 0 或留空）。
{BLUEPRINTS}：每行一张鉴定要素细目表（名称、标题、总分，附加信息为 JSON，可省略）。
{POINTS}：每行一个鉴定点，连同它所属的一级、二级、三级鉴定范围（代码和名称；范围第一次出现时写名称，之后可只写代码；可合并单元格）；只有范围没有鉴定点的行定义一个范围。重要程度 X/Y/Z，比重为百分比，全部鉴定点合计 100。
{SECTIONS}：每种题型每题的分值。{CELLS}：从某鉴定范围（含其下级范围）抽取某题型的题量。各题型题量 × 每题分值合计应等于总分。
"""


def export_xlsx(content: BankContent) -> bytes:
    """The workbook for ``content``; ``ValueError`` if a text is too long for an Excel cell."""
    book = Workbook()
    help_sheet = book.active
    help_sheet.title = HELP
    for n, line in enumerate(HELP_TEXT.splitlines(), 1):
        help_sheet.cell(n, 1, line).alignment = Alignment(wrap_text=True, vertical="top")
    help_sheet.column_dimensions["A"].width = 120
    help_sheet["A1"].font = Font(bold=True, size=14)
    rows = {
        META: _meta_rows(content.meta),
        ITEMS: [_item_row(i) for i in content.items],
        TASKS: [_task_row(t) for t in content.tasks],
        CRITERIA: [
            [t.uid, c.code, c.description, _num(c.max_points), "是" if c.veto else "否"]
            for t in content.tasks
            for c in t.criteria
        ],  # fmt: skip
        BLUEPRINTS: [
            [
                b.name,
                b.title,
                _num(b.total_points),
                json.dumps(b.meta, ensure_ascii=False) if b.meta else None,
            ]
            for b in content.blueprints
        ],  # fmt: skip
        POINTS: [row for b in content.blueprints for row in _point_rows(b)],
        SECTIONS: [
            [b.name, ITEM_TYPE_LABELS[s.item_type], _num(s.points_per_item)]
            for b in content.blueprints
            for s in b.sections
        ],  # fmt: skip
        CELLS: [
            [b.name, c.scope, ITEM_TYPE_LABELS[c.item_type], c.count]
            for b in content.blueprints
            for c in b.cells
        ],  # fmt: skip
    }
    for sheet, columns in SHEETS.items():
        ws = book.create_sheet(sheet)
        for col, column in enumerate(columns, 1):
            cell = ws.cell(1, col, column.header)
            cell.font, cell.fill = Font(bold=True), _HEADER_FILL
            ws.column_dimensions[get_column_letter(col)].width = 40 if "题干" in column.key else 14
            if column.key in _LISTS:
                check = DataValidation(
                    type="list", formula1=f'"{_LISTS[column.key]}"', allow_blank=True
                )
                check.add(f"{get_column_letter(col)}2:{get_column_letter(col)}5000")
                ws.add_data_validation(check)
        ws.freeze_panes = "A2"
        for r, values in enumerate(rows[sheet], 2):
            for col, value in enumerate(values, 1):
                _put(ws, r, col, value, sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _put(ws, row: int, col: int, value, sheet: str) -> None:
    if value is None or value == "":
        return
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if len(value) > MAX_CELL:
            raise ValueError(
                f"工作表“{sheet}”第{row}行第{col}列的内容超过 Excel 单元格上限 {MAX_CELL} 个字符"
            )
    cell = ws.cell(row, col, value)
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, even when the text starts with '='
        if "\n" in value:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _num(value: float | None):
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _text(html: str) -> str:
    """Plain text when it imports back to the same HTML, else the HTML itself."""
    if not html:
        return ""
    text = html_to_text(html)
    return text if not looks_like_html(text) and cell_html(text) == html else html


def _meta_rows(meta: dict) -> list[list]:
    rows = []
    for label, field in META_FIELDS.items():
        group, _, part = field.partition(".")
        value = meta.get(group)
        if part:
            value = (
                value.get(part) if isinstance(value, dict) else (value if part == "name" else None)
            )
        if value not in (None, ""):
            rows.append([label, value])
    return rows


def _item_row(item: Item) -> list:
    options = {o.key: _text(o.text) for o in item.options}
    if item.type == ItemType.TRUE_FALSE:  # the texts of "T" and "F", if any, go in A and B
        texts = [options.get("T"), options.get("F")] + [None] * (len(OPTION_KEYS) - 2)
        answer = "对" if item.answer == ("T",) else "错"
    else:
        texts = [options.get(k) for k in OPTION_KEYS]
        answer = "".join(item.answer)
    weights = "；".join(f"{o.key}:{o.weight:g}" for o in item.options if o.weight is not None)
    return [item.uid, item.version, ITEM_TYPE_LABELS[item.type], _text(item.stem), *texts, answer,
            item.knowledge_point, item.importance.value if item.importance else None,
            item.cognitive_level, item.difficulty, _STATUS[item.status], _text(item.explanation),
            item.title, "；".join(item.tags), weights]  # fmt: skip


def _task_row(task: Task) -> list:
    return [task.uid, task.version, task.title, _text(task.instructions), task.duration_minutes,
            task.knowledge_point, task.importance.value if task.importance else None,
            task.equipment, _STATUS[task.status]]  # fmt: skip


def _point_rows(bp: Blueprint) -> list[list]:
    """Scope rows first (so the scopes keep their order), then one row per knowledge point."""
    scopes = {s.code: s for s in bp.scopes}

    def chain(code: str) -> list:
        path, seen = [], set()
        while code in scopes and code not in seen and len(path) < len(SCOPE_LEVELS):
            seen.add(code)
            path.insert(0, scopes[code])
            code = scopes[code].parent
        cells = [v for s in path for v in (s.code, s.name)]
        return cells + [None] * (2 * len(SCOPE_LEVELS) - len(cells))

    rows = [[bp.name, *chain(s.code), None, None, None, None] for s in bp.scopes]
    for k in bp.knowledge_points:
        rows.append([bp.name, *chain(k.scope), k.code, k.name, k.importance.value, _num(k.weight)])
    return rows


def example_content() -> BankContent:
    """A small, valid bank that shows how each sheet is filled in (the template's rows)."""
    S, M, T = ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE, ItemType.TRUE_FALSE
    items = [
        Item("DEMO-S-001", S, "工业机器人示教时应选择哪种运行模式？", ("B",),
             (Option("A", "自动模式"), Option("B", "手动减速模式"), Option("C", "手动全速模式"),
              Option("D", "远程模式")), knowledge_point="A-01-001", importance=Importance.X,
             cognitive_level="掌握", difficulty=0.3, explanation="示教应在手动减速（T1）模式下进行。"),
        Item("DEMO-M-001", M, "进入机器人工作区域前应做到（ ）。", ("A", "B", "D"),
             (Option("A", "按下急停按钮"), Option("B", "挂牌上锁"), Option("C", "保持自动运行"),
              Option("D", "穿戴劳保用品")), knowledge_point="A-01-001", importance=Importance.X,
             cognitive_level="理解", difficulty=0.5, tags=("安全",)),
        Item("DEMO-T-001", T, "急停按钮按下后机器人应立即停止运动。", ("T",),
             knowledge_point="B-01-001", importance=Importance.Y, cognitive_level="了解",
             difficulty=0.1),
    ]  # fmt: skip
    task = Task("DEMO-P-01", "工具坐标系标定", "<p>在手动减速模式下用四点法标定工具坐标系。</p>",
                (Criterion("P1-01", "作业前检查急停与使能器", 20.0),
                 Criterion("P1-02", "四点法标定，误差不大于 1 mm", 80.0),
                 Criterion("P1-03", "在自动模式下进入安全围栏", 0.0, veto=True)),
                duration_minutes=30, knowledge_point="B-01-001", importance=Importance.X,
                equipment="六轴工业机器人 1 套")  # fmt: skip
    blueprint = Blueprint(
        name="DEMO-理论", title="示例理论知识考试鉴定要素细目表",
        scopes=[Scope("A", "基本要求"), Scope("A-01", "安全知识", "A"), Scope("B", "相关知识")],
        knowledge_points=[KnowledgePoint("A-01-001", "安全操作规程", "A-01", Importance.X, 60.0),
                          KnowledgePoint("B-01-001", "急停与安全回路", "B", Importance.Y, 40.0)],
        sections=[Section(S, 2.0), Section(M, 4.0), Section(T, 2.0)],
        cells=[Cell("A-01", S, 20), Cell("A", M, 10), Cell("B", T, 10)],
        meta={"duration_minutes": 90},
    )  # fmt: skip
    meta = {"bank": "DEMO-BANK", "name": "示例题库", "programme": {"code": "DEMO", "name": "示例证书项目"},
            "level": "中级", "version": 1, "issuer": {"code": "ORG-0001", "name": "示例培训评价组织"}}  # fmt: skip
    return BankContent(items=items, tasks=[task], blueprints=[blueprint], meta=meta, format="xlsx")
