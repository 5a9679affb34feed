"""IMS QTI 2.1 and 2.2: single ``assessmentItem`` files and content packages (zip).

An item with one ``choiceInteraction`` becomes a single choice (``maxChoices="1"``) or multiple
choice item (``maxChoices`` 0 or more than 1); two choices reading true/false (对/错, 正确/错误)
make a true/false item. Any other interaction is refused, naming the item's identifier. In a
content package, ``imsmanifest.xml`` lists the items (resource types ``imsqti_item_xmlv2p1`` and
``imsqti_item_xmlv2p2``) and the images they show become ``media/...``.
"""

from __future__ import annotations

import html
import posixpath
import re
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from question_bank.errors import BankImportError, Problem
from question_bank.importers import (
    QTI_NAMESPACES,
    blank_html,
    check_unique_uids,
    join_html,
    local_name,
    namespace,
    parse_xml,
    qti_manifest,
    read_zip,
)
from question_bank.items import OPTION_KEYS, BankContent, Item, ItemType, Option
from question_bank.richtext import html_to_text, sanitize_html

ITEM_TYPES = {"imsqti_item_xmlv2p1": "2.1", "imsqti_item_xmlv2p2": "2.2"}
_SKIPPED = {"feedbackInline", "feedbackBlock", "rubricBlock", "templateInline", "templateBlock",
            "printedVariable", "responseProcessing"}  # fmt: skip
_VOID = {"img", "br", "hr"}
_TRUE_FALSE = [({"true", "false"}, "true"), ({"对", "错"}, "对"), ({"正确", "错误"}, "正确"),
               ({"√", "×"}, "√")]  # fmt: skip
_MAX_DEPTH = 200
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


class _Refused(ValueError):
    pass


def import_qti(filename: str, data: bytes) -> BankContent:
    """Items from a QTI 2.1/2.2 item file or content package, all or nothing."""
    if data[:2] == b"PK":
        return _package(filename, data)
    root, lines = parse_xml(filename, data)
    name = local_name(root.tag)
    if name == "questestinterop":
        why = "这是 QTI 1.x（questestinterop），不支持；请导出为 QTI 2.1 或 2.2"
    elif name == "assessmentTest":
        why = ("assessmentTest 只引用其他文件中的试题；请把测验连同试题和图片导出为 "
               "IMS 内容包（含 imsmanifest.xml 的 zip）后导入")  # fmt: skip
    elif name != "assessmentItem":
        why = f"根元素是 <{name}>，QTI 试题的根元素应为 <assessmentItem>"
    else:
        item = _convert(filename, root, lines, files=None, base="", media={})
        return BankContent(items=[item], format="qti")
    raise BankImportError([Problem(filename, why, 1)])


def _package(filename: str, data: bytes) -> BankContent:
    files = read_zip(filename, data)
    manifest_path = qti_manifest(files)
    if manifest_path is None:
        raise BankImportError([Problem(filename, "不是 QTI 内容包：根目录下没有 imsmanifest.xml")])
    manifest_name = f"{filename}/{manifest_path}"
    folder = manifest_path[: -len("imsmanifest.xml")]  # "" or the one folder that was zipped
    files = {name[len(folder) :]: body for name, body in files.items() if name.startswith(folder)}
    manifest, manifest_lines = parse_xml(manifest_name, files["imsmanifest.xml"])
    problems: list[Problem] = []
    items: list[Item] = []
    media: dict[str, bytes] = {}
    for resources in (el for el in manifest.iter() if local_name(el.tag) == "resources"):
        base = resources.get(_XML_BASE) or ""
        for res in (el for el in resources if local_name(el.tag) == "resource"):
            kind, name = (res.get("type") or "").strip(), res.get("identifier")
            line = manifest_lines.get(res)
            if kind.startswith("imsqti_test") or not kind.startswith("imsqti"):
                continue  # tests (sections, ordering) and plain web content carry no items
            href = unquote(res.get("href") or "")
            path = posixpath.normpath(posixpath.join(base, res.get(_XML_BASE) or "", href))
            if kind not in ITEM_TYPES:
                why = f"资源 {name} 的类型 {kind} 不支持（仅支持 QTI 2.1/2.2 试题）"
            elif not href or path not in files:
                why = f"资源 {name} 的文件 '{href}' 不在内容包中"
            else:
                try:
                    items.append(_member(f"{filename}/{folder}{path}", files, path, media))
                except BankImportError as exc:
                    problems.extend(exc.problems)
                continue
            problems.append(Problem(manifest_name, why, line, "resource"))
    if not items and not problems:
        problems.append(
            Problem(filename, "内容包中没有 QTI 2.1/2.2 试题（imsqti_item_xmlv2p1/v2p2 资源）")
        )
    check_unique_uids(items, problems, filename, {})
    if problems:
        raise BankImportError(problems)
    return BankContent(items=items, media=media, format="qti")


def _member(member: str, files: dict[str, bytes], path: str, media: dict[str, bytes]) -> Item:
    root, lines = parse_xml(member, files[path])
    if local_name(root.tag) != "assessmentItem":
        why = f"根元素是 <{local_name(root.tag)}>，应为 <assessmentItem>"
        raise BankImportError([Problem(member, why, 1)])
    return _convert(member, root, lines, files, posixpath.dirname(path), media)


def _convert(filename: str, root: Element, lines: dict, files: dict | None, base: str,
             media: dict[str, bytes]) -> Item:  # fmt: skip
    ns = namespace(root.tag)
    ident = (root.get("identifier") or "").strip()
    line = lines.get(root, 1)

    def refuse(message: str, at: Element | None = None) -> BankImportError:
        return BankImportError(
            [Problem(filename, message, lines.get(at, line) if at is not None else line)]
        )

    if ns not in QTI_NAMESPACES:
        raise refuse(
            f"命名空间 '{ns or '（无）'}' 不是 QTI 2.1 或 2.2（{' 或 '.join(QTI_NAMESPACES)}）"
        )
    if not ident:
        raise refuse("assessmentItem 缺少 identifier")
    who = f"“{ident}”"
    body = _first(root, "itemBody")
    interactions = [
        el
        for el in (body.iter() if body is not None else ())
        if local_name(el.tag).endswith("Interaction")
    ]
    others = sorted({local_name(el.tag) for el in interactions} - {"choiceInteraction"})
    if others:
        raise refuse(
            f"试题 {who} 含 {'、'.join(others)}，不支持：只支持 choiceInteraction（单选、多选、判断）",
            interactions[0],
        )
    if len(interactions) != 1:
        raise refuse(f"试题 {who} 应有且只有一个 choiceInteraction，现有 {len(interactions)} 个")
    ci = interactions[0]
    decl = next((d for d in root if local_name(d.tag) == "responseDeclaration"
                 and d.get("identifier") == ci.get("responseIdentifier")), None)  # fmt: skip
    if decl is None:
        raise refuse(
            f"试题 {who} 没有与 responseIdentifier '{ci.get('responseIdentifier')}' 对应的 responseDeclaration",
            ci,
        )
    correct_node = _first(decl, "correctResponse")
    correct = [
        (v.text or "").strip()
        for v in (correct_node if correct_node is not None else ())
        if local_name(v.tag) == "value"
    ]
    try:
        max_choices = int(ci.get("maxChoices", "1"))
    except ValueError:
        raise refuse(f"试题 {who} 的 maxChoices '{ci.get('maxChoices')}' 不是整数", ci) from None
    render = _Renderer(files, base, media, who)
    try:
        prompt = _first(ci, "prompt")
        stem = sanitize_html(
            render.inner(
                body, replace={ci: f"<p>{render.inner(prompt)}</p>" if prompt is not None else ""}
            )
        )
        choices = [
            (c.get("identifier"), sanitize_html(render.inner(c)))
            for c in ci
            if local_name(c.tag) == "simpleChoice"
        ]
        feedback = [
            sanitize_html(render.inner(f)) for f in root if local_name(f.tag) == "modalFeedback"
        ]
    except _Refused as exc:
        raise refuse(str(exc)) from None
    if blank_html(stem):
        raise refuse(f"试题 {who} 的题干为空")
    if not 2 <= len(choices) <= len(OPTION_KEYS):
        raise refuse(f"试题 {who} 有 {len(choices)} 个选项，应为 2～{len(OPTION_KEYS)} 个", ci)
    empty = [key for key, (_, text) in zip(OPTION_KEYS, choices, strict=False) if blank_html(text)]
    if empty:
        raise refuse(f"试题 {who} 的选项{'、'.join(empty)}内容为空", ci)
    keys = {cid: key for key, (cid, _) in zip(OPTION_KEYS, choices, strict=False)}
    unknown = [v for v in correct if v not in keys]
    if unknown:
        raise refuse(
            f"试题 {who} 的正确答案 {'、'.join(unknown)} 不是任何 simpleChoice 的 identifier", decl
        )
    answer = tuple(sorted({keys[v] for v in correct}))
    common = dict(uid=ident, stem=stem, title=(root.get("title") or "").strip() or None,
                  explanation=join_html(feedback))  # fmt: skip
    if max_choices == 1:
        if len(answer) != 1:
            raise refuse(
                f"单选题 {who}（maxChoices=1）应有且只有一个正确答案，现有 {len(answer)} 个", decl
            )
        truth = _true_false(choices)
        if truth is not None:
            return Item(
                type=ItemType.TRUE_FALSE, answer=("T",) if truth == answer[0] else ("F",), **common
            )
        return Item(type=ItemType.SINGLE_CHOICE, answer=answer, options=_options(choices), **common)
    if len(answer) < 2:
        raise refuse(
            f"多选题 {who} 只有 {len(answer)} 个正确答案；多选题至少要 2 个（只有一个请设 maxChoices=1）",
            decl,
        )
    if max_choices > 1 and len(answer) > max_choices:
        raise refuse(f"多选题 {who} 有 {len(answer)} 个正确答案，超过 maxChoices={max_choices}", ci)
    return Item(type=ItemType.MULTIPLE_CHOICE, answer=answer, options=_options(choices), **common)


def _first(node: Element, name: str) -> Element | None:
    return next((c for c in node if local_name(c.tag) == name), None)


def _options(choices) -> tuple[Option, ...]:
    return tuple(Option(key, text) for key, (_, text) in zip(OPTION_KEYS, choices, strict=False))


def _true_false(choices) -> str | None:
    """The key of the "true" choice when the two choices read true/false, else None."""
    if len(choices) != 2:
        return None
    words = [re.sub(r"[\s。.!！]", "", html_to_text(text)).lower() for _, text in choices]
    for pair, true_word in _TRUE_FALSE:
        if set(words) == pair:
            return OPTION_KEYS[words.index(true_word)]
    return None


class _Renderer:
    """XHTML inside QTI elements, as an HTML string with images resolved into ``media``."""

    def __init__(self, files: dict | None, base: str, media: dict[str, bytes], who: str):
        self.files, self.base, self.media, self.who = files, base, media, who

    def inner(self, node: Element | None, replace: dict | None = None, depth: int = 0) -> str:
        if node is None:
            return ""
        if depth > _MAX_DEPTH:
            raise _Refused(f"试题 {self.who} 的内容嵌套超过 {_MAX_DEPTH} 层")
        parts = [html.escape(node.text or "", quote=False)]
        for child in node:
            if replace and child in replace:
                parts.append(replace[child])
            elif local_name(child.tag) not in _SKIPPED and isinstance(child.tag, str):
                parts.append(self.element(child, replace, depth + 1))
            parts.append(html.escape(child.tail or "", quote=False))
        return "".join(parts)

    def element(self, node: Element, replace: dict | None, depth: int) -> str:
        name = local_name(node.tag)
        attrs = {local_name(k): v for k, v in node.attrib.items()}
        if name == "img":
            attrs["src"] = self.image(attrs.get("src", ""))
        text = "".join(f' {k}="{html.escape(v)}"' for k, v in attrs.items())
        if name in _VOID:
            return f"<{name}{text}>"
        return f"<{name}{text}>{self.inner(node, replace, depth)}</{name}>"

    def image(self, src: str) -> str:
        if src.startswith("data:image/"):
            return src
        if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I):
            raise _Refused(
                f"试题 {self.who} 的图片 {src} 指向外部地址；考点没有网络，图片须放在内容包中"
            )
        if self.files is None:
            raise _Refused(
                f"试题 {self.who} 的图片 {src} 不在单个 XML 文件中；请以内容包（zip）导入"
            )
        path = posixpath.normpath(posixpath.join(self.base, unquote(src)))
        if path not in self.files:
            raise _Refused(f"试题 {self.who} 的图片 {src} 不在内容包中")
        key = "media/" + re.sub(r'[\x00-\x1f\x7f\\:*?"<>|]', "_", path)
        self.media[key] = self.files[path]
        return key
