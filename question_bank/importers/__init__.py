"""Item-bank importers: format detection, dispatch, and what the importers share.

``detect_format`` looks at a file's content (its name only breaks ties between text formats);
``import_file`` reads any supported format except signed bank packages, which go through
:mod:`question_bank.package` because they need the trusted issuers' keys.

Every importer is all or nothing: it collects every problem it finds and raises one
:class:`~question_bank.errors.BankImportError` listing them all, or returns a complete
:class:`~question_bank.items.BankContent`. See ``docs/import-formats.md``.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import zipfile
import zlib
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from question_bank.errors import BankImportError, Problem
from question_bank.items import BankContent
from question_bank.richtext import html_to_text

FORMATS = ("package", "qti", "moodle_xml", "gift", "xlsx")

MAX_ZIP_TOTAL = 512 * 1024 * 1024  # uncompressed bytes, all entries together
MAX_ZIP_RATIO = 200  # for entries over 1 MiB
MAX_ZIP_ENTRIES = 20_000

QTI_NAMESPACES = {
    "http://www.imsglobal.org/xsd/imsqti_v2p1": "2.1",
    "http://www.imsglobal.org/xsd/imsqti_v2p2": "2.2",
}
_QTI_ROOTS = {"assessmentItem", "assessmentTest", "questestinterop"}
_FIRST_TAG = re.compile(rb"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_XML_PROLOG = re.compile(rb"\s*(<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>|\s)*", re.S)
_GIFT_HINTS = re.compile(r"\{[^{}]*\}|^\s*::|^\s*\$CATEGORY:", re.M)


def detect_format(filename: str, data: bytes) -> str:
    """``"package"``, ``"qti"``, ``"moodle_xml"``, ``"gift"`` or ``"xlsx"``, judged by content.

    Raises :class:`BankImportError` naming what the file looks like when it is none of these.
    """
    data = bytes(data)
    if not data.strip():
        raise _unknown(filename, "文件是空的")
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return _detect_zip(filename, data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _unknown(
            filename, "这是旧版 Excel（.xls）或其他 Office 二进制文件；请另存为 .xlsx 后导入"
        )
    root = xml_root_name(data)
    if root == "quiz":
        return "moodle_xml"
    if root in _QTI_ROOTS:
        return "qti"
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _unknown(filename, "这是二进制文件，不是可导入的题库格式")
    try:
        text = decode_text(filename, data)
    except BankImportError:
        raise _unknown(
            filename, "文件既不是 XLSX/ZIP/XML，也不是 UTF-8 或 GBK 编码的文本"
        ) from None
    if root is not None and not filename.lower().endswith((".gift", ".txt")):
        raise _unknown(
            filename,
            f"XML 根元素 <{root}> 不是可导入的格式（Moodle XML 的根元素是 <quiz>，"
            "QTI 2.1/2.2 的根元素是 <assessmentItem>）",
        )
    if filename.lower().endswith((".gift", ".txt")) or _GIFT_HINTS.search(text):
        return "gift"
    raise _unknown(filename, "文本中没有 GIFT 试题（形如 题干{=正确 ~错误}）")


def import_file(filename: str, data: bytes) -> BankContent:
    """Import ``data`` in whatever format it is (not packages); all or nothing."""
    fmt = detect_format(filename, data)
    if fmt == "package":
        raise ValueError(
            "signed bank packages need the trusted issuers' keys: use "
            "question_bank.package.open_package() for them, not import_file()"
        )
    if fmt == "gift":
        from question_bank.importers.gift import import_gift as importer
    elif fmt == "moodle_xml":
        from question_bank.importers.moodle_xml import import_moodle_xml as importer
    elif fmt == "qti":
        from question_bank.importers.qti import import_qti as importer
    else:
        from question_bank.importers.xlsx import import_xlsx as importer
    return importer(filename, bytes(data))


def _detect_zip(filename: str, data: bytes) -> str:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise _unknown(filename, "文件以 ZIP 开头但已损坏，无法打开") from None
    if "manifest.json" in names:
        return "package"
    if qti_manifest(names) is not None:
        return "qti"
    if (
        "xl/workbook.xml" in names
        or "[Content_Types].xml" in names
        and any(n.startswith("xl/") for n in names)
    ):
        return "xlsx"
    if "word/document.xml" in names:
        raise _unknown(filename, "这是 Word 文档；请用 XLSX 模板或 GIFT/Moodle XML/QTI 格式导入")
    raise _unknown(
        filename,
        "ZIP 文件中既没有 manifest.json（题库包）、imsmanifest.xml（QTI 内容包），"
        "也不是 XLSX 工作簿",
    )


def qti_manifest(names) -> str | None:
    """Where a QTI content package keeps ``imsmanifest.xml``: at the root, or in the one folder
    the whole package was zipped from."""
    if "imsmanifest.xml" in names:
        return "imsmanifest.xml"
    nested = [n for n in names if n.count("/") == 1 and n.endswith("/imsmanifest.xml")]
    return nested[0] if len(nested) == 1 else None


def _unknown(filename: str, why: str) -> BankImportError:
    return BankImportError([Problem(filename, f"无法识别的文件格式：{why}")])


# --- text ----------------------------------------------------------------------------------------


def decode_text(filename: str, data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM (Notepad's "Unicode"), else GB18030 (a
    superset of GBK and GB2312)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise BankImportError(
                [Problem(filename, "文件以 UTF-16 标记开头，但内容不是有效的 UTF-16")]
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        line = data[: utf8_error.start].count(b"\n") + 1
        raise BankImportError(
            [Problem(filename, "文件编码无法识别：既不是 UTF-8，也不是 GBK/GB18030", line)]
        ) from None


def fallback_uid(prefix: str, source: str) -> str:
    """A stable uid for a question without an id or a title: same text, same uid."""
    return f"{prefix}-{hashlib.sha256(source.encode()).hexdigest()[:12]}"


def describe(title: str | None, stem_html: str = "", stem_text: str = "", limit: int = 24) -> str:
    """How a message names a question: its title, or the first words of its stem."""
    if title:
        return f"“{title}”"
    text = stem_text or html_to_text(stem_html)
    text = " ".join(text.split())
    if not text:
        return "（无题干）"
    return f"“{text[:limit]}…”" if len(text) > limit else f"“{text}”"


def blank_html(text: str) -> bool:
    """Whether sanitised HTML shows nothing: no text and no image."""
    return not html_to_text(text) and "<img" not in text


def join_html(parts: list[str]) -> str:
    """Sanitised HTML fragments joined into one explanation (empty ones left out)."""
    parts = [p for p in parts if p]
    if len(parts) > 1 and not parts[0].startswith("<"):
        parts[0] = f"<p>{parts[0]}</p>"
    return "".join(parts)


def category_tag(path: str) -> str:
    """A Moodle category path as a tag: ``$course$/top/电工/安全`` -> ``电工/安全``."""
    path = re.sub(r"^\$\w+\$/", "", path.strip())
    path = re.sub(r"^top(/|$)", "", path)
    return path.strip("/ ").strip()


def check_unique_uids(items, problems: list[Problem], filename: str, lines: dict) -> None:
    """One problem per uid that occurs more than once (``lines``: item index -> line)."""
    first: dict[str, int] = {}
    for n, item in enumerate(items):
        if item.uid in first:
            where = lines.get(first[item.uid])
            at = f"（第{where}行）" if where else ""
            problems.append(
                Problem(filename, f"题目编号 '{item.uid}' 与前面的试题{at}重复", lines.get(n))
            )
        else:
            first[item.uid] = n


# --- XML -----------------------------------------------------------------------------------------


def xml_root_name(data: bytes) -> str | None:
    """Local name of the first element, if ``data`` looks like XML (no full parse)."""
    head = data[:65536]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    elif head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            head = head.decode("utf-16").encode()
        except UnicodeDecodeError:
            return None
    start = _XML_PROLOG.match(head).end()
    match = _FIRST_TAG.match(head, start)
    if match is None:
        return None
    return match.group(2).decode("ascii", "replace")


def local_name(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_EXPAT_ENCODINGS = {
    "utf-8",
    "utf8",
    "utf-16",
    "utf16",
    "us-ascii",
    "ascii",
    "iso-8859-1",
    "latin-1",
}


def _to_utf8(filename: str, data: bytes) -> bytes:
    """Expat reads no multi-byte encoding but UTF-8/16: re-encode GBK, GB18030, Big5 ... XML."""
    declared = _DECLARED.match(data)
    if declared is None or declared.group(1).decode().lower() in _EXPAT_ENCODINGS:
        return data
    try:
        text = data.decode(declared.group(1).decode())
    except (LookupError, UnicodeDecodeError):
        raise BankImportError(
            [
                Problem(
                    filename, f"XML 声明的编码 {declared.group(1).decode()} 无法识别或与内容不符", 1
                )
            ]
        ) from None
    start, end = declared.span(1)  # the declaration is ASCII: byte and character offsets agree
    return (text[:start] + "UTF-8" + text[end:]).encode()


def parse_xml(filename: str, data: bytes) -> tuple[Element, dict[Element, int]]:
    """Parse with defusedxml (no entity expansion, no external resources) and return the root
    and each element's source line."""
    data = _to_utf8(filename, data)
    try:
        root = SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise BankImportError([Problem(filename, f"XML 格式错误：{exc}", line)]) from None
    except DefusedXmlException:
        raise BankImportError(
            [Problem(filename, "XML 中含有实体（ENTITY）声明或外部引用，出于安全原因拒绝导入")]
        ) from None
    except (ValueError, LookupError) as exc:
        raise BankImportError([Problem(filename, f"XML 无法读取：{exc}")]) from None
    starts: list[int] = []
    parser = expat.ParserCreate()
    parser.StartElementHandler = lambda name, attrs: starts.append(parser.CurrentLineNumber)
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, ValueError, LookupError):
        starts = []
    lines = dict(zip(root.iter(), starts, strict=False)) if len(starts) else {}
    return root, lines


# --- zip -----------------------------------------------------------------------------------------


def _fail(filename: str, message: str) -> BankImportError:
    return BankImportError([Problem(filename, message)])


def check_zip(filename: str, data: bytes) -> zipfile.ZipFile:
    """The opened zip, once its entry count, sizes and compression ratios are reasonable and
    nothing is password-protected (nothing is decompressed here)."""

    def fail(message: str) -> BankImportError:
        return _fail(filename, message)

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise fail("ZIP 文件已损坏，无法打开") from None
    if len(infos) > MAX_ZIP_ENTRIES:
        raise fail(f"ZIP 中的文件超过 {MAX_ZIP_ENTRIES} 个")
    total = 0
    for info in infos:
        total += info.file_size
        if total > MAX_ZIP_TOTAL:
            raise fail("ZIP 解压后超过 512 MiB 上限，已拒绝")
        if info.file_size > 1024 * 1024 and info.file_size > MAX_ZIP_RATIO * max(
            info.compress_size, 1
        ):
            raise fail(f"ZIP 中的 {info.filename} 压缩比异常，疑似压缩炸弹，已拒绝")
        if info.flag_bits & 0x1:
            raise fail(f"ZIP 中的 {info.filename} 设有密码，无法读取")
    return zf


def read_zip(filename: str, data: bytes) -> dict[str, bytes]:
    """Every file entry's bytes by name, refusing unsafe names, encryption and zip bombs."""

    def fail(message: str) -> BankImportError:
        return _fail(filename, message)

    zf = check_zip(filename, data)
    files: dict[str, bytes] = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        name = posixpath.normpath(info.filename.replace("\\", "/"))
        if name.startswith(("/", "../")) or name == ".." or ":" in name:
            raise fail(f"ZIP 中的文件名 {info.filename!r} 不安全（绝对路径或 '..'）")
        try:
            files[name] = zf.read(info)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError):
            raise fail(f"ZIP 中的 {info.filename} 无法解压：文件已损坏") from None
    return files


_UNSAFE_MEDIA = re.compile(r"[\x00-\x1f\x7f\\:*?\"<>|/]")


def media_key(name: str, data: bytes, media: dict[str, bytes]) -> str:
    """``media/<name>`` for a file, made safe; a different file of the same name gets a
    content-hash suffix so that nothing is overwritten."""
    base = _UNSAFE_MEDIA.sub("_", posixpath.basename(name.replace("\\", "/"))).strip(". ")
    base = base or "file"
    key = f"media/{base}"
    if key in media and media[key] != data:
        stem, ext = posixpath.splitext(base)
        key = f"media/{stem}-{hashlib.sha256(data).hexdigest()[:8]}{ext}"
    media[key] = data
    return key
