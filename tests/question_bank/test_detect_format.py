"""Format detection looks at content, not names; unknown files get a clear reason; import_file
dispatches every format except signed packages."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest

from question_bank.errors import BankImportError
from question_bank.importers import detect_format, import_file
from question_bank.importers.xlsx import xlsx_template

DATA = Path(__file__).parent / "data"


def _zip(**files: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(name.replace("__", "/"), data)
    return out.getvalue()


QTI_ITEM = (DATA / "qti21_single_choice.xml").read_bytes()
CASES = [
    ("bank.zip", _zip(**{"manifest.json": b"{}", "manifest.sig": b"x"}), "package"),
    ("anything.bin", _zip(**{"manifest.json": b"{}"}), "package"),
    ("qti.zip", _zip(**{"imsmanifest.xml": b"<manifest/>", "items__q.xml": QTI_ITEM}), "qti"),
    ("item.xml", QTI_ITEM, "qti"),
    ("test.xml", (DATA / "qti_package" / "test.xml").read_bytes(), "qti"),
    ("old.xml", b"<?xml version='1.0'?><questestinterop/>", "qti"),
    ("quiz.xml", (DATA / "moodle_good.xml").read_bytes(), "moodle_xml"),
    (
        "quiz.txt",
        b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- export -->\n<quiz></quiz>",
        "moodle_xml",
    ),
    ("bank.gift", (DATA / "gift_good.gift").read_bytes(), "gift"),
    ("bank.txt", "只有说明文字，没有答案。".encode(), "gift"),
    ("questions.dat", "::T:: 急停后机器人停止。{T}".encode("gbk"), "gift"),
    ("bank.xlsx", xlsx_template(), "xlsx"),
    ("misnamed.gift", xlsx_template(), "xlsx"),
    ("misnamed.xlsx", "题干{=对 ~错}".encode(), "gift"),
]


@pytest.mark.parametrize(("filename", "data", "expected"), CASES, ids=[c[0] for c in CASES])
def test_format_is_detected_by_content(filename, data, expected):
    assert detect_format(filename, data) == expected


@pytest.mark.parametrize(
    ("filename", "data", "why"),
    [
        ("empty.gift", b"  \n", "文件是空的"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "旧版 Excel"),
        ("doc.docx", _zip(**{"word__document.xml": b"<w/>"}), "Word 文档"),
        ("other.zip", _zip(**{"readme.txt": b"hi"}), "imsmanifest.xml"),
        ("broken.zip", b"PK\x03\x04garbage", "已损坏"),
        ("page.html", b"<html><body>hi</body></html>", "根元素 <html>"),
        ("data.csv", "题干,答案\n甲,A\n".encode(), "没有 GIFT 试题"),
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "二进制文件"),
    ],
)
def test_unknown_files_are_refused_with_a_reason(filename, data, why):
    with pytest.raises(BankImportError) as caught:
        detect_format(filename, data)
    (problem,) = caught.value.problems
    assert problem.file == filename and problem.message.startswith("无法识别的文件格式：")
    assert why in problem.message


def test_import_file_dispatches_each_format():
    assert import_file("a.gift", (DATA / "gift_good.gift").read_bytes()).format == "gift"
    assert import_file("a.xml", (DATA / "moodle_good.xml").read_bytes()).format == "moodle_xml"
    assert import_file("a.xml", QTI_ITEM).format == "qti"
    assert import_file("a.xlsx", xlsx_template()).format == "xlsx"


def test_packages_are_not_imported_here():
    with pytest.raises(ValueError, match="question_bank.package"):
        import_file("bank.zip", _zip(**{"manifest.json": b"{}"}))


def test_random_bytes_never_crash():
    rng = random.Random(1)
    prefixes = [b"", b"PK\x03\x04", b"<?xml version='1.0'?><quiz>", b"<assessmentItem ", b"::t::"]
    for n in range(300):
        data = rng.choice(prefixes) + bytes(
            rng.randrange(256) for _ in range(rng.randrange(1, 200))
        )
        try:
            import_file(f"fuzz-{n}", data)
        except BankImportError as exc:
            assert exc.problems and all(p.message for p in exc.problems)
