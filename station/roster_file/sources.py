"""Where a roster's cells come from: telling XLSX, CSV and ZIP uploads apart by content, reading
rows of raw cells from a workbook or a CSV text in whatever encoding Excel wrote it, and taking
the roster and its photos out of a ZIP."""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Generator
from datetime import date, datetime
from pathlib import PurePosixPath

import openpyxl

from station.roster_file.columns import DATA_SHEET
from station.roster_file.errors import fail
from station.roster_file.photos import JPEG_MAGIC, PNG_MAGIC, PhotoBundle

MAX_ROSTER_BYTES = 20 * 1024 * 1024  # the roster file inside a zip, uncompressed

_DATA_SHEET_NAMES = {"花名册", "考生花名册", "考生名单", "名单", "roster"}
_HELP_SHEET_NAMES = {"说明", "填写说明", "readme", "help"}
_ROSTER_EXTENSIONS = (".xlsx", ".xlsm", ".csv", ".xls")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_NOT_A_ROSTER = (
    "不是花名册文件：应为 Excel（.xlsx）、CSV 或含花名册和照片的 ZIP 压缩包 (not a spreadsheet)"
)


def sniff(name: str, data: bytes) -> str:
    """'xlsx', 'zip' or 'csv' by content (the extension is only a hint); raise for anything else."""
    if not data or not data.strip():
        raise fail(name, "文件是空的 (empty file)")
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, ValueError, OSError):
            raise fail(name, "ZIP / XLSX 文件已损坏，无法打开 (damaged zip or xlsx)") from None
        if "[Content_Types].xml" in names:
            if any(n.startswith("xl/") for n in names):
                return "xlsx"
            raise fail(
                name,
                "这是 Word、PowerPoint 等 Office 文档，不是 Excel 表格 (not a spreadsheet)",
            )
        return "zip"
    if data.startswith(_OLE_MAGIC):
        raise fail(
            name,
            "这是旧版 Excel（.xls）或设置了密码的 Excel 文件，请在 Excel 中“另存为” .xlsx（不设密码）"
            "后再上传 (legacy .xls or encrypted workbook)",
        )
    if data.startswith((b"%PDF", JPEG_MAGIC, PNG_MAGIC, b"GIF8", b"Rar!", b"7z\xbc\xaf")):
        raise fail(name, _NOT_A_ROSTER)
    return "csv"


# --- reading cells ---------------------------------------------------------------------------


Record = tuple[int, list[object]]  # (spreadsheet row number, raw cell values)


def xlsx_records(display: str, data: bytes) -> Generator[Record, None, None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise fail(display, f"Excel 文件无法读取，可能已损坏 (unreadable xlsx: {exc})") from None
    try:
        sheets = wb.worksheets
        chosen = next((ws for ws in sheets if ws.title.strip().lower() in _DATA_SHEET_NAMES), None)
        if chosen is None:
            chosen = next(
                (ws for ws in sheets if ws.title.strip().lower() not in _HELP_SHEET_NAMES), None
            )
        if chosen is None:
            raise fail(display, f"找不到花名册工作表（应命名为“{DATA_SHEET}”）(no data sheet)")
        chosen.reset_dimensions()  # some writers record a wrong used range; read what is there
        for line, values in enumerate(chosen.iter_rows(values_only=True), start=1):
            yield line, list(values)
    finally:
        wb.close()


def decode_csv(display: str, data: bytes) -> tuple[str, str]:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text, encoding = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise fail(display, _NOT_A_ROSTER) from None
    elif any(b < 0x20 and b not in (9, 10, 13) or b == 0x7F for b in data[:8192]):
        raise fail(display, _NOT_A_ROSTER)  # binary: no text file has control bytes
    else:
        try:
            text = data.decode("utf-8-sig")
            encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
        except UnicodeDecodeError:
            try:
                text, encoding = data.decode("gb18030"), "gb18030"
            except UnicodeDecodeError:
                raise fail(
                    display, "无法识别 CSV 文件的编码，应为 UTF-8 或 GBK (unknown text encoding)"
                ) from None
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in text[:20000]):
        raise fail(display, _NOT_A_ROSTER)
    return text, encoding


def csv_records(display: str, text: str) -> Generator[Record, None, None]:
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = max(",\t;", key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for line, values in enumerate(reader, start=1):
            yield line, list(values)
    except csv.Error as exc:
        raise fail(display, f"CSV 格式错误：{exc} (malformed CSV)") from None


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
SCIENTIFIC = re.compile(r"[+-]?\d+(\.\d+)?[eE][+-]?\d+")
PRECISION_LOST = (
    "被 Excel 存成了数字，后几位已经丢失；请把该列设为“文本”格式后重新输入号码 "
    "(stored as a number, digits lost)"
)


def cell_text(value: object) -> tuple[str, str | None]:
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
                return f"{value:.15G}", PRECISION_LOST
            return str(int(value)), None
        return str(value), None
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else str(value)
        ), None
    if isinstance(value, date):
        return value.isoformat(), None
    return str(value).translate(_INVISIBLE).strip(), None


# --- zip uploads -----------------------------------------------------------------------------


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


def open_bundle(name: str, data: bytes) -> tuple[str, bytes, PhotoBundle]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise fail(name, "ZIP 压缩包已损坏，无法打开 (damaged zip)") from None
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        path = _zip_member_name(info).replace("\\", "/")
        if _ignored_member(path):
            continue
        if info.flag_bits & 0x1:
            raise fail(name, "压缩包设置了密码，请上传未加密的压缩包 (encrypted zip)")
        members[path] = info
    rosters = [p for p in members if PurePosixPath(p).suffix.lower() in _ROSTER_EXTENSIONS]
    if not rosters:
        raise fail(name, "压缩包中没有花名册文件（.xlsx 或 .csv）(no roster file in the zip)")
    if len(rosters) > 1:
        raise fail(
            name,
            f"压缩包中只能有一个花名册文件，实际有 {len(rosters)} 个：{'、'.join(sorted(rosters))} "
            "(more than one roster file)",
        )
    roster = rosters[0]
    info = members.pop(roster)
    if info.file_size > MAX_ROSTER_BYTES:
        raise fail(f"{name}/{roster}", "花名册文件超过 20 MB (roster file too large)")
    try:
        roster_data = archive.read(info)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
        raise fail(f"{name}/{roster}", "花名册文件在压缩包中已损坏 (damaged in the zip)") from None
    return roster, roster_data, PhotoBundle(name, archive, members)
