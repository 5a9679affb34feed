"""QTI 2.1/2.2 import: single items and content packages; choiceInteraction only, anything
else refused by item identifier; images inside a package become media."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest

from question_bank.errors import BankImportError
from question_bank.importers import detect_format, import_file
from question_bank.importers.qti import import_qti
from question_bank.items import ItemType

DATA = Path(__file__).parent / "data"
PACKAGE = DATA / "qti_package"
NS21 = "http://www.imsglobal.org/xsd/imsqti_v2p1"


def _package(replace: dict[str, bytes | None] | None = None, folder: str = "") -> bytes:
    """The fixture package zipped, with some files replaced (``None`` leaves one out)."""
    files = {
        p.relative_to(PACKAGE).as_posix(): p.read_bytes() for p in PACKAGE.rglob("*") if p.is_file()
    }
    files.update(replace or {})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in sorted(files.items()):
            if data is not None:
                zf.writestr(folder + name, data)
    return out.getvalue()


def _item(interaction: str, correct: str = "<value>A</value>", ident: str = "Q-1",
          ns: str = NS21) -> bytes:  # fmt: skip
    return (f'<assessmentItem xmlns="{ns}" identifier="{ident}" title="t">'
            f'<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">'
            f"<correctResponse>{correct}</correctResponse></responseDeclaration>"
            f"<itemBody>{interaction}</itemBody></assessmentItem>").encode()  # fmt: skip


def _choices(max_choices: int, *texts: str) -> str:
    body = "".join(
        f'<simpleChoice identifier="{chr(65 + n)}">{t}</simpleChoice>' for n, t in enumerate(texts)
    )
    return (f'<choiceInteraction responseIdentifier="RESPONSE" maxChoices="{max_choices}">'
            f"<prompt>题干</prompt>{body}</choiceInteraction>")  # fmt: skip


def test_qti21_single_choice_item():
    content = import_file("q.xml", (DATA / "qti21_single_choice.xml").read_bytes())
    (item,) = content.items
    assert content.format == "qti"
    assert item.uid == "IRAP-S-010" and item.title == "示教模式"
    assert item.type is ItemType.SINGLE_CHOICE and item.answer == ("B",)
    assert [o.text for o in item.options] == ["自动模式", "手动<b>减速</b>模式", "手动全速模式"]
    assert "以下关于示教的说法" in item.stem and "<p>示教时应选择哪种运行模式？</p>" in item.stem


def test_qti22_multiple_choice_item_with_feedback():
    (item,) = import_qti("q.xml", (DATA / "qti22_multiple_choice.xml").read_bytes()).items
    assert item.type is ItemType.MULTIPLE_CHOICE and item.answer == ("A", "B", "D")
    assert item.stem == "<p>进入机器人工作区域前应做到（ ）。</p>"
    assert item.explanation == "自动运行时不得进入。"


def test_two_choices_reading_true_and_false_make_a_true_false_item():
    (item,) = import_qti("q.xml", (DATA / "qti21_true_false.xml").read_bytes()).items
    assert item.type is ItemType.TRUE_FALSE and item.answer == ("F",) and item.options == ()
    (item,) = import_qti("q.xml", _item(_choices(1, "False", "True"), "<value>B</value>")).items
    assert item.type is ItemType.TRUE_FALSE and item.answer == ("T",)
    (item,) = import_qti("q.xml", _item(_choices(1, "对", "不一定"))).items
    assert item.type is ItemType.SINGLE_CHOICE


def test_unsupported_interaction_is_refused_by_identifier():
    with pytest.raises(BankImportError) as caught:
        import_qti("q.xml", (DATA / "qti21_text_entry.xml").read_bytes())
    (problem,) = caught.value.problems
    assert "“IRAP-F-001”" in problem.message and "textEntryInteraction" in problem.message
    assert problem.line == 8


def test_content_package_lists_items_and_carries_their_images():
    content = import_file("pkg.zip", _package())
    single, multiple = content.items
    assert (single.uid, multiple.uid) == ("PKG-S-001", "IRAP-M-010")
    assert '<img src="media/images/robot.png" alt="机器人" width="120">' in single.stem
    assert content.media["media/images/robot.png"] == (PACKAGE / "images/robot.png").read_bytes()


def test_package_zipped_from_its_folder_is_read_too():
    data = _package(folder="export/")
    assert detect_format("pkg.zip", data) == "qti"
    content = import_qti("pkg.zip", data)
    assert [i.uid for i in content.items] == ["PKG-S-001", "IRAP-M-010"]
    assert list(content.media) == ["media/images/robot.png"]


def test_package_reports_every_bad_item_with_its_file():
    broken = _package({
        "items/single.xml": (DATA / "qti21_text_entry.xml").read_bytes(),
        "items/multiple.xml": None,
    })  # fmt: skip
    with pytest.raises(BankImportError) as caught:
        import_qti("pkg.zip", broken)
    text = [str(p) for p in caught.value.problems]
    assert len(text) == 2
    assert text[0].startswith(
        "pkg.zip/items/single.xml 第8行: 试题 “IRAP-F-001” 含 textEntryInteraction"
    )
    assert (
        text[1]
        == "pkg.zip/imsmanifest.xml 第13行 resource: 资源 item2 的文件 'items/multiple.xml' 不在内容包中"
    )


def test_package_refuses_missing_images_and_other_qti_versions():
    manifest = (
        (PACKAGE / "imsmanifest.xml")
        .read_text()
        .replace('type="imsqti_item_xmlv2p2"', 'type="imsqti_item_xmlv3p0"')
    )
    broken = _package({"images/robot.png": None, "imsmanifest.xml": manifest.encode()})
    with pytest.raises(BankImportError) as caught:
        import_qti("pkg.zip", broken)
    messages = [p.message for p in caught.value.problems]
    assert any("图片 ../images/robot.png 不在内容包中" in m for m in messages)
    assert any("imsqti_item_xmlv3p0 不支持" in m for m in messages)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (_item(_choices(1, "甲", "乙"), "<value>A</value><value>B</value>"), "应有且只有一个正确答案"),
        (_item(_choices(0, "甲", "乙", "丙")), "多选题 “Q-1” 只有 1 个正确答案"),
        (_item(_choices(2, "甲", "乙", "丙"), "<value>A</value><value>B</value><value>C</value>"),
         "超过 maxChoices=2"),
        (_item(_choices(1, "甲", "乙"), "<value>Z</value>"), "不是任何 simpleChoice"),
        (_item(_choices(1, "甲")), "有 1 个选项"),
        (_item(_choices(1, "甲", "乙") * 2), "现有 2 个"),
        (_item(_choices(1, "甲", "乙"), ns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"), "不是 QTI 2.1 或 2.2"),
        (_item('<p><img src="a.png"/></p>' + _choices(1, "甲", "乙")), "请以内容包（zip）导入"),
        (_item('<p><img src="http://x/a.png"/></p>' + _choices(1, "甲", "乙")), "外部地址"),
        (b'<questestinterop><item ident="1"/></questestinterop>', "QTI 1.x"),
        ((PACKAGE / "test.xml").read_bytes(), "IMS 内容包"),
    ],
)  # fmt: skip
def test_items_that_cannot_be_read_faithfully_are_refused(data, why):
    with pytest.raises(BankImportError, match=why):
        import_qti("q.xml", data)


def test_garbled_and_truncated_qti_never_crashes():
    rng = random.Random(5)
    for good in (_package(), (DATA / "qti21_single_choice.xml").read_bytes()):
        samples = [good[:n] for n in range(0, len(good), max(1, len(good) // 60))]
        for _ in range(150):
            data = bytearray(good)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            samples.append(bytes(data))
        for data in samples:
            try:
                import_qti("fuzz", data)
            except BankImportError as exc:
                assert exc.problems and all(p.message for p in exc.problems)
