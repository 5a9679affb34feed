"""GIFT import: the reference corpus parses exactly as the reference grammar says; supported
questions become items; everything else is refused by name, all at once."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from question_bank.errors import BankImportError
from question_bank.importers import import_file
from question_bank.importers.gift import import_gift, parse_gift
from question_bank.items import ItemType

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).parents[3] / "shared" / "testdata" / "gift-peg"
CORPUS_FILES = sorted(CORPUS.glob("*.gift")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(
    not CORPUS_FILES, reason=f"the shared GIFT corpus is not checked out at {CORPUS}"
)
SUPPORTED = {"MC", "TF"}


def _reference(path: Path) -> list[dict]:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


def _questions(reference: list[dict]) -> list[dict]:
    return [q for q in reference if q["type"] != "Category"]


def _supported(q: dict) -> bool:
    return q["type"] in SUPPORTED and not q["hasEmbeddedAnswers"]


def _name_in(q: dict, message: str) -> bool:
    """A refusal names the question by its title, or by the first words of its stem."""
    if q["title"]:
        return q["title"] in message
    words = " ".join(re.sub(r"<[^>]+>", "", q["stem"]["text"]).split())
    return words[:12] in message


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_gift_corpus_matches_reference_parse(path):
    questions, problems = parse_gift(path.read_text(encoding="utf-8"), path.name)
    assert problems == []
    expected = _reference(path)
    assert len(questions) == len(expected)
    for n, (ours, theirs) in enumerate(zip(questions, expected, strict=True)):
        parsed = ours.to_reference()
        assert set(theirs) <= set(parsed), f"question {n}"
        assert {k: parsed[k] for k in theirs} == theirs, f"question {n}"


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_gift_corpus_imports_supported_files_and_refuses_the_others_by_name(path):
    questions = _questions(_reference(path))
    unsupported = [q for q in questions if not _supported(q)]
    if questions and not unsupported:
        content = import_gift(path.name, path.read_bytes())
        assert len(content.items) == len(questions)
        for item, q in zip(content.items, questions, strict=True):
            if q["type"] == "TF":
                assert item.type is ItemType.TRUE_FALSE
                assert item.answer == (("T",) if q["isTrue"] else ("F",))
            else:
                assert item.type in (ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE)
                assert len(item.options) == len(q["choices"])
                assert [o.weight for o in item.options] == [c["weight"] for c in q["choices"]]
            assert item.uid == (q["id"] or q["title"] or item.uid)
        return
    with pytest.raises(BankImportError) as caught:
        import_gift(path.name, path.read_bytes())
    messages = [p.message for p in caught.value.problems]
    if not questions:
        assert messages == ["文件中没有试题"]
        return
    assert len(messages) == len(unsupported)
    for q, message in zip(unsupported, messages, strict=True):
        assert _name_in(q, message), (q, message)
    assert all(p.line for p in caught.value.problems)


def test_supported_questions_become_items():
    content = import_file("bank.gift", (DATA / "gift_good.gift").read_bytes())
    assert content.format == "gift" and content.meta == {}
    single, tf, multiple, html, escaped = content.items
    assert single.uid == "IRAP-S-001" and single.title == "示教模式"
    assert single.type is ItemType.SINGLE_CHOICE and single.answer == ("B",)
    assert [o.text for o in single.options] == ["自动模式", "手动减速模式", "手动全速模式"]
    assert single.tags == ("工业机器人/安全知识", "安全")
    assert "示教应在手动减速（T1）模式下进行。" in single.explanation
    assert "A：自动模式下禁止示教。" in single.explanation
    assert tf.uid == "急停" and tf.type is ItemType.TRUE_FALSE and tf.answer == ("T",)
    assert multiple.type is ItemType.MULTIPLE_CHOICE and multiple.answer == ("A", "B")
    assert [o.weight for o in multiple.options] == [50, 50, -100]
    assert re.fullmatch(r"gift-[0-9a-f]{12}", multiple.uid)
    assert html.stem == "<p>下列哪个是<b>工具</b>坐标系的缩写？</p>"
    assert escaped.stem == "电压 U=IR 中，{I} 表示什么？"


def test_same_file_twice_gives_the_same_uids():
    data = (DATA / "gift_good.gift").read_bytes()
    assert [i.uid for i in import_gift("a.gift", data).items] == [
        i.uid for i in import_gift("b.gift", data).items
    ]


def test_unsupported_question_is_refused_by_name():
    with pytest.raises(BankImportError) as caught:
        import_gift("mixed.gift", (DATA / "gift_unsupported.gift").read_bytes())
    found = [(p.line, p.message) for p in caught.value.problems]
    assert [line for line, _ in found] == [3, 5, 7, 9, 14, 16]
    expected = ["问答题 “Q1”", "数值题 “Q2”", "简答（填空）题 “TCP 的中文名称是什么？”",
                "匹配题 “匹配”", "说明文字 “以下各题每题 1 分。”", "试题 “机器人有 _____ 个轴。”"]  # fmt: skip
    for (_, message), start in zip(found, expected, strict=True):
        assert message.startswith(start), message
    assert "不支持" in found[0][1] and "填空式" in found[5][1]


def test_every_broken_question_is_reported_with_its_line():
    with pytest.raises(BankImportError) as caught:
        import_gift("broken.gift", (DATA / "gift_broken.gift").read_bytes())
    text = [str(p) for p in caught.value.problems]
    assert text == [
        "broken.gift 第1行: 试题 “没有结尾的答案区”：答案区缺少结尾的 '}'",
        "broken.gift 第3行: 试题 “只有错误选项” 没有正确选项（用 = 标记正确选项，或用 %50% 这样的正权重）",
        "broken.gift 第5行: 试题 “选项太多” 有 9 个选项，最多 8 个",
        "broken.gift 第7行: 试题 “空选项”：'~' 后面的选项内容为空",
        "broken.gift 第9行: 试题 “判断题多余内容”：判断题最多两条反馈（#答“对”时 #答“错”时）",
    ]


@pytest.mark.parametrize(
    ("gift", "kind", "answer"),
    [
        ("Q{=a ~b ~c}", ItemType.SINGLE_CHOICE, ("A",)),
        ("Q{=a =b ~c}", ItemType.MULTIPLE_CHOICE, ("A", "B")),
        ("Q{~%50%a ~%50%b ~c}", ItemType.MULTIPLE_CHOICE, ("A", "B")),
        ("Q{~%100%a ~b}", ItemType.SINGLE_CHOICE, ("A",)),
        ("Q{~a ~%50%b =c}", ItemType.SINGLE_CHOICE, ("C",)),
        ("Q{T}", ItemType.TRUE_FALSE, ("T",)),
        ("Q{false#答对时 #答错时}", ItemType.TRUE_FALSE, ("F",)),
    ],
)
def test_answer_rules(gift, kind, answer):
    (item,) = import_gift("q.gift", gift.encode()).items
    assert (item.type, item.answer) == (kind, answer)


@pytest.mark.parametrize(
    ("gift", "why"),
    [
        ("Q{~%50%a ~b ~c}", "不是满分"),
        ("Q{=a =b ~%50%c}", "无法判断"),
        ("Q{=only ~%150%b}", "超出"),
        ("::T::{=a ~b}", "题干为空"),
        ("Q{=a ~b} tail {=c ~d}", "第二个答案区"),
        ("Q :: {=a ~b}}", "多余的 '}'"),
        ("::unterminated title {=a ~b}", "标题缺少"),
    ],
)
def test_ambiguous_or_malformed_questions_are_refused(gift, why):
    with pytest.raises(BankImportError, match=why):
        import_gift("q.gift", gift.encode())


def test_duplicate_ids_are_refused():
    gift = "// [id:X1]\n::A::Q1{=a ~b}\n\n// [id:X1]\n::B::Q2{=a ~b}\n"
    with pytest.raises(BankImportError, match="'X1' 与前面的试题（第2行）重复"):
        import_gift("d.gift", gift.encode())


def test_gbk_utf8_bom_and_utf16_are_read():
    gift = "::编码::机器人有几个轴？{=六 ~四}\n"
    encodings = [gift.encode("gbk"), gift.encode("gb18030"), b"\xef\xbb\xbf" + gift.encode(),
                 gift.encode("utf-16")]  # fmt: skip
    for data in encodings:
        (item,) = import_file("enc.gift", data).items
        assert item.stem == "机器人有几个轴？"


def test_windows_line_endings_and_comments_between_lines():
    gift = "// header\r\n::W::第一行\r\n// a comment inside\r\n第二行{\r\n=对\r\n~错\r\n}\r\n"
    (item,) = import_gift("w.gift", gift.encode()).items
    assert item.stem == "第一行 第二行" and item.answer == ("A",)


def test_garbled_and_truncated_gift_never_crashes():
    good = (DATA / "gift_good.gift").read_bytes() + (DATA / "gift_unsupported.gift").read_bytes()
    rng = random.Random(7)
    samples = [good[:n] for n in range(0, len(good), 7)]
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(len(data))] = rng.choice(b"{}=~#:\\%\n []-> \x00\xff")
        samples.append(bytes(data))
    for data in samples:
        try:
            import_gift("fuzz.gift", data)
        except BankImportError as exc:
            assert exc.problems and all(p.message for p in exc.problems)
