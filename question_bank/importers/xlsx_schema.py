"""The XLSX bank template's layout: its sheets and columns, the words its cells may use, and how
a cell's text becomes HTML. Declared once here; the importer reads and the exporter writes it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from question_bank.items import OPTION_KEYS, ItemType, Status
from question_bank.richtext import plain_to_html, sanitize_html


@dataclass(frozen=True)
class Column:
    key: str  # the header without spaces or a bracketed hint: "时长(分钟)" -> "时长"
    header: str  # as the template prints it
    required: bool = False


def normalise(header) -> str:
    return re.sub(r"\s+|[(（].*?[)）]", "", str(header or ""))


def _cols(spec: str) -> list[Column]:
    """``"题目编号* 版本 题型(单选/多选/判断)*"`` -> columns (``*`` marks a required one)."""
    return [Column(normalise(h.rstrip("*")), h.rstrip("*"), h.endswith("*")) for h in spec.split()]


META, ITEMS, TASKS, CRITERIA = "基本信息", "试题", "实操任务", "评分细则"
BLUEPRINTS, POINTS, SECTIONS, CELLS, HELP = "细目表", "鉴定要素", "试卷结构", "组卷单元", "说明"
SCOPE_LEVELS = ("一级", "二级", "三级")
SHEETS: dict[str, list[Column]] = {
    META: _cols("项目* 内容"),
    ITEMS: _cols("题目编号* 版本 题型(单选/多选/判断)* 题干* "
                 + " ".join(f"选项{k}" for k in OPTION_KEYS)
                 + " 答案* 鉴定点 重要程度(X/Y/Z) 认知层次 难度(0-1) 状态(启用/停用) 解析 标题 标签 选项分值"),
    TASKS: _cols("任务编号* 版本 任务名称* 任务说明* 时长(分钟) 鉴定点 重要程度(X/Y/Z) 设备材料 状态(启用/停用)"),
    CRITERIA: _cols("任务编号* 评分项编号* 评分项* 配分 否决项(是/否)"),
    BLUEPRINTS: _cols("细目表名称* 标题 总分 附加信息(JSON)"),
    POINTS: _cols("细目表名称* " + " ".join(f"{lv}范围代码 {lv}范围名称" for lv in SCOPE_LEVELS)
                  + " 鉴定点代码 鉴定点名称 重要程度(X/Y/Z) 比重(%)"),
    SECTIONS: _cols("细目表名称* 题型(单选/多选/判断)* 每题分值*"),
    CELLS: _cols("细目表名称* 鉴定范围代码* 题型(单选/多选/判断)* 题量*"),
}  # fmt: skip
META_FIELDS = {"题库编号": "bank", "题库名称": "name", "证书项目代码": "programme.code",
               "证书项目": "programme.name", "职业": "occupation", "职业方向": "direction",
               "等级": "level", "版本": "version", "发布机构代码": "issuer.code",
               "发布机构": "issuer.name"}  # fmt: skip
TYPE_NAMES = {"单选": ItemType.SINGLE_CHOICE, "单选题": ItemType.SINGLE_CHOICE,
              "单项选择题": ItemType.SINGLE_CHOICE, "多选": ItemType.MULTIPLE_CHOICE,
              "多选题": ItemType.MULTIPLE_CHOICE, "多项选择题": ItemType.MULTIPLE_CHOICE,
              "判断": ItemType.TRUE_FALSE, "判断题": ItemType.TRUE_FALSE,
              **{t.value: t for t in ItemType}}  # fmt: skip
TRUE_WORDS = {"对", "√", "✓", "正确", "T", "TRUE", "是"}
FALSE_WORDS = {"错", "×", "✗", "x", "X", "错误", "F", "FALSE", "否"}
STATUS_NAMES = {"启用": Status.ACTIVE, "停用": Status.RETIRED, "active": Status.ACTIVE,
                "retired": Status.RETIRED}  # fmt: skip
TYPE_HINT = "单选、多选 或 判断"
YES, NO = {"是", "Y", "YES", "TRUE", "√", "1"}, {"否", "N", "NO", "FALSE", "", "0"}
_HTML = re.compile(
    r"<(p|br|b|strong|i|em|u|sub|sup|span|div|ul|ol|li|table|thead|tbody|tr|th|td|img|pre|code|"
    r"blockquote|hr)\b[^>]*>|&(#\d+|#x[0-9a-f]+|[a-z]+);",
    re.I,
)


def looks_like_html(text: str) -> bool:
    return bool(_HTML.search(text))


def cell_html(text: str) -> str:
    """A cell's text as sanitised HTML: HTML as written, anything else as plain text."""
    return sanitize_html(text if looks_like_html(text) else plain_to_html(text))
