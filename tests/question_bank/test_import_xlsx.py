"""XLSX template import and export: Chinese headers, every problem with sheet, row and column,
and a lossless round trip of items, tasks, blueprints and metadata."""

from __future__ import annotations

import io
import json
import random
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from question_bank.blueprint import Blueprint
from question_bank.errors import BankImportError
from question_bank.exporters.xlsx import example_content, export_xlsx
from question_bank.importers import detect_format, import_file
from question_bank.importers.xlsx import SHEETS, import_xlsx, xlsx_template
from question_bank.items import BankContent, Importance, Item, ItemType, Option, Status, Task
from tests.question_bank.factories import make_blueprint, make_item

DEMO = Path(__file__).parents[2] / "station" / "demo" / "irap_intermediate.json"
ITEM_HEADERS = [c.header for c in SHEETS["试题"]]


def _book(sheets: dict[str, list[list]], *, headers: bool = True) -> bytes:
    """A workbook with the given rows (the template's header row first unless told not to)."""
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        if headers:
            ws.append([c.header for c in SHEETS[name]])
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _item_row(**values) -> list:
    keys = {"编号": "题目编号", "题型": "题型(单选/多选/判断)", "重要程度": "重要程度(X/Y/Z)",
            "难度": "难度(0-1)", "状态": "状态(启用/停用)"}  # fmt: skip
    named = {keys.get(k, k): v for k, v in values.items()}
    return [named.get(h) for h in ITEM_HEADERS]


def _problems(data: bytes) -> list[str]:
    with pytest.raises(BankImportError) as caught:
        import_xlsx("bank.xlsx", data)
    return [str(p) for p in caught.value.problems]


def test_template_has_every_sheet_with_chinese_headers_and_imports_cleanly():
    data = xlsx_template()
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["说明", *SHEETS]
    assert [c.value for c in book["试题"][1]][:5] == [
        "题目编号",
        "版本",
        "题型(单选/多选/判断)",
        "题干",
        "选项A",
    ]
    assert [c.value for c in book["评分细则"][1]] == [
        "任务编号",
        "评分项编号",
        "评分项",
        "配分",
        "否决项(是/否)",
    ]
    assert detect_format("模板.xlsx", data) == "xlsx"
    content = import_file("模板.xlsx", data)
    example = example_content()
    assert (content.items, content.tasks, content.blueprints, content.meta) == (
        example.items,
        example.tasks,
        example.blueprints,
        example.meta,
    )


def test_round_trip_of_items_tasks_blueprint_and_meta():
    items = [make_item("F-S", knowledge_point="A-01-001", importance=Importance.Z),
             make_item("F-M", type=ItemType.MULTIPLE_CHOICE, status=Status.RETIRED, version=3),
             make_item("F-T", type=ItemType.TRUE_FALSE, difficulty=None)]  # fmt: skip
    items.append(Item("F-H", ItemType.SINGLE_CHOICE, '<p>看图 <img src="media/a.png" alt="图"></p>', ("A",),
                      (Option("A", "= 2 + 3", 100.0), Option("B", "<b>粗</b>", -50.0)),
                      explanation="第一行\n第二行", title="带图", tags=("安全", "电气")))  # fmt: skip
    items.append(
        Item("F-TF2", ItemType.TRUE_FALSE, "对吗", ("F",), (Option("T", "是"), Option("F", "否")))
    )
    items = [Item.from_dict(i.to_dict() | {"explanation": i.explanation.replace("\n", "<br>")})
             for i in items]  # fmt: skip
    content = example_content()
    content.items, content.blueprints = items, [make_blueprint(), *content.blueprints]
    back = import_xlsx("rt.xlsx", export_xlsx(content))
    assert back.items == content.items
    assert back.tasks == content.tasks
    assert back.blueprints == content.blueprints
    assert back.meta == content.meta


@pytest.mark.skipif(not DEMO.is_file(), reason="the station's demo bank is not in this checkout")
def test_round_trip_of_the_demo_bank():
    raw = json.loads(DEMO.read_text(encoding="utf-8"))
    demo = BankContent(items=[Item.from_dict(i) for i in raw["items"]],
                       tasks=[Task.from_dict(t) for t in raw["tasks"]],
                       blueprints=[Blueprint.from_dict(b) for b in raw["blueprints"]], meta=raw["meta"])  # fmt: skip
    back = import_xlsx("demo.xlsx", export_xlsx(demo))
    assert (back.items, back.tasks, back.blueprints, back.meta) == (
        demo.items,
        demo.tasks,
        demo.blueprints,
        demo.meta,
    )


def test_xlsx_reports_every_bad_row_with_sheet_row_and_column():
    data = _book({
        "基本信息": [["版本", "第二版"], ["颜色", "红"]],
        "试题": [
            _item_row(编号="S1", 题型="单选", 题干="甲？", 选项A="a", 选项B="b", 选项C="c", 选项D="d", 答案="E"),
            _item_row(编号="S1", 题型="单选题", 题干="乙？", 选项A="a", 选项B="b", 答案="AB"),
            _item_row(编号="M1", 题型="多选", 题干="丙？", 选项A="a", 选项C="c", 答案="A", 重要程度="W"),
            _item_row(编号="T1", 题型="判断", 题干="丁。", 答案="也许", 难度=1.5, 状态="删除"),
            _item_row(编号="Q5", 题型="填空", 题干="", 答案="x"),
        ],
        "实操任务": [["P1", 1, "任务一", "说明", "四十"]],
        "评分细则": [["P1", "C1", "安全", 10, "是"], ["P2", "C1", "不存在的任务", 10, "否"]],
    })  # fmt: skip
    sheet = "bank.xlsx 工作表“{}” 第{}行 {}: {}".format
    assert _problems(data) == [
        sheet("基本信息", 2, "内容", "'第二版' 不是有效的整数，不小于 1"),
        sheet("基本信息", 3, "项目", "未知的项目 '颜色'（可用：题库编号、题库名称、证书项目代码、证书项目、职业、职业方向、等级、版本、发布机构代码、发布机构）"),
        sheet("试题", 2, "答案", "答案 'E' 不在选项A–D中"),
        sheet("试题", 3, "题目编号", "题目编号 'S1' 与第2行重复"),
        sheet("试题", 3, "答案", "单选题只能有一个答案，而不是 'AB'"),
        sheet("试题", 4, "选项B", "选项B为空，但后面的选项有内容；选项须从 A 起连续填写"),
        sheet("试题", 4, "答案", "多选题至少要 2 个正确选项，而不是 'A'（只有一个请改为单选）"),
        sheet("试题", 4, "重要程度(X/Y/Z)", "'W' 无效，应为 X、Y 或 Z"),
        sheet("试题", 5, "答案", "判断题答案 '也许' 无效，应为 对/错 或 √/×"),
        sheet("试题", 5, "难度(0-1)", "'1.5' 不是有效的数字，范围 0～1"),
        sheet("试题", 5, "状态(启用/停用)", "'删除' 无效，应为 启用 或 停用"),
        sheet("试题", 6, "题型(单选/多选/判断)", "'填空' 无效，应为 单选、多选 或 判断"),
        sheet("试题", 6, "题干", "题干不能为空"),
        sheet("实操任务", 2, "时长(分钟)", "'四十' 不是有效的整数，不小于 1"),
        sheet("评分细则", 2, "配分", "否决项不计分，配分应为 0 或留空"),
        sheet("评分细则", 3, "任务编号", "任务编号 'P2' 不在“实操任务”表中"),
    ]  # fmt: skip


def test_chinese_type_and_answer_spellings_are_accepted():
    data = _book({"试题": [
        _item_row(编号="1001", 题型="单项选择题", 题干="甲？", 选项A=220, 选项B=380, 答案="b"),
        _item_row(编号="1002", 题型="多选题", 题干="乙？", 选项A="a", 选项B="b", 选项C="c", 答案="A、C"),
        _item_row(编号="1003", 题型="判断题", 题干="丙。", 答案="√"),
        _item_row(编号="1004", 题型="判断", 题干="丁。", 答案="×", 选项A="正确", 选项B="错误"),
    ]})  # fmt: skip
    single, multiple, yes, no = import_xlsx("b.xlsx", data).items
    assert single.uid == "1001" and [o.text for o in single.options] == ["220", "380"]
    assert single.answer == ("B",) and multiple.answer == ("A", "C")
    assert (yes.answer, yes.options) == (("T",), ())
    assert no.answer == ("F",) and [o.text for o in no.options] == ["正确", "错误"]


def test_empty_rows_note_columns_and_merged_scope_cells():
    book = Workbook()
    ws = book.active
    ws.title = "试题"
    ws.append([*ITEM_HEADERS, "备注"])
    ws.append([])
    ws.append(
        _item_row(编号="S1", 题型="单选", 题干="甲\n第二行", 选项A="a", 选项B="b", 答案="A")
        + ["草稿"]
    )
    ws.append([None, "  ", None])
    points = book.create_sheet("鉴定要素")
    points.append([c.header for c in SHEETS["鉴定要素"]])
    points.append(["BP", "A", "基本要求", None, None, None, None, "A-001", "守则", "X", 60])
    points.append([None, None, None, None, None, None, None, "A-002", "安全", "Y", 40])
    points.merge_cells("A2:A3")
    points.merge_cells("B2:B3")
    points.merge_cells("C2:C3")
    book.create_sheet("试卷结构").append(["细目表名称", "题型", "每题分值"])
    book["试卷结构"].append(["BP", "单选", 1])
    book.create_sheet("组卷单元").append(["细目表名称", "鉴定范围代码", "题型", "题量"])
    book["组卷单元"].append(["BP", "A", "单选", 100])
    book.create_sheet("Sheet1")  # empty sheets Excel adds are ignored
    out = io.BytesIO()
    book.save(out)
    content = import_xlsx("m.xlsx", out.getvalue())
    (item,) = content.items
    assert item.stem == "甲<br>第二行"
    (bp,) = content.blueprints
    assert [(k.code, k.scope) for k in bp.knowledge_points] == [("A-001", "A"), ("A-002", "A")]


def test_unknown_sheets_unknown_columns_and_missing_columns_are_refused():
    book = Workbook()
    book.active.title = "试题"
    book.active.append(["题目编号", "题干", "答按"])
    book.active.append(["S1", "甲", "A"])
    book.create_sheet("实操任物").append(["anything"])
    out = io.BytesIO()
    book.save(out)
    problems = _problems(out.getvalue())
    assert "bank.xlsx 工作表“实操任物”: 未知的工作表" in problems[0]
    assert problems[1].startswith("bank.xlsx 工作表“试题” 第1行 答按: 未知的列 '答按'")
    assert problems[2] == "bank.xlsx 工作表“试题” 第1行: 缺少必填的列：题型(单选/多选/判断)、答案"


def test_blueprint_rows_and_the_blueprint_as_a_whole_are_checked():
    data = _book({
        "试题": [_item_row(编号="S1", 题型="单选", 题干="甲", 选项A="a", 选项B="b", 答案="A")],
        "鉴定要素": [["BP", "A", "基本要求", None, None, None, None, "A-1", "守则", "X", 70],
                    ["BP", "A", "别的名字", None, None, None, None, "A-2", "安全", None, 20]],
        "试卷结构": [["BP", "单选", 1]],
        "组卷单元": [["BP", "A", "单选", 100]],
    })  # fmt: skip
    assert _problems(data) == [
        "bank.xlsx 工作表“鉴定要素” 第3行 一级范围代码: 鉴定范围 A 与前面的行不一致（名称或上级范围不同）",
        "bank.xlsx 工作表“鉴定要素” 第3行 重要程度(X/Y/Z): 鉴定点的重要程度不能为空，应为 X、Y 或 Z",
    ]
    data = _book({
        "试题": [_item_row(编号="S1", 题型="单选", 题干="甲", 选项A="a", 选项B="b", 答案="A")],
        "鉴定要素": [["BP", "A", "基本要求", None, None, None, None, "A-1", "守则", "X", 70]],
        "试卷结构": [["BP", "单选", 1]],
        "组卷单元": [["BP", "A", "单选", 90]],
    })  # fmt: skip
    assert _problems(data) == [
        "bank.xlsx 工作表“鉴定要素”: 细目表 'BP'：鉴定点比重合计 70%，应为 100%",
        "bank.xlsx 工作表“鉴定要素”: 细目表 'BP'：试卷总分为 90 分（单选 90 题 × 1 分），应为 100 分",
    ]


def test_html_in_cells_is_kept_and_sanitised():
    data = _book({"试题": [_item_row(编号="H", 题型="单选", 题干='<p>看<b>图</b><script>x</script></p>',
                                     选项A="a &lt; b", 选项B="a < b", 答案="A")]})  # fmt: skip
    (item,) = import_xlsx("h.xlsx", data).items
    assert item.stem == "<p>看<b>图</b></p>"
    assert [o.text for o in item.options] == ["a &lt; b", "a &lt; b"]


def test_meta_sheet_maps_to_bank_metadata():
    data = _book({
        "基本信息": [["题库编号", "IRAP-M"], ["证书项目代码", "IRAP"], ["证书项目", "工业机器人应用编程"],
                 ["等级", "中级"], ["版本", 2], ["发布机构", "示例评价组织"]],
        "试题": [_item_row(编号="S1", 题型="单选", 题干="甲", 选项A="a", 选项B="b", 答案="A")],
    })  # fmt: skip
    assert import_xlsx("m.xlsx", data).meta == {
        "bank": "IRAP-M", "programme": {"code": "IRAP", "name": "工业机器人应用编程"}, "level": "中级",
        "version": 2, "issuer": {"code": "", "name": "示例评价组织"},
    }  # fmt: skip


def test_a_workbook_without_items_or_tasks_is_refused():
    assert _problems(_book({"试题": []})) == [
        "bank.xlsx 工作表“试题”: 工作簿中没有试题，也没有实操任务"
    ]


def test_garbled_and_truncated_xlsx_never_crashes():
    good = xlsx_template()
    rng = random.Random(3)
    samples = [good[:n] for n in range(0, len(good), len(good) // 40)]
    for _ in range(60):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        samples.append(bytes(data))
    for data in samples:
        try:
            import_xlsx("fuzz.xlsx", data)
        except BankImportError as exc:
            assert exc.problems and all(p.message for p in exc.problems)


def test_a_zip_bomb_is_refused_before_it_is_read():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", b"<workbook>" + b" " * (8 * 1024 * 1024) + b"</workbook>")
    assert detect_format("bomb.xlsx", out.getvalue()) == "xlsx"
    assert _problems(out.getvalue()) == [
        "bank.xlsx: ZIP 中的 xl/workbook.xml 压缩比异常，疑似压缩炸弹，已拒绝"
    ]
