"""Moodle XML (``<quiz><question type="...">``), the format Moodle's question bank exports.

``multichoice`` (one answer or several) and ``truefalse`` become items; ``category`` entries
become tags of the questions after them; every other question type is refused by name and line.
Images embedded as ``<file encoding="base64">`` and referenced as ``@@PLUGINFILE@@/name`` are
stored as ``media/name``. See ``docs/import-formats.md``.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote
from xml.etree.ElementTree import Element, tostring

from question_bank.errors import BankImportError, Problem
from question_bank.importers import (
    blank_html,
    category_tag,
    check_unique_uids,
    describe,
    fallback_uid,
    join_html,
    local_name,
    media_key,
    parse_xml,
)
from question_bank.items import OPTION_KEYS, BankContent, Item, ItemType, Option
from question_bank.richtext import html_to_text, to_html

_FORMATS = {"html": "html", "moodle_auto_format": "moodle", "plain_text": "plain",
            "markdown": "markdown"}  # fmt: skip
_KIND = {
    "essay": "问答题", "matching": "匹配题", "numerical": "数值题", "shortanswer": "简答题",
    "description": "说明文字（不是试题）", "multianswer": "完形填空（嵌入式答案）题",
    "calculated": "计算题", "calculatedsimple": "计算题", "calculatedmulti": "计算选择题",
    "ddwtos": "拖放填空题", "gapselect": "选择填空题", "ddmatch": "拖放匹配题",
    "ddimageortext": "图片拖放题", "ddmarker": "标记拖放题", "randomsamatch": "随机匹配题",
    "ordering": "排序题", "random": "随机抽题占位", "cloze": "完形填空题",
}  # fmt: skip
_PLUGINFILE = re.compile(r"@@PLUGINFILE@@/([^\"'\s>?#]+)")
_TRUE = {"true", "1", "yes"}


class _Refused(ValueError):
    """A question that cannot be imported, with a message naming it."""


def import_moodle_xml(filename: str, data: bytes) -> BankContent:
    """Items from a Moodle XML question export, all or nothing."""
    root, lines = parse_xml(filename, data)
    if local_name(root.tag) != "quiz":
        raise BankImportError(
            [
                Problem(
                    filename,
                    f"根元素是 <{local_name(root.tag)}>，Moodle XML 的根元素应为 <quiz>",
                    1,
                )
            ]
        )
    problems: list[Problem] = []
    items: list[Item] = []
    item_lines: dict[int, int] = {}
    media: dict[str, bytes] = {}
    category = ""
    for node in root:
        if local_name(node.tag) != "question":
            continue
        qtype = (node.get("type") or "").strip()
        line = lines.get(node)
        if qtype == "category":
            category = category_tag(_text(node, "category"))
            continue
        try:
            item = _item(node, qtype, category, media)
        except _Refused as exc:
            problems.append(Problem(filename, str(exc), line))
            continue
        item_lines[len(items)] = line
        items.append(item)
    check_unique_uids(items, problems, filename, item_lines)
    if not items and not problems:
        problems.append(Problem(filename, "文件中没有试题（<question>）"))
    if problems:
        raise BankImportError(problems)
    return BankContent(items=items, media=media, format="moodle_xml")


def _child(node: Element, name: str) -> Element | None:
    for child in node:
        if local_name(child.tag) == name:
            return child
    return None


def _text(node: Element, name: str) -> str:
    """The ``<text>`` of child ``name`` (or of ``node`` itself when ``name`` is empty)."""
    holder = _child(node, name) if name else node
    if holder is None:
        return ""
    text = _child(holder, "text")
    return ((text.text if text is not None else holder.text) or "").strip()


def _rich(node: Element, name: str, files: dict[str, bytes], media: dict[str, bytes],
          who: str) -> str:  # fmt: skip
    """Sanitised HTML of child ``name``, its images moved into ``media``."""
    holder = _child(node, name) if name else node
    if holder is None:
        return ""
    for f in holder:
        if local_name(f.tag) == "file" and f.get("name"):
            if (f.get("encoding") or "base64") != "base64":
                raise _Refused(f"试题 {who} 的文件 {f.get('name')} 不是 base64 编码")
            try:
                files[f.get("name")] = base64.b64decode(
                    "".join((f.text or "").split()), validate=True
                )
            except (binascii.Error, ValueError):
                raise _Refused(f"试题 {who} 的文件 {f.get('name')} 的 base64 内容已损坏") from None
    text = _text(holder, "")

    def move(match: re.Match) -> str:
        name = unquote(match.group(1))
        if name not in files:
            raise _Refused(f'试题 {who} 引用的图片 {name} 不在文件中（缺少 <file name="{name}">）')
        return media_key(name, files[name], media)

    text = _PLUGINFILE.sub(move, text)
    fmt = _FORMATS.get(holder.get("format") or "html", "html")
    return to_html(text, fmt) if text else ""


def _item(node: Element, qtype: str, category: str, media: dict[str, bytes]) -> Item:
    name = _text(node, "name")
    files: dict[str, bytes] = {}
    raw_stem = _text(node, "questiontext")
    who = describe(name, stem_text=html_to_text(to_html(raw_stem)))
    if qtype not in ("multichoice", "truefalse"):
        kind = _KIND.get(qtype, f"“{qtype or '（未注明类型）'}”类型的题")
        raise _Refused(
            f"{kind} {who} 不支持：本系统只导入单选（multichoice）、多选和判断（truefalse）题"
        )
    local_media: dict[str, bytes] = dict(media)
    stem = _rich(node, "questiontext", files, local_media, who)
    if blank_html(stem):
        raise _Refused(f"试题 {who} 的题干为空")
    explanation = [_rich(node, "generalfeedback", files, local_media, who)]
    answers = []
    for n, answer in enumerate(a for a in node if local_name(a.tag) == "answer"):
        try:
            fraction = float(answer.get("fraction") or 0)
        except ValueError:
            raise _Refused(
                f"试题 {who} 第{n + 1}个答案的 fraction '{answer.get('fraction')}' 不是数字"
            ) from None
        text = _rich(answer, "", files, local_media, who)
        feedback = _rich(answer, "feedback", files, local_media, who)
        answers.append((fraction, text, feedback))
    idnumber = _text(node, "idnumber")
    tags = [category] if category else []
    tags_node = _child(node, "tags")
    for tag in tags_node if tags_node is not None else ():
        if local_name(tag.tag) == "tag" and _text(tag, ""):
            tags.append(_text(tag, ""))
    common = dict(
        uid=idnumber or name or fallback_uid("moodle", tostring(node, encoding="unicode")),
        stem=stem, title=name or None, tags=tuple(dict.fromkeys(tags)),
    )  # fmt: skip
    if qtype == "truefalse":
        item = _true_false(who, answers, explanation, common)
    else:
        item = _choice(node, who, answers, explanation, common)
    media.update(local_media)  # only once the whole question is good
    return item


def _true_false(who: str, answers, explanation: list[str], common: dict) -> Item:
    truth = {}
    for fraction, text, feedback in answers:
        word = html_to_text(text).lower()
        if word not in ("true", "false"):
            raise _Refused(f"判断题 {who} 的答案应为 true 和 false，而不是 '{word}'")
        truth[word] = fraction
        if feedback:
            label = "答“对”时" if word == "true" else "答“错”时"
            explanation.append(f"<p>{label}：{feedback}</p>")
    correct = [w for w, f in truth.items() if f >= 100]
    if len(correct) != 1:
        raise _Refused(f"判断题 {who} 应有且只有一个 fraction=100 的答案（true 或 false）")
    answer = ("T",) if correct[0] == "true" else ("F",)
    return Item(
        type=ItemType.TRUE_FALSE, answer=answer, explanation=join_html(explanation), **common
    )


def _choice(node: Element, who: str, answers, explanation: list[str], common: dict) -> Item:
    single = (_text(node, "single") or "true").lower() in _TRUE
    if len(answers) > len(OPTION_KEYS):
        raise _Refused(f"试题 {who} 有 {len(answers)} 个选项，最多 {len(OPTION_KEYS)} 个")
    if len(answers) < 2:
        raise _Refused(f"选择题 {who} 只有 {len(answers)} 个选项，至少要 2 个")
    options = []
    for key, (fraction, text, feedback) in zip(OPTION_KEYS, answers, strict=False):
        if not -100 <= fraction <= 100:
            raise _Refused(f"试题 {who} 选项{key}的 fraction {fraction:g} 超出 -100～100")
        if blank_html(text):
            raise _Refused(f"试题 {who} 选项{key}的内容为空")
        partial = fraction not in (0, 100) if single else fraction != 0
        options.append(Option(key, text, fraction if partial else None))
        if feedback:
            explanation.append(f"<p>{key}：{feedback}</p>")
    if single:
        full = tuple(o.key for o, (f, _, _) in zip(options, answers, strict=True) if f >= 100)
        if len(full) != 1:
            raise _Refused(
                f"单选题 {who} 应有且只有一个满分（fraction=100）选项，现有 {len(full)} 个"
            )
        return Item(type=ItemType.SINGLE_CHOICE, answer=full, options=tuple(options),
                    explanation=join_html(explanation), **common)  # fmt: skip
    positive = tuple(o.key for o, (f, _, _) in zip(options, answers, strict=True) if f > 0)
    if len(positive) < 2:
        raise _Refused(
            f"多选题 {who} 只有 {len(positive)} 个得分选项；多选题至少要 2 个正确选项"
            "（只有一个正确选项请改为单选）"
        )
    return Item(type=ItemType.MULTIPLE_CHOICE, answer=positive, options=tuple(options),
                explanation=join_html(explanation), **common)  # fmt: skip
