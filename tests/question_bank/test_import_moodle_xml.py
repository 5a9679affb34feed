"""Moodle XML import: multichoice and truefalse become items with their images; every other
question type is refused by name and line; bad questions are all reported at once."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from question_bank.errors import BankImportError
from question_bank.importers import import_file
from question_bank.importers.moodle_xml import import_moodle_xml
from question_bank.items import ItemType

DATA = Path(__file__).parent / "data"
PNG_HEAD = b"\x89PNG\r\n\x1a\n"


def _xml(*questions: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n' + "\n".join(questions)
            + "\n</quiz>\n").encode()  # fmt: skip


def _multichoice(
    name: str, *answers: tuple[int, str], single: str = "true", extra: str = ""
) -> str:
    body = "".join(f'<answer fraction="{f}"><text>{t}</text></answer>' for f, t in answers)
    return (f'<question type="multichoice"><name><text>{name}</text></name>'
            f'<questiontext format="html"><text>{name}？</text></questiontext>'
            f"<single>{single}</single>{extra}{body}</question>")  # fmt: skip


def test_multichoice_and_truefalse_become_items_with_images_and_categories():
    content = import_file("moodle.xml", (DATA / "moodle_good.xml").read_bytes())
    assert content.format == "moodle_xml"
    single, multiple, tf = content.items
    assert single.uid == "IRAP-S-001" and single.title == "示教模式"
    assert single.type is ItemType.SINGLE_CHOICE and single.answer == ("B",)
    assert (
        single.stem
        == '<p>示教时应选择哪种运行模式？<img src="media/mode panel.png" alt="模式开关"></p>'
    )
    assert content.media["media/mode panel.png"].startswith(PNG_HEAD)
    assert single.tags == ("工业机器人/安全", "安全")
    assert "示教应在手动减速（T1）模式下进行。" in single.explanation
    assert "A：自动模式下禁止示教。" in single.explanation
    assert multiple.uid == "进入工作区域" and multiple.type is ItemType.MULTIPLE_CHOICE
    assert multiple.answer == ("A", "B")
    assert [o.weight for o in multiple.options] == [50, 50, -100]
    assert tf.type is ItemType.TRUE_FALSE and tf.answer == ("T",) and tf.options == ()
    assert "答“对”时：正确。" in tf.explanation


def test_unsupported_question_is_refused_by_name():
    with pytest.raises(BankImportError) as caught:
        import_moodle_xml("mixed.xml", (DATA / "moodle_unsupported.xml").read_bytes())
    found = [(p.line, p.message) for p in caught.value.problems]
    assert [line for line, _ in found] == [9, 13, 17, 21]
    for (_, message), start in zip(
        found,
        ["问答题 “简述零点校准”", "匹配题 “坐标系匹配”", "简答题 “TCP 的中文名称是什么？”",
         "说明文字（不是试题） “说明”"],
        strict=True,
    ):  # fmt: skip
        assert message.startswith(start) and "不支持" in message


def test_every_broken_question_is_reported_with_its_line():
    with pytest.raises(BankImportError) as caught:
        import_moodle_xml("broken.xml", (DATA / "moodle_broken.xml").read_bytes())
    assert [str(p) for p in caught.value.problems] == [
        "broken.xml 第3行: 单选题 “两个满分” 应有且只有一个满分（fraction=100）选项，现有 2 个",
        'broken.xml 第10行: 试题 “缺图” 引用的图片 missing.png 不在文件中（缺少 <file name="missing.png">）',
        "broken.xml 第16行: 试题 “坏分数” 第1个答案的 fraction 'abc' 不是数字",
        "broken.xml 第22行: 判断题 “两个都对” 应有且只有一个 fraction=100 的答案（true 或 false）",
    ]


def test_uid_falls_back_to_name_then_to_a_content_hash():
    unnamed = _multichoice("", (100, "甲"), (0, "乙"))
    content = import_moodle_xml(
        "q.xml", _xml(_multichoice("有名字", (100, "甲"), (0, "乙")), unnamed)
    )
    assert content.items[0].uid == "有名字"
    assert content.items[1].uid.startswith("moodle-") and len(content.items[1].uid) == 19
    again = import_moodle_xml(
        "q.xml", _xml(_multichoice("有名字", (100, "甲"), (0, "乙")), unnamed)
    )
    assert [i.uid for i in again.items] == [i.uid for i in content.items]


@pytest.mark.parametrize(
    ("question", "why"),
    [
        (_multichoice("多选一个对", (100, "甲"), (0, "乙"), single="false"), "至少要 2 个正确选项"),
        (_multichoice("一个选项", (100, "甲")), "至少要 2 个"),
        (_multichoice("九个", *[(100 if n == 0 else 0, f"选{n}") for n in range(9)]), "最多 8 个"),
        (_multichoice("空选项", (100, "甲"), (0, "")), "选项B的内容为空"),
        ('<question type="cloze"><name><text>填空</text></name></question>', "完形填空题 “填空” 不支持"),
        ('<question type="drawing"><name><text>画图</text></name></question>', "“drawing”类型的题 “画图”"),
        (_multichoice("坏图", (100, "甲"), (0, "乙")).replace(
            "</text></questiontext>", '</text><file name="x.png" encoding="base64">@@@</file></questiontext>'),
         "x.png 的 base64 内容已损坏"),
    ],
)  # fmt: skip
def test_malformed_questions_are_refused(question, why):
    with pytest.raises(BankImportError, match=why):
        import_moodle_xml("q.xml", _xml(question))


def test_duplicate_idnumbers_are_refused():
    q = _multichoice("甲", (100, "对"), (0, "错"), extra="<idnumber>Q-1</idnumber>")
    with pytest.raises(BankImportError, match="'Q-1' 与前面的试题（第3行）重复"):
        import_moodle_xml("d.xml", _xml(q, q.replace("甲", "乙")))


def test_xml_errors_name_the_line():
    with pytest.raises(BankImportError) as caught:
        import_moodle_xml("bad.xml", b'<?xml version="1.0"?>\n<quiz>\n<question>\n</quiz>\n')
    (problem,) = caught.value.problems
    assert problem.line == 4 and "XML 格式错误" in problem.message


def test_entity_expansion_is_refused():
    bomb = b'<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY a "aaaa">]><quiz>&a;</quiz>'
    with pytest.raises(BankImportError, match="实体"):
        import_moodle_xml("bomb.xml", bomb)


def test_wrong_root_and_empty_quiz_are_refused():
    with pytest.raises(BankImportError, match="应为 <quiz>"):
        import_moodle_xml("x.xml", b"<questions/>")
    with pytest.raises(BankImportError, match="没有试题"):
        import_moodle_xml("x.xml", b"<quiz></quiz>")


def test_garbled_and_truncated_moodle_xml_never_crashes():
    good = (DATA / "moodle_good.xml").read_bytes()
    rng = random.Random(11)
    samples = [good[:n] for n in range(0, len(good), 23)]
    for _ in range(200):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.choice(b'<>/"=&;@ax0\x00\xff')
        samples.append(bytes(data))
    for data in samples:
        try:
            import_moodle_xml("fuzz.xml", data)
        except BankImportError as exc:
            assert exc.problems and all(p.message for p in exc.problems)


def test_xml_declared_as_gbk_is_read():
    data = (
        (DATA / "moodle_good.xml")
        .read_text(encoding="utf-8")
        .replace('encoding="UTF-8"', 'encoding="GBK"')
    )
    content = import_moodle_xml("gbk.xml", data.encode("gbk"))
    assert content.items[0].title == "示教模式"
