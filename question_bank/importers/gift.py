"""GIFT, Moodle's plain-text question format: turning parsed questions into items.

Two steps: :func:`parse_gift` (in :mod:`question_bank.importers.gift_grammar`) reads the text
into :class:`GiftQuestion` records that keep what the file says, then :func:`import_gift` turns
the supported ones into items. Single choice, multiple choice and true/false are supported; every
other kind of question (essay, matching, numerical, short answer, description, answers embedded
in the stem) makes the whole import fail with one problem per such question.
``docs/import-formats.md`` has the rules.
"""

from __future__ import annotations

from question_bank.errors import BankImportError, Problem
from question_bank.importers import (
    blank_html,
    category_tag,
    check_unique_uids,
    decode_text,
    describe,
    fallback_uid,
    join_html,
)
from question_bank.importers.gift_grammar import GiftChoice, GiftQuestion, GiftText, parse_gift
from question_bank.items import OPTION_KEYS, BankContent, Item, ItemType, Option
from question_bank.richtext import html_to_text, to_html

__all__ = ["GiftChoice", "GiftQuestion", "GiftText", "import_gift", "parse_gift", "to_item"]

_KIND = {"Essay": "问答题", "Matching": "匹配题", "Numerical": "数值题", "Short": "简答（填空）题"}


def import_gift(filename: str, data: bytes) -> BankContent:
    """Items from a GIFT file (UTF-8 or GBK), all or nothing."""
    text = decode_text(filename, data)
    questions, problems = parse_gift(text, filename)
    items: list[Item] = []
    lines: dict[int, int] = {}
    for q in questions:
        if q.type == "Category":
            continue
        try:
            item = to_item(q)
        except ValueError as exc:
            problems.append(Problem(filename, str(exc), q.line))
            continue
        lines[len(items)] = q.line
        items.append(item)
    check_unique_uids(items, problems, filename, lines)
    if not items and not problems:
        problems.append(Problem(filename, "文件中没有试题"))
    if problems:
        raise BankImportError(sorted(problems, key=lambda p: p.line or 0))
    return BankContent(items=items, format="gift")


def _html(t: GiftText | None) -> str:
    return to_html(t.text, t.format) if t and t.text else ""


def to_item(q: GiftQuestion) -> Item:
    """The item for a supported question; ``ValueError`` (one Chinese sentence) otherwise."""
    name = describe(q.title, stem_text=html_to_text(_html(q.stem)) if q.stem else "")
    if q.type == "Description":
        raise ValueError(
            f"说明文字 {name} 不是试题（没有答案）：本系统只导入单选、多选和判断题，请删除后再导入"
        )
    if q.type in _KIND:
        raise ValueError(f"{_KIND[q.type]} {name} 不支持：本系统只导入单选、多选和判断题")
    if q.has_embedded_answers:
        raise ValueError(
            f"试题 {name} 的答案嵌在题干中间（填空式），不支持；请把答案区 {{…}} 移到题干末尾"
        )
    stem = _html(q.stem)
    if blank_html(stem):
        raise ValueError(f"试题 {name} 的题干为空")
    explanation = [_html(q.global_feedback)]
    tags = [category_tag(q.category)] if q.category and category_tag(q.category) else []
    uid = q.id or q.title or fallback_uid("gift", q.source)
    common = dict(
        uid=uid, stem=stem, title=q.title, tags=tuple(dict.fromkeys(tags + (q.tags or [])))
    )
    if q.type == "TF":
        for label, fb in (("答“对”时", q.true_feedback), ("答“错”时", q.false_feedback)):
            explanation.append(f"<p>{label}：{_html(fb)}</p>" if fb else "")
        answer = ("T",) if q.is_true else ("F",)
        return Item(
            type=ItemType.TRUE_FALSE, answer=answer, explanation=join_html(explanation), **common
        )
    choices = q.choices or []
    if len(choices) > len(OPTION_KEYS):
        raise ValueError(f"试题 {name} 有 {len(choices)} 个选项，最多 {len(OPTION_KEYS)} 个")
    if len(choices) < 2:
        raise ValueError(f"选择题 {name} 只有 {len(choices)} 个选项，至少要 2 个")
    options = []
    for key, c in zip(OPTION_KEYS, choices, strict=False):
        if c.weight is not None and not -100 <= c.weight <= 100:
            raise ValueError(f"试题 {name} 选项{key}的权重 {c.weight:g}% 超出 -100%～100%")
        options.append(Option(key, _html(c.text), c.weight))
        if blank_html(options[-1].text):
            raise ValueError(f"试题 {name} 选项{key}的内容为空")
        if c.feedback:
            explanation.append(f"<p>{key}：{_html(c.feedback)}</p>")
    item_type, answer = _answer(name, choices)
    return Item(type=item_type, answer=answer, options=tuple(options),
                explanation=join_html(explanation), **common)  # fmt: skip


def _answer(name: str, choices: list[GiftChoice]) -> tuple[ItemType, tuple[str, ...]]:
    keyed = list(zip(OPTION_KEYS, choices, strict=False))
    marked = [k for k, c in keyed if c.is_correct]
    positive = [k for k, c in keyed if not c.is_correct and (c.weight or 0) > 0]
    if len(marked) == 1:
        return ItemType.SINGLE_CHOICE, tuple(marked)
    if marked:
        if positive:
            raise ValueError(f"试题 {name} 同时用 '=' 和正的百分比权重标记答案，无法判断正确选项")
        return ItemType.MULTIPLE_CHOICE, tuple(marked)
    if len(positive) >= 2:
        return ItemType.MULTIPLE_CHOICE, tuple(positive)
    if len(positive) == 1 and dict(keyed)[positive[0]].weight == 100:
        return ItemType.SINGLE_CHOICE, tuple(positive)
    if positive:
        raise ValueError(f"试题 {name} 只有一个得分选项且不是满分（100%），不能作为单选或多选题")
    raise ValueError(f"试题 {name} 没有正确选项（用 = 标记正确选项，或用 %50% 这样的正权重）")
