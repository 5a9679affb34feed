"""Reading an uploaded candidate roster (考生花名册): XLSX, CSV, or a ZIP of a roster plus photos.

A pure module: no Flask, no database. :func:`parse_roster` turns the uploaded bytes into
:class:`RosterRow` values or raises :class:`RosterError` listing *every* problem found, each
naming the file, the spreadsheet row, the column header and why (in Chinese, with an English
gloss). The station's roster service decides what to do with the rows (duplicates against the
session, seat allocation, saving). :func:`roster_template` builds the downloadable XLSX template.

The accepted format is documented in ``docs/roster-format.md``; keep the two in step.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePosixPath

import openpyxl
from openpyxl.utils import get_column_letter

from certs.identity import (
    ID_TYPE_LABELS,
    IdNumberError,
    IdType,
    IdTypeError,
    parse_id,
    parse_id_type,
)
from question_bank.errors import Problem
from station.services.errors import DomainError

__all__ = [
    "COLUMNS",
    "MAX_PHOTO_BYTES",
    "MAX_ROWS",
    "TEMPLATE_FILENAME",
    "Column",
    "RosterError",
    "RosterFile",
    "RosterRow",
    "parse_roster",
    "roster_template",
]

MAX_ROWS = 5000  # candidates per file
MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_ROSTER_BYTES = 20 * 1024 * 1024  # the roster file inside a zip, uncompressed
MAX_HEADER_SEARCH = 5  # a title row or two may precede the header
DATA_SHEET = "花名册"
HELP_SHEET = "说明"
TEMPLATE_FILENAME = "考生花名册模板.xlsx"

_DATA_SHEET_NAMES = {"花名册", "考生花名册", "考生名单", "名单", "roster"}
_HELP_SHEET_NAMES = {"说明", "填写说明", "readme", "help"}
_PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
_ROSTER_EXTENSIONS = (".xlsx", ".xlsm", ".csv", ".xls")
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class RosterError(DomainError):
    """A roster was refused; ``problems`` lists every reason, each with file, row and column."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(
            f"花名册有 {len(self.problems)} 处问题，未导入任何考生 (roster refused)",
            [str(p) for p in self.problems],
        )


@dataclass(frozen=True)
class Column:
    key: str  # the RosterRow attribute it fills
    header: str  # the Chinese header of the template
    required: bool
    aliases: tuple[str, ...]  # other accepted headers (English ones for scripting first)
    help: str  # shown in the template's 说明 sheet and the docs
    example: str = ""


COLUMNS: tuple[Column, ...] = (
    Column(
        "name", "姓名", True, ("name", "考生姓名"), "考生姓名，与证件上的一致，最多 50 个字", "李丽"
    ),
    Column(
        "gender",
        "性别",
        True,
        ("gender", "sex"),
        "男 或 女。居民身份证和港澳台居民居住证号码的第 17 位表示性别（奇数为男、偶数为女），须与此一致",
        "女",
    ),
    Column(
        "id_type",
        "证件类型",
        False,
        ("id_type", "证件种类"),
        "留空即为居民身份证；可填：" + "、".join(ID_TYPE_LABELS.values()),
        "居民身份证",
    ),
    Column(
        "id_number",
        "证件号码",
        True,
        ("id_number", "身份证号", "身份证号码", "证件号", "公民身份号码"),
        "按证件类型校验（居民身份证按 GB 11643 校验地区码、出生日期和校验位）；"
        "请把本列设为“文本”格式，避免 Excel 把号码变成科学计数法",
        "11010519491231002X",
    ),
    Column(
        "organisation",
        "工作单位",
        False,
        ("organisation", "organization", "单位", "所在单位", "工作单位名称"),
        "选填，最多 100 个字；考评员回避按工作单位判断，请填写全称",
        "北京市示例职业技术学院",
    ),
    Column(
        "phone",
        "手机号",
        False,
        ("phone", "mobile", "手机", "手机号码", "移动电话"),
        "选填；11 位中国大陆手机号，以 13–19 开头",
        "13800138000",
    ),
    Column(
        "photo",
        "照片",
        False,
        ("photo", "照片文件名", "照片文件"),
        "选填；照片文件名（如 lili.jpg），须与花名册一起打包成 ZIP 上传；JPG 或 PNG，不超过 2 MB。"
        "留空时，压缩包中以证件号码命名的照片（如 11010519491231002X.jpg）会自动匹配",
        "lili.jpg",
    ),
    Column(
        "admission_number",
        "准考证号",
        False,
        ("admission_number", "admission_no"),
        "选填；留空由站点生成。只能包含字母、数字和短横线，最多 32 位",
    ),
    Column("room", "考场", False, ("room", "考场号"), "选填；留空由站点分配"),
    Column("seat", "座位号", False, ("seat", "座号"), "选填；留空由站点分配；同一考场内不能重复"),
)
_BY_KEY = {c.key: c for c in COLUMNS}


@dataclass(frozen=True)
class RosterRow:
    """One candidate read from the roster; values are normalised and valid."""

    line: int  # the spreadsheet row number (1-based, counting the header and any blank rows)
    name: str
    gender: str  # "M" / "F"
    id_type: IdType
    id_number: str  # normalised (upper-case X, ASCII)
    organisation: str | None = None
    phone: str | None = None
    photo_name: str | None = None  # the file name inside the zip
    photo: bytes | None = field(default=None, repr=False)
    birth_date: date | None = None  # from the ID number when it encodes one
    seat: str | None = None
    room: str | None = None
    admission_number: str | None = None


@dataclass(frozen=True)
class RosterFile:
    filename: str  # as uploaded (without directories)
    source_format: str  # "xlsx", "csv", "zip+xlsx" or "zip+csv"
    rows: list[RosterRow]
    encoding: str | None = None  # CSV only: "utf-8", "utf-8-sig", "gb18030" or "utf-16"
    roster_name: str | None = None  # the roster's path inside a zip


# --- entry point -----------------------------------------------------------------------------


def parse_roster(filename: str, data: bytes) -> RosterFile:
    """Parse an uploaded roster. All-or-nothing: any problem raises :class:`RosterError`."""
    name = _basename(filename) or "花名册"
    kind = _sniff(name, data)
    photos: _PhotoBundle | None = None
    if kind == "zip":
        roster_name, roster_data, photos = _open_bundle(name, data)
        display = f"{name}/{roster_name}"
        inner = _sniff(display, roster_data)
        if inner not in ("xlsx", "csv"):  # _sniff raised for anything else
            raise RosterError([Problem(display, "压缩包中的花名册不是 .xlsx 或 .csv 文件")])
        source_format = "zip+" + inner
    else:
        roster_name, roster_data, display, inner = None, data, name, kind
        source_format = kind

    if inner == "xlsx":
        records, encoding = _xlsx_records(display, roster_data), None
    else:
        text, encoding = _decode_csv(display, roster_data)
        records = _csv_records(display, text)

    try:
        rows = _Parser(display, photos).parse(records)
    finally:
        records.close()
        if photos is not None:
            photos.archive.close()
    return RosterFile(name, source_format, rows, encoding, roster_name)


def _basename(filename: str) -> str:
    return re.split(r"[\\/]", str(filename or "").strip())[-1]


def _fail(file: str, message: str) -> RosterError:
    return RosterError([Problem(file, message)])


_NOT_A_ROSTER = (
    "不是花名册文件：应为 Excel（.xlsx）、CSV 或含花名册和照片的 ZIP 压缩包 (not a spreadsheet)"
)


def _sniff(name: str, data: bytes) -> str:
    """'xlsx', 'zip' or 'csv' by content (the extension is only a hint); raise for anything else."""
    if not data or not data.strip():
        raise _fail(name, "文件是空的 (empty file)")
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, ValueError, OSError):
            raise _fail(name, "ZIP / XLSX 文件已损坏，无法打开 (damaged zip or xlsx)") from None
        if "[Content_Types].xml" in names:
            if any(n.startswith("xl/") for n in names):
                return "xlsx"
            raise _fail(
                name,
                "这是 Word、PowerPoint 等 Office 文档，不是 Excel 表格 (not a spreadsheet)",
            )
        return "zip"
    if data.startswith(_OLE_MAGIC):
        raise _fail(
            name,
            "这是旧版 Excel（.xls）或设置了密码的 Excel 文件，请在 Excel 中“另存为” .xlsx（不设密码）"
            "后再上传 (legacy .xls or encrypted workbook)",
        )
    if data.startswith((b"%PDF", _JPEG_MAGIC, _PNG_MAGIC, b"GIF8", b"Rar!", b"7z\xbc\xaf")):
        raise _fail(name, _NOT_A_ROSTER)
    return "csv"


# --- reading cells ---------------------------------------------------------------------------


Record = tuple[int, list[object]]  # (spreadsheet row number, raw cell values)


def _xlsx_records(display: str, data: bytes) -> Generator[Record, None, None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise _fail(display, f"Excel 文件无法读取，可能已损坏 (unreadable xlsx: {exc})") from None
    try:
        sheets = wb.worksheets
        chosen = next((ws for ws in sheets if ws.title.strip().lower() in _DATA_SHEET_NAMES), None)
        if chosen is None:
            chosen = next(
                (ws for ws in sheets if ws.title.strip().lower() not in _HELP_SHEET_NAMES), None
            )
        if chosen is None:
            raise _fail(display, f"找不到花名册工作表（应命名为“{DATA_SHEET}”）(no data sheet)")
        chosen.reset_dimensions()  # some writers record a wrong used range; read what is there
        for line, values in enumerate(chosen.iter_rows(values_only=True), start=1):
            yield line, list(values)
    finally:
        wb.close()


def _decode_csv(display: str, data: bytes) -> tuple[str, str]:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text, encoding = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise _fail(display, _NOT_A_ROSTER) from None
    elif any(b < 0x20 and b not in (9, 10, 13) or b == 0x7F for b in data[:8192]):
        raise _fail(display, _NOT_A_ROSTER)  # binary: no text file has control bytes
    else:
        try:
            text = data.decode("utf-8-sig")
            encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
        except UnicodeDecodeError:
            try:
                text, encoding = data.decode("gb18030"), "gb18030"
            except UnicodeDecodeError:
                raise _fail(
                    display, "无法识别 CSV 文件的编码，应为 UTF-8 或 GBK (unknown text encoding)"
                ) from None
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in text[:20000]):
        raise _fail(display, _NOT_A_ROSTER)
    return text, encoding


def _csv_records(display: str, text: str) -> Generator[Record, None, None]:
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = max(",\t;", key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for line, values in enumerate(reader, start=1):
            yield line, list(values)
    except csv.Error as exc:
        raise _fail(display, f"CSV 格式错误：{exc} (malformed CSV)") from None


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_SCIENTIFIC = re.compile(r"[+-]?\d+(\.\d+)?[eE][+-]?\d+")
_PRECISION_LOST = (
    "被 Excel 存成了数字，后几位已经丢失；请把该列设为“文本”格式后重新输入号码 "
    "(stored as a number, digits lost)"
)


def _cell_text(value: object) -> tuple[str, str | None]:
    """The cell as stripped text, and a problem if a number lost its digits on the way."""
    if value is None:
        return "", None
    if isinstance(value, bool):
        return ("是" if value else "否"), None
    if isinstance(value, int):
        return str(value), None
    if isinstance(value, float):
        if value.is_integer():
            if abs(value) >= 1e15:
                return f"{value:.15G}", _PRECISION_LOST
            return str(int(value)), None
        return str(value), None
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else str(value)
        ), None
    if isinstance(value, date):
        return value.isoformat(), None
    return str(value).translate(_INVISIBLE).strip(), None


# --- headers ---------------------------------------------------------------------------------


def _header_key(text: str) -> str:
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()
    key = re.sub(r"\((必填|选填|可选|required|optional)\)$", "", key)
    return key.rstrip("*")


_HEADER_LOOKUP: dict[str, Column] = {}
for _col in COLUMNS:
    for _alias in (_col.header, _col.key, *_col.aliases):
        _HEADER_LOOKUP[_header_key(_alias)] = _col


def _letter(index: int) -> str:
    return get_column_letter(index + 1)


# --- photos ----------------------------------------------------------------------------------


@dataclass
class _PhotoBundle:
    """The photos of a zip upload, looked up by the name a roster row gives."""

    zip_name: str
    archive: zipfile.ZipFile
    members: dict[str, zipfile.ZipInfo]  # decoded path -> info

    def find(self, wanted: str) -> tuple[str | None, str | None]:
        """(path in the zip, None) or (None, why not)."""
        wanted = wanted.replace("\\", "/").strip().lstrip("/")
        candidates = [wanted]
        if not PurePosixPath(wanted).suffix:
            candidates += [wanted + ext for ext in _PHOTO_EXTENSIONS]
        for cand in candidates:
            if cand in self.members:
                return cand, None
        for cand in candidates:
            folded = cand.casefold()
            exact = [p for p in self.members if p.casefold() == folded]
            if len(exact) == 1:
                return exact[0], None
            by_name = [p for p in self.members if PurePosixPath(p).name.casefold() == folded]
            if len(by_name) == 1:
                return by_name[0], None
            if len(by_name) > 1:
                return None, (
                    f"压缩包中有多个名为“{cand}”的文件（{'、'.join(sorted(by_name))}），"
                    "请写明所在文件夹 (ambiguous photo name)"
                )
        return None, f"压缩包中找不到照片文件“{wanted}” (photo not in the zip)"

    def by_id_number(self, id_number: str) -> str | None:
        names = {id_number.casefold() + ext for ext in _PHOTO_EXTENSIONS}
        found = [p for p in self.members if PurePosixPath(p).name.casefold() in names]
        return found[0] if len(found) == 1 else None

    def load(self, path: str) -> tuple[bytes | None, str | None]:
        """(photo bytes, None) or (None, why it is not acceptable)."""
        info = self.members[path]
        if PurePosixPath(path).suffix.lower() not in _PHOTO_EXTENSIONS:
            return None, f"照片“{path}”应为 JPG 或 PNG 文件 (photo must be JPG or PNG)"
        if info.file_size > MAX_PHOTO_BYTES:
            return None, (
                f"照片“{path}”大小为 {_human(info.file_size)}，超过 {_human(MAX_PHOTO_BYTES)} 的上限 "
                f"(photo larger than {_human(MAX_PHOTO_BYTES)})"
            )
        try:
            with self.archive.open(info) as fh:
                blob = fh.read(MAX_PHOTO_BYTES + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
            return None, f"照片“{path}”在压缩包中已损坏，无法读取 (damaged in the zip)"
        if len(blob) > MAX_PHOTO_BYTES:
            return None, (
                f"照片“{path}”超过 {_human(MAX_PHOTO_BYTES)} 的上限 "
                f"(photo larger than {_human(MAX_PHOTO_BYTES)})"
            )
        if not (blob.startswith(_JPEG_MAGIC) or blob.startswith(_PNG_MAGIC)):
            return None, (
                f"照片“{path}”不是 JPG 或 PNG 图片（文件内容不符，可能只是改了扩展名）"
                "(not a JPEG or PNG image)"
            )
        damaged = _pillow_problem(blob)
        if damaged:
            return None, f"照片“{path}”{damaged}"
        return blob, None


def _human(size: int) -> str:
    value, unit = (size / 1024 / 1024, "MB") if size >= 1024 * 1024 else (size / 1024, "KB")
    return f"{value:.1f}".removesuffix(".0") + " " + unit


def _pillow_problem(blob: bytes) -> str | None:
    try:
        from PIL import Image  # optional: used when installed
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(blob)) as img:
                fmt = img.format
                img.verify()
    except Exception:
        return "已损坏，无法作为图片打开 (damaged image)"
    if fmt not in ("JPEG", "PNG"):
        return "不是 JPG 或 PNG 图片 (not a JPEG or PNG image)"
    return None


def _zip_member_name(info: zipfile.ZipInfo) -> str:
    """The member's name, decoding GBK names written by Chinese Windows without the UTF-8 flag."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _ignored_member(path: str) -> bool:
    p = PurePosixPath(path)
    return (
        path.endswith("/")
        or path.startswith("__MACOSX/")
        or p.name.startswith((".", "~$"))
        or p.name.lower() in ("thumbs.db", "desktop.ini")
    )


def _open_bundle(name: str, data: bytes) -> tuple[str, bytes, _PhotoBundle]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _fail(name, "ZIP 压缩包已损坏，无法打开 (damaged zip)") from None
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        path = _zip_member_name(info).replace("\\", "/")
        if _ignored_member(path):
            continue
        if info.flag_bits & 0x1:
            raise _fail(name, "压缩包设置了密码，请上传未加密的压缩包 (encrypted zip)")
        members[path] = info
    rosters = [p for p in members if PurePosixPath(p).suffix.lower() in _ROSTER_EXTENSIONS]
    if not rosters:
        raise _fail(name, "压缩包中没有花名册文件（.xlsx 或 .csv）(no roster file in the zip)")
    if len(rosters) > 1:
        raise _fail(
            name,
            f"压缩包中只能有一个花名册文件，实际有 {len(rosters)} 个：{'、'.join(sorted(rosters))} "
            "(more than one roster file)",
        )
    roster = rosters[0]
    info = members.pop(roster)
    if info.file_size > MAX_ROSTER_BYTES:
        raise _fail(f"{name}/{roster}", "花名册文件超过 20 MB (roster file too large)")
    try:
        roster_data = archive.read(info)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
        raise _fail(f"{name}/{roster}", "花名册文件在压缩包中已损坏 (damaged in the zip)") from None
    return roster, roster_data, _PhotoBundle(name, archive, members)


# --- rows ------------------------------------------------------------------------------------

_MOBILE = re.compile(r"1[3-9]\d{9}")
_ADMISSION = re.compile(r"[A-Za-z0-9-]{1,32}")
_GENDERS = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F"}
_GENDER_LABEL = {"M": "男", "F": "女"}


def _rows_text(rows: list[int]) -> str:
    return "、".join(f"第{n}行" for n in rows)


class _Parser:
    def __init__(self, file: str, photos: _PhotoBundle | None):
        self.file = file
        self.photos = photos
        self._problems: list[tuple[int, int, int, Problem]] = []  # (line, column, seq, problem)
        self._columns: dict[str, int] = {}  # column key -> index
        self._headers: dict[int, str] = {}  # index -> header text as written
        self._seen: dict[str, dict[object, list[int]]] = {
            "id_number": {},
            "seat": {},
            "admission_number": {},
            "photo": {},
        }

    def _add(self, message: str, line: int | None, index: int, field_name: str | None) -> None:
        problem = Problem(self.file, message, line, field_name)
        self._problems.append((line or 0, index, len(self._problems), problem))

    def problem(self, message: str, line: int | None, key: str) -> None:
        """A problem with the value of column ``key`` in row ``line``."""
        index = self._columns.get(key, len(COLUMNS) + 999)
        self._add(message, line, index, self._headers.get(index) or _BY_KEY[key].header)

    # -- header

    def _find_header(self, records: Iterator[Record]) -> tuple[Record | None, list[Record]]:
        """The header row and the rows read past it while looking (to be parsed as data)."""
        seen: list[Record] = []
        for line, values in records:
            texts = [_cell_text(v)[0] for v in values]
            if not any(texts):
                continue
            if any(_header_key(t) in _HEADER_LOOKUP for t in texts if t):
                return (line, texts), []
            seen.append((line, values))
            if len(seen) >= MAX_HEADER_SEARCH:
                break
        if not seen:
            return None, []
        line, values = seen[0]
        return (line, [_cell_text(v)[0] for v in values]), seen[1:]

    def _read_header(self, line: int, texts: list[str]) -> None:
        columns: dict[str, int] = {}
        known = "、".join(c.header for c in COLUMNS)
        english = ", ".join(c.key for c in COLUMNS)
        for index, text in enumerate(texts):
            if not text:
                continue
            self._headers[index] = text
            column = _HEADER_LOOKUP.get(_header_key(text))
            if column is None:
                self._add(
                    f"无法识别的列名；可用的列名：{known}（或英文 {english}）(unknown column)",
                    line,
                    index,
                    text,
                )
            elif column.key in columns:
                first = columns[column.key]
                self._add(
                    f"与第 {_letter(first)} 列“{self._headers[first]}”重复，"
                    f"都表示“{column.header}” (duplicate column)",
                    line,
                    index,
                    text,
                )
            else:
                columns[column.key] = index
        self._columns = columns
        for column in COLUMNS:
            if column.required and column.key not in columns:
                self._add(
                    f"缺少必填列“{column.header}” (required column missing)",
                    line,
                    -1,
                    column.header,
                )

    # -- data

    def parse(self, records: Iterator[Record]) -> list[RosterRow]:
        header, leftover = self._find_header(records)
        if header is None:
            raise _fail(self.file, "文件中没有任何内容，找不到表头 (no header row)")
        header_line, header_texts = header
        self._read_header(header_line, header_texts)
        flagged_headless: set[int] = set()

        rows: list[RosterRow] = []
        count = 0
        for line, values in itertools.chain(leftover, records):
            cells = [_cell_text(v) for v in values]
            if not any(text for text, _ in cells):
                continue
            count += 1
            if count > MAX_ROWS:
                raise RosterError(
                    [
                        Problem(
                            self.file,
                            f"考生超过 {MAX_ROWS} 人的上限（本行是第 {count} 个考生），"
                            f"请拆分成多个文件分批导入 (more than {MAX_ROWS} rows)",
                            line,
                        )
                    ]
                )
            for index, (text, _) in enumerate(cells):
                if text and index not in self._headers and index not in flagged_headless:
                    flagged_headless.add(index)
                    self._add(
                        "这一列有数据但没有列名 (data in a column without a header)",
                        line,
                        index,
                        f"第 {_letter(index)} 列",
                    )
            row = self._row(line, cells)
            if row is not None:
                rows.append(row)

        if count == 0:
            self._add("表头下面没有考生数据 (no data rows)", header_line, -1, None)
        self._duplicates("id_number", "证件类型和证件号码相同，同一考生重复 (duplicate ID)")
        self._duplicates("seat", "考场和座位号相同 (duplicate seat)")
        self._duplicates("admission_number", "准考证号相同 (duplicate admission number)")
        self._duplicates("photo", "使用了同一张照片 (same photo)")

        if self._problems:
            self._problems.sort(key=lambda item: item[:3])
            raise RosterError([p for *_, p in self._problems])
        return rows

    def _duplicates(self, key: str, what: str) -> None:
        for lines in self._seen[key].values():
            if len(lines) < 2:
                continue
            for line in lines:
                others = [n for n in lines if n != line]
                self.problem(f"与{_rows_text(others)}重复：{what}", line, key)

    def _row(self, line: int, cells: list[tuple[str, str | None]]) -> RosterRow | None:
        """The row's values, or None after recording why it is not acceptable."""
        ok = True
        lost: set[str] = set()

        def get(key: str) -> str:
            nonlocal ok
            index = self._columns.get(key)
            if index is None or index >= len(cells):
                return ""
            text, precision_lost = cells[index]
            if precision_lost:
                ok = False
                lost.add(key)
                self.problem(f"“{text}”{precision_lost}", line, key)
                return ""
            return text

        def bad(message: str, key: str) -> None:
            nonlocal ok
            ok = False
            self.problem(message, line, key)

        # 姓名
        name = re.sub(r"\s+", " ", get("name")).strip()
        if "name" in self._columns and "name" not in lost:
            if not name:
                bad("必填，不能为空 (required)", "name")
            elif len(name) > 50:
                bad(f"最多 50 个字，实际为 {len(name)} 个 (too long)", "name")
            elif not name.isprintable():
                bad("含有不可打印的控制字符 (control characters)", "name")

        # 性别
        gender_text = get("gender")
        gender = _GENDERS.get(gender_text.lower()) if gender_text else None
        if "gender" in self._columns and "gender" not in lost:
            if not gender_text:
                bad("必填，应为“男”或“女” (required)", "gender")
            elif gender is None:
                bad(f"应为“男”或“女”，实际为“{gender_text}” (must be 男 or 女)", "gender")

        # 证件类型
        id_type: IdType | None = IdType.resident_id
        type_text = get("id_type")
        if type_text:
            try:
                id_type = parse_id_type(type_text)
            except IdTypeError as exc:
                id_type = None
                bad(str(exc), "id_type")

        # 证件号码
        number_text = _clean_number(get("id_number"))
        doc = None
        if "id_number" in self._columns and "id_number" not in lost:
            if not number_text:
                bad("必填，不能为空 (required)", "id_number")
            elif _SCIENTIFIC.fullmatch(number_text):
                bad(f"显示为科学计数法“{number_text}”，{_PRECISION_LOST}", "id_number")
            elif id_type is not None:
                try:
                    doc = parse_id(id_type, number_text)
                except IdNumberError as exc:
                    bad(str(exc), "id_number")
        if doc is not None:
            self._seen["id_number"].setdefault((doc.id_type, doc.number), []).append(line)
            if doc.gender and gender and doc.gender != gender:
                bad(
                    f"与证件号码不符：号码第 17 位表示{_GENDER_LABEL[doc.gender]}性，"
                    f"此处填写为“{gender_text}” (does not match the ID number)",
                    "gender",
                )

        # 工作单位
        organisation = re.sub(r"\s+", " ", get("organisation")).strip() or None
        if organisation and len(organisation) > 100:
            bad(f"最多 100 个字，实际为 {len(organisation)} 个 (too long)", "organisation")

        # 手机号
        phone_text = get("phone")
        phone = None
        if phone_text:
            phone = re.sub(r"[\s\-()（）]", "", unicodedata.normalize("NFKC", phone_text))
            phone = re.sub(r"^(\+86|0086|86)(?=1\d{10}$)", "", _clean_number(phone))
            if not _MOBILE.fullmatch(phone):
                bad(
                    f"应为 11 位、以 13–19 开头的中国大陆手机号，实际为“{phone_text}” "
                    "(11-digit mainland mobile number)",
                    "phone",
                )

        # 准考证号 / 考场 / 座位号
        admission = unicodedata.normalize("NFKC", get("admission_number")) or None
        if admission:
            if _ADMISSION.fullmatch(admission):
                self._seen["admission_number"].setdefault(admission.upper(), []).append(line)
            else:
                bad(
                    f"只能包含字母、数字和短横线，最多 32 位，实际为“{admission}” "
                    "(letters, digits and '-', at most 32)",
                    "admission_number",
                )
        room = get("room") or None
        if room and len(room) > 50:
            bad(f"最多 50 个字，实际为 {len(room)} 个 (too long)", "room")
        seat = unicodedata.normalize("NFKC", get("seat")) or None
        if seat:
            if len(seat) > 10:
                bad(f"最多 10 个字符，实际为 {len(seat)} 个 (too long)", "seat")
            else:
                self._seen["seat"].setdefault((room or "", seat), []).append(line)

        # 照片
        photo_text = get("photo")
        photo_name, photo = None, None
        if photo_text:
            if self.photos is None:
                bad(
                    "填写了照片文件名，但上传的不是 ZIP 压缩包；请把花名册和照片一起打包成 ZIP 上传 "
                    "(photos need a zip upload)",
                    "photo",
                )
            else:
                photo_name, why = self.photos.find(photo_text)
                if photo_name is None:
                    bad(why or "", "photo")
        elif self.photos is not None and doc is not None:
            photo_name = self.photos.by_id_number(doc.number)
        if photo_name is not None and self.photos is not None:
            self._seen["photo"].setdefault(photo_name, []).append(line)
            photo, why = self.photos.load(photo_name)
            if photo is None:
                bad(why or "", "photo")

        if not ok or doc is None or gender is None or not name:
            return None
        return RosterRow(
            line=line,
            name=name,
            gender=gender,
            id_type=doc.id_type,
            id_number=doc.number,
            organisation=organisation,
            phone=phone,
            photo_name=photo_name,
            photo=photo,
            birth_date=doc.birth_date,
            seat=seat,
            room=room,
            admission_number=admission,
        )


def _clean_number(text: str) -> str:
    """An ID or phone number as typed: without a leading apostrophe Excel users add for text."""
    return text.lstrip("'‘’`").strip()


# --- template --------------------------------------------------------------------------------


def roster_template() -> bytes:
    """The downloadable XLSX template: a 花名册 sheet with the headers and dropdowns, and a 说明
    sheet explaining each column, the ZIP-with-photos option and an example row."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.worksheet.datavalidation import DataValidation

    bold = Font(bold=True)
    required_fill = PatternFill("solid", fgColor="FCE4D6")
    optional_fill = PatternFill("solid", fgColor="EDEDED")
    thin = Side(style="thin", color="999999")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    widths = {
        "name": 12,
        "gender": 8,
        "id_type": 24,
        "id_number": 22,
        "organisation": 30,
        "phone": 15,
        "photo": 24,
        "admission_number": 16,
        "room": 10,
        "seat": 8,
    }
    text_columns = {"id_number", "phone", "admission_number", "room", "seat", "photo"}
    last = MAX_ROWS + 1

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    for index, column in enumerate(COLUMNS):
        cell = ws.cell(row=1, column=index + 1, value=column.header)
        cell.font = bold
        cell.fill = required_fill if column.required else optional_fill
        cell.border = box
        cell.alignment = Alignment(horizontal="center")
        letter = _letter(index)
        ws.column_dimensions[letter].width = widths[column.key]
        if column.key in text_columns:
            # Text format for the whole column, so Excel keeps 18-digit numbers and leading zeros.
            ws.column_dimensions[letter].number_format = "@"
    ws.freeze_panes = "A2"

    col = {c.key: _letter(i) for i, c in enumerate(COLUMNS)}
    gender_dv = DataValidation(
        type="list",
        formula1='"男,女"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="性别",
        error="请选择“男”或“女”",
        promptTitle="性别",
        prompt="必填：男 或 女",
        showInputMessage=True,
    )
    gender_dv.add(f"{col['gender']}2:{col['gender']}{last}")
    type_dv = DataValidation(
        type="list",
        formula1='"' + ",".join(ID_TYPE_LABELS.values()) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="证件类型",
        error="请从列表中选择证件类型",
        promptTitle="证件类型",
        prompt="留空即为居民身份证",
        showInputMessage=True,
    )
    type_dv.add(f"{col['id_type']}2:{col['id_type']}{last}")
    ws.add_data_validation(gender_dv)
    ws.add_data_validation(type_dv)

    help_ws = wb.create_sheet(HELP_SHEET)
    help_ws.column_dimensions["A"].width = 14
    help_ws.column_dimensions["B"].width = 8
    help_ws.column_dimensions["C"].width = 80
    help_ws.column_dimensions["D"].width = 24
    help_ws.append(["考生花名册填写说明"])
    help_ws["A1"].font = Font(bold=True, size=14)
    help_ws.append([])
    help_ws.append(["列名", "必填", "说明", "示例"])
    for cell in help_ws[3]:
        cell.font = bold
        cell.border = box
    for column in COLUMNS:
        help_ws.append(
            [column.header, "是" if column.required else "否", column.help, column.example]
        )
        for cell in help_ws[help_ws.max_row]:
            cell.alignment = wrap
            cell.border = box
        help_ws.cell(row=help_ws.max_row, column=4).number_format = "@"

    help_ws.append([])
    help_ws.append(["示例行（仅供参考，请勿复制到“花名册”工作表）"])
    help_ws.cell(row=help_ws.max_row, column=1).font = bold
    help_ws.append([c.header for c in COLUMNS])
    for cell in help_ws[help_ws.max_row]:
        cell.font = bold
    help_ws.append([c.example for c in COLUMNS])
    for cell in help_ws[help_ws.max_row]:
        cell.number_format = "@"

    notes = [
        "填写规则",
        f"1. 在“{DATA_SHEET}”工作表中从第 2 行起每行填写一名考生；不要修改或删除第 1 行的列名，"
        "列的顺序可以调整，不用的选填列可以删除。",
        f"2. 每个文件最多 {MAX_ROWS} 名考生；空行会被跳过。同一文件中证件类型和号码相同的行会被视为重复。",
        "3. 导入是“全部或全不”：只要有一行有问题就不会导入任何考生，系统会一次列出所有问题"
        "（文件、行号、列名和原因），改正后重新上传即可。",
        "4. 也可以上传 CSV 文件（UTF-8 或 GBK 编码均可），第一行为列名，列名与本模板相同。",
        "带照片上传",
        "5. 把本花名册（.xlsx 或 .csv，只能有一个）和考生照片放进同一个 ZIP 压缩包上传；"
        "照片可以放在压缩包中的任意文件夹里。",
        "6. 在“照片”列填写照片文件名（如 lili.jpg）；照片列留空时，"
        "以证件号码命名的照片（如 11010519491231002X.jpg）会自动对应到该考生。",
        "7. 照片须为 JPG 或 PNG 格式，每张不超过 2 MB；建议使用近期免冠证件照。",
    ]
    help_ws.append([])
    for note in notes:
        help_ws.append([note])
        cell = help_ws.cell(row=help_ws.max_row, column=1)
        if not note[0].isdigit():
            cell.font = bold

    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
