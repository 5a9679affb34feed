"""The GIFT grammar: reading Moodle's plain-text question format into GiftQuestion records.

The records keep what the file says, in the same shape as the reference GIFT grammar's parse
(see :meth:`GiftQuestion.to_reference`); which of them become items is decided in
:mod:`question_bank.importers.gift`. ``docs/import-formats.md`` has the rules.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from question_bank.errors import Problem
from question_bank.importers import describe

_FORMAT = re.compile(r"\s*\[(html|moodle|plain|markdown)\]")
_WEIGHT = re.compile(r"\s*%(-?\d+(?:\.\d*)?)%")
_NUMBER = r"[+-]?\d+(?:\.\d+)?"
_NUMERIC = re.compile(rf"\s*({_NUMBER})(?::({_NUMBER})|\.\.({_NUMBER}))?\s*")
_TF = re.compile(r"\s*(TRUE|FALSE|T|F)(?=\s*(?:#|$))", re.I | re.S)
_ESCAPES = {"\\": "\\", ":": ":", "~": "~", "=": "=", "#": "#", "[": "[", "]": "]", "{": "{",
            "}": "}", "n": "\n"}  # fmt: skip


@dataclass
class GiftText:
    format: str  # html, moodle, plain or markdown
    text: str

    def ref(self) -> dict:
        return {"format": self.format, "text": self.text}


@dataclass
class GiftChoice:
    is_correct: bool
    weight: float | None
    text: GiftText | dict  # numerical answers: {"type": "simple"|"range"|"high-low", ...}
    feedback: GiftText | None = None

    def ref(self) -> dict:
        text = self.text.ref() if isinstance(self.text, GiftText) else self.text
        feedback = self.feedback.ref() if self.feedback else None
        return {"isCorrect": self.is_correct, "weight": self.weight, "text": text,
                "feedback": feedback}  # fmt: skip


@dataclass
class GiftQuestion:
    """One parsed block: a question, a description or a ``$CATEGORY``."""

    type: str  # MC, TF, Short, Essay, Matching, Numerical, Description, Category
    line: int
    title: str | None = None
    id: str | None = None
    tags: list[str] | None = None
    stem: GiftText | None = None
    has_embedded_answers: bool = False
    global_feedback: GiftText | None = None
    choices: list[GiftChoice] | dict | None = None
    is_true: bool | None = None
    true_feedback: GiftText | None = None
    false_feedback: GiftText | None = None
    match_pairs: list[tuple[GiftText, str]] = field(default_factory=list)
    category: str | None = None  # the $CATEGORY in force
    source: str = ""  # the block as written (comments left out), for fallback uids

    def to_reference(self) -> dict:
        """This question in the JSON shape of the reference GIFT grammar's parse."""
        if self.type == "Category":
            return {"type": "Category", "title": self.title}
        out = {"id": self.id, "tags": self.tags, "type": self.type, "title": self.title,
               "stem": self.stem.ref() if self.stem else None,
               "hasEmbeddedAnswers": self.has_embedded_answers}  # fmt: skip
        if self.type == "Description":
            return out
        out["globalFeedback"] = self.global_feedback.ref() if self.global_feedback else None
        if self.type == "TF":
            out["isTrue"] = self.is_true
            out["trueFeedback"] = self.true_feedback.ref() if self.true_feedback else None
            out["falseFeedback"] = self.false_feedback.ref() if self.false_feedback else None
        elif self.type == "Matching":
            out["matchPairs"] = [{"subquestion": q.ref(), "subanswer": a}
                                 for q, a in self.match_pairs]  # fmt: skip
        elif isinstance(self.choices, dict):
            out["choices"] = self.choices
        elif self.type != "Essay":
            out["choices"] = [c.ref() for c in self.choices or []]
        return out


class _SyntaxProblem(Exception):
    def __init__(self, offset: int, message: str):
        self.offset, self.message = offset, message


# --- parsing -------------------------------------------------------------------------------------


def parse_gift(text: str, filename: str = "") -> tuple[list[GiftQuestion], list[Problem]]:
    """Every block of ``text`` as a :class:`GiftQuestion`, and the syntax problems found."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    questions: list[GiftQuestion] = []
    problems: list[Problem] = []
    pending_id: str | None = None
    pending_tags: list[str] | None = None
    category: str | None = None
    for block in _blocks(text):
        content = [(n, line) for n, line in block if not line.lstrip().startswith("//")]
        if not content or content[0] != block[0]:  # comments before a question carry ids/tags
            for _, line in block[: block.index(content[0]) if content else len(block)]:
                found_id = re.search(r"\[id:([^\x00-\x1f\x7f]+?)]", line)
                if found_id:
                    pending_id = found_id.group(1).strip().replace("\\]", "]")
                found = re.findall(r"\[tag:([^\x00-\x1f\x7f]+?)]", line)
                pending_tags = (pending_tags or []) + found if found else pending_tags
        if not content:
            continue
        if content[0][1].lstrip().startswith("$CATEGORY:"):
            category = content[0][1].lstrip()[len("$CATEGORY:") :].strip()
            questions.append(GiftQuestion("Category", content[0][0], title=category))
            pending_id = pending_tags = None
            content = content[1:]
            if not content:
                continue
        question = GiftQuestion("", content[0][0], id=pending_id, tags=pending_tags)
        question.category = category
        pending_id = pending_tags = None
        source = "\n".join(line for _, line in content)
        starts = [0]
        for _, line in content[:-1]:
            starts.append(starts[-1] + len(line) + 1)
        try:
            _parse_question(question, source)
        except _SyntaxProblem as exc:
            line = content[bisect.bisect_right(starts, exc.offset) - 1][0]
            name = describe(question.title, stem_text=re.sub(r"^\s*::.*?::", "", source))
            problems.append(Problem(filename, f"试题 {name}：{exc.message}", line))
            continue
        question.source = source.strip()
        questions.append(question)
    return questions, problems


def _blocks(text: str):
    """Runs of lines separated by blank lines, as lists of (line number, line)."""
    block: list[tuple[int, str]] = []
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            block.append((n, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _find(s: str, targets: str, start: int = 0, end: int | None = None) -> int:
    """Index of the first unescaped character of ``targets`` in ``s[start:end]``, or -1."""
    end = len(s) if end is None else end
    i = start
    while i < end:
        if s[i] == "\\":
            i += 2
            continue
        if s[i] in targets:
            return i
        i += 1
    return -1


def _split(s: str, targets: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of ``s[start:end]`` cut before each unescaped character of ``targets``: the first
    span is what comes before the first cut (maybe empty), each later one begins with its cut."""
    spans, begin = [], start
    cut = _find(s, targets, start, end)
    while cut >= 0:
        spans.append((begin, cut))
        begin = cut
        cut = _find(s, targets, cut + 1, end)
    spans.append((begin, end))
    return spans


def _unescape(raw: str) -> str:
    out, i = [], 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw) and raw[i + 1] in _ESCAPES:
            out.append(_ESCAPES[raw[i + 1]])
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


def _plain(text: str) -> str:
    return re.sub(r"\s\s+", " ", re.sub(r"[\n\r]", " ", text.strip()))


def _rich(raw: str, default: str) -> GiftText:
    match = _FORMAT.match(raw)
    fmt = match.group(1) if match else default
    text = _unescape(raw[match.end() :] if match else raw)
    if fmt in ("html", "markdown"):
        return GiftText(fmt, text.strip())
    return GiftText(fmt, _plain(text))


def _parse_question(q: GiftQuestion, s: str) -> None:
    pos = len(s) - len(s.lstrip())
    if s.startswith("::", pos):
        close = pos + 2
        while True:
            close = _find(s, ":", close)
            if close < 0:
                raise _SyntaxProblem(pos, "标题缺少结尾的 '::'")
            if s.startswith("::", close):
                break
            close += 1
        q.title = _unescape(s[pos + 2 : close]).strip() or None
        pos = close + 2
    brace = _find(s, "{}", pos)
    if brace < 0 or s[brace] == "}":
        if brace >= 0:
            raise _SyntaxProblem(brace, "多余的 '}'；字面的 } 应写作 \\}")
        q.type = "Description"
        q.stem = _rich(s[pos:], "moodle")
        return
    close = _find(s, "{}", brace + 1)
    if close < 0:
        raise _SyntaxProblem(brace, "答案区缺少结尾的 '}'")
    if s[close] == "{":
        raise _SyntaxProblem(close, "答案区中出现了未转义的 '{'（字面的 { 应写作 \\{）")
    stem1 = _rich(s[pos:brace], "moodle") if s[pos:brace].strip() else None
    fmt = stem1.format if stem1 else "moodle"
    after = s[close + 1 :]
    extra = _find(after, "{}")
    if extra >= 0 and after[extra] == "}":
        raise _SyntaxProblem(close + 1 + extra, "多余的 '}'；字面的 } 应写作 \\}")
    if extra >= 0:
        raise _SyntaxProblem(
            close + 1 + extra,
            "一道题中出现了第二个答案区 {…}：题目之间要用空行分隔，多空完形填空题不支持",
        )
    stem2 = _rich(after, "moodle") if after.strip() else None
    q.has_embedded_answers = stem2 is not None
    text = (stem1.text + (" " if stem2 else "")) if stem1 else ""
    q.stem = GiftText(
        (stem1 or stem2).format if (stem1 or stem2) else "moodle",
        text + ("_____ " + stem2.text if stem2 else ""),
    )
    _parse_answers(q, s, brace + 1, close, fmt)


def _parse_answers(q: GiftQuestion, s: str, start: int, end: int, fmt: str) -> None:
    general = s.find("####", start, end)
    while general > 0 and s[general - 1] == "\\":  # an escaped \# is not feedback
        general = s.find("####", general + 1, end)
    if general >= 0:
        raw = s[general + 4 : end]
        q.global_feedback = _rich(raw, fmt) if raw.strip() else None
        end = general
    body = s[start:end]
    first = start + len(body) - len(body.lstrip())
    if not body.strip():
        q.type = "Essay"
    elif s[first] == "#":
        q.type = "Numerical"
        q.choices = _numerical(s, first + 1, end, fmt)
    elif tf := _TF.match(body):
        q.type = "TF"
        q.is_true = tf.group(1).upper().startswith("T")
        spans = _split(s, "#", start + tf.end(), end)
        if s[spans[0][0] : spans[0][1]].strip():
            raise _SyntaxProblem(spans[0][0], "判断题的答案只能是 TRUE/T 或 FALSE/F")
        if len(spans) > 3:
            raise _SyntaxProblem(spans[3][0], "判断题最多两条反馈（#答“对”时 #答“错”时）")
        feedback = [
            _rich(s[a + 1 : b], fmt) if s[a + 1 : b].strip() else None for a, b in spans[1:]
        ]
        q.true_feedback, q.false_feedback = (feedback + [None, None])[:2]
    elif s[first] in "=~":
        _choices(q, s, first, end, fmt)
    else:
        q.type = "Short"
        spans = _split(s, "#", start, end)
        feedback = s[spans[1][0] + 1 : spans[1][1]] if len(spans) > 1 else ""
        q.choices = [GiftChoice(True, None, _rich(s[spans[0][0] : spans[0][1]], fmt),
                                _rich(feedback, fmt) if feedback.strip() else None)]  # fmt: skip


def _choices(q: GiftQuestion, s: str, start: int, end: int, fmt: str) -> None:
    parts = []
    for a, b in _split(s, "=~", start, end)[1:]:
        pieces = _split(s, "#", a + 1, b)
        if len(pieces) > 2:
            raise _SyntaxProblem(pieces[2][0], "一个选项只能有一条反馈（多余的 '#' 应写作 \\#）")
        raw = s[pieces[0][0] : pieces[0][1]]
        weight = _WEIGHT.match(raw)
        if weight:
            raw = raw[weight.end() :]
        feedback = s[pieces[1][0] + 1 : pieces[1][1]] if len(pieces) > 1 else None
        parts.append((a, s[a], float(weight.group(1)) if weight else None, raw, feedback))
    if all(m == "=" and "->" in raw and fb is None for _, m, _, raw, fb in parts):
        q.type = "Matching"
        for _, _, _, raw, _ in parts:
            left, right = raw.split("->", 1)
            sub = _rich(left, fmt) if left.strip() else GiftText(fmt, "")
            q.match_pairs.append((sub, _plain(_unescape(right))))
        return
    q.choices = []
    for a, marker, weight, raw, feedback in parts:
        if not raw.strip():
            raise _SyntaxProblem(a, f"'{marker}' 后面的选项内容为空")
        fb = _rich(feedback, fmt) if feedback and feedback.strip() else None
        q.choices.append(GiftChoice(marker == "=", weight, _rich(raw, fmt), fb))
    q.type = "Short" if all(c.is_correct for c in q.choices) else "MC"


def _number(value: str) -> float | int:
    number = float(value)
    return int(number) if number.is_integer() and "." not in value else number


def _numeric(raw: str, offset: int) -> dict:
    match = _NUMERIC.fullmatch(raw)
    if not match:
        raise _SyntaxProblem(offset, f"数值题答案 '{raw.strip()}' 无法识别")
    number, spread, high = match.groups()
    if spread is not None:
        return {"type": "range", "number": _number(number), "range": _number(spread)}
    if high is not None:
        return {"type": "high-low", "numberHigh": _number(high), "numberLow": _number(number)}
    return {"type": "simple", "number": _number(number)}


def _numerical(s: str, start: int, end: int, fmt: str) -> list[GiftChoice] | dict:
    first = _find(s, "=~", start, end)
    if first < 0 or s[start:first].strip():
        return _numeric(s[start:end], start)
    out = []
    for a, b in _split(s, "=~", first, end)[1:]:
        pieces = _split(s, "#", a + 1, b)
        raw = s[pieces[0][0] : pieces[0][1]]
        weight = _WEIGHT.match(raw)
        raw = raw[weight.end() :] if weight else raw
        text = _numeric(raw, a) if raw.strip() else GiftText(fmt, "*")
        feedback = s[pieces[1][0] + 1 : pieces[1][1]] if len(pieces) > 1 else ""
        out.append(GiftChoice(s[a] == "=", float(weight.group(1)) if weight else None, text,
                              _rich(feedback, fmt) if feedback.strip() else None))  # fmt: skip
    return out
