"""Reading a roster's records: finding the header row, mapping its columns, and validating each
record into a :class:`RosterRow` — collecting every problem rather than stopping at the first."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from certs.identity import IdNumberError, IdType, IdTypeError, parse_id, parse_id_type
from question_bank.errors import Problem

# The limits are read through the package at call time, so they are set (and patched) in one place.
from station import roster_file
from station.roster_file.columns import BY_KEY, COLUMNS, HEADER_LOOKUP, column_letter, header_key
from station.roster_file.errors import RosterError, fail
from station.roster_file.photos import PhotoBundle
from station.roster_file.sources import PRECISION_LOST, SCIENTIFIC, Record, cell_text

MAX_HEADER_SEARCH = 5  # a title row or two may precede the header


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


_MOBILE = re.compile(r"1[3-9]\d{9}")
_ADMISSION = re.compile(r"[A-Za-z0-9-]{1,32}")
_GENDERS = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F"}
_GENDER_LABEL = {"M": "男", "F": "女"}


def _rows_text(rows: list[int]) -> str:
    return "、".join(f"第{n}行" for n in rows)


class RosterParser:
    def __init__(self, file: str, photos: PhotoBundle | None):
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
        self._add(message, line, index, self._headers.get(index) or BY_KEY[key].header)

    # -- header

    def _find_header(self, records: Iterator[Record]) -> tuple[Record | None, list[Record]]:
        """The header row and the rows read past it while looking (to be parsed as data)."""
        seen: list[Record] = []
        for line, values in records:
            texts = [cell_text(v)[0] for v in values]
            if not any(texts):
                continue
            if any(header_key(t) in HEADER_LOOKUP for t in texts if t):
                return (line, texts), []
            seen.append((line, values))
            if len(seen) >= MAX_HEADER_SEARCH:
                break
        if not seen:
            return None, []
        line, values = seen[0]
        return (line, [cell_text(v)[0] for v in values]), seen[1:]

    def _read_header(self, line: int, texts: list[str]) -> None:
        columns: dict[str, int] = {}
        known = "、".join(c.header for c in COLUMNS)
        english = ", ".join(c.key for c in COLUMNS)
        for index, text in enumerate(texts):
            if not text:
                continue
            self._headers[index] = text
            column = HEADER_LOOKUP.get(header_key(text))
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
                    f"与第 {column_letter(first)} 列“{self._headers[first]}”重复，"
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
            raise fail(self.file, "文件中没有任何内容，找不到表头 (no header row)")
        header_line, header_texts = header
        self._read_header(header_line, header_texts)
        flagged_headless: set[int] = set()

        rows: list[RosterRow] = []
        count = 0
        for line, values in itertools.chain(leftover, records):
            cells = [cell_text(v) for v in values]
            if not any(text for text, _ in cells):
                continue
            count += 1
            if count > roster_file.MAX_ROWS:
                raise RosterError(
                    [
                        Problem(
                            self.file,
                            f"考生超过 {roster_file.MAX_ROWS} 人的上限（本行是第 {count} 个考生），"
                            f"请拆分成多个文件分批导入 (more than {roster_file.MAX_ROWS} rows)",
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
                        f"第 {column_letter(index)} 列",
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
            elif SCIENTIFIC.fullmatch(number_text):
                bad(f"显示为科学计数法“{number_text}”，{PRECISION_LOST}", "id_number")
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
