"""Certificate numbers (证书编号) per 人社鉴发〔2019〕2号.

A vocational skill level certificate number (职业技能等级证书编码) is one upper-case letter and
21 digits, 22 characters in seven parts::

    position  size  part                               values
    1         1     evaluation agency type (评价机构类别)   Y = 用人单位 (an employer assessing its own
                                                          staff), S = 社会培训评价组织 (a social
                                                          training and evaluation organisation)
    2-5       4     agency code (评价机构代码)              0001-9999 assigned by the Ministry (人社部)
                                                          to agencies filed with it; 0000 for
                                                          agencies filed with a province
    6-7       2     province code of the site             GB/T 2260 province-level code (11-82)
    8-13      6     site serial code (站点序列码)           assigned by the provincial HR department
    14-15     2     year of issue (核发年份)                last two digits of the year, 19 or later
    16        1     skill level (职业技能等级代码)          1-5, see below
    17-22     6     certificate serial (证书序列码)         000001-999999, assigned in order by
                                                          the agency; SkillCert counts per series
                                                          (the 16 characters before it)

Example: ``S000144030001265000123`` is agency S/0001, a site in Guangdong (44) with site code
030001, issued 2026, level 5 (五级/初级工), serial 000123.

The level digit (表5 of the rule) counts down from the entry level::

    5  五级 / 初级工        (1+X 初级)
    4  四级 / 中级工        (1+X 中级)
    3  三级 / 高级工        (1+X 高级)
    2  二级 / 技师
    1  一级 / 高级技师

The 1+X certificates of the Ministry of Education have three levels, 初级/中级/高级; SkillCert
files them under the digits of the same-named worker grades (初级工 5, 中级工 4, 高级工 3). That
alignment is our choice, documented here, not part of the rule. 特级技师 and 首席技师 (added in
2022) use a separate numbering with two letters and cannot be expressed in this format; 学徒工
has no certificate level.

The first 16 characters (everything but the serial) name a *series*; :func:`next_number`
gives the next number in a series from the last one issued. The transactional allocator that
calls it lives in the station.

A pure library module: no Flask, no ``station``, no ``sync``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from certs.identity import PROVINCE_CODES

__all__ = [
    "AGENCY_TYPES",
    "FIRST_YEAR",
    "LENGTH",
    "LEVEL_NAMES",
    "MAX_SERIAL",
    "SERIES_LENGTH",
    "CertificateNumber",
    "CertificateNumberError",
    "ONE_PLUS_X_NAMES",
    "format_number",
    "is_one_plus_x",
    "level_digit",
    "level_name",
    "next_number",
    "next_serial",
    "parse_number",
]

LENGTH = 22
SERIES_LENGTH = 16  # everything but the 6-digit serial
MAX_SERIAL = 999_999
FIRST_YEAR = 2019  # the rule dates from 2019; no number under it has an earlier year

#: Agency type letter -> what it means.
AGENCY_TYPES: dict[str, str] = {"Y": "用人单位", "S": "社会培训评价组织"}

#: Level digit -> the canonical name printed on certificates.
LEVEL_NAMES: dict[int, str] = {
    5: "五级/初级工",
    4: "四级/中级工",
    3: "三级/高级工",
    2: "二级/技师",
    1: "一级/高级技师",
}

#: Level digit -> the 1+X name, for the three digits 1+X certificates use.
ONE_PLUS_X_NAMES: dict[int, str] = {5: "初级", 4: "中级", 3: "高级"}

_LEVEL_ALIASES: dict[str, int] = {}
for _digit, _name in LEVEL_NAMES.items():
    _grade, _title = _name.split("/")
    for _alias in (_name, _grade, _title, f"{_grade}（{_title}）", f"{_grade}({_title})"):
        _LEVEL_ALIASES[_alias] = _digit
# 1+X 初级/中级/高级, with or without the "1+X" in front.
_ONE_PLUS_X_ALIASES = {name: digit for digit, name in ONE_PLUS_X_NAMES.items()}
_LEVEL_ALIASES.update(_ONE_PLUS_X_ALIASES)

_NOT_IN_THIS_FORMAT = {
    "特级技师": "特级技师证书使用两位字母开头的另一套编码，不能用本格式编号",
    "首席技师": "首席技师证书使用另一套编码，不能用本格式编号",
    "学徒工": "学徒工不是职业技能等级，没有等级证书",
}

# Each part: (name in messages, English name, first position, length).
_PARTS = (
    ("评价机构代码", "agency code", 2, 4),
    ("省级代码", "province code", 6, 2),
    ("站点序列码", "site code", 8, 6),
    ("年份代码", "year", 14, 2),
    ("等级代码", "level digit", 16, 1),
    ("证书序列码", "serial", 17, 6),
)


class CertificateNumberError(ValueError):
    """A certificate number, or a part of one, that breaks the rule; the message says which and why."""


_SPACES = re.compile(r"\s+")
_ONE_PLUS_X_PREFIX = re.compile(r"^1\+[xX]")


def _fold(text: str) -> str:
    """Full-width characters to ASCII, every kind of space removed."""
    if text.isascii() and text.isalnum():  # NFKC leaves ASCII as it is; no spaces to remove
        return text
    return _SPACES.sub("", unicodedata.normalize("NFKC", text))


def level_digit(level: str | int) -> int:
    """The level digit (1-5) for a level name, or a digit given as ``int`` or ``str``.

    Accepts ``五级``, ``初级工``, ``五级/初级工``, ``五级（初级工）``, the 1+X names ``初级``,
    ``1+X 中级`` …, and full-width spellings. Raises :class:`CertificateNumberError`.
    """
    if isinstance(level, bool) or not isinstance(level, int | str):
        raise CertificateNumberError(f"等级 {level!r} 应为等级名称或 1–5 的数字 (level: bad type)")
    if isinstance(level, int):
        if level not in LEVEL_NAMES:
            raise CertificateNumberError(
                f"等级代码 {level} 超出范围，应为 1–5 (level digit out of range)"
            )
        return level
    return _named_level_digit(level)


@functools.lru_cache(maxsize=256)  # programmes spell their levels a handful of ways
def _named_level_digit(level: str) -> int:
    key = _fold(level)
    if re.fullmatch(r"\d", key):
        return level_digit(int(key))
    key = _ONE_PLUS_X_PREFIX.sub("", key)
    found = _LEVEL_ALIASES.get(key)
    if found is not None:
        return found
    for name, why in _NOT_IN_THIS_FORMAT.items():
        if name in key:
            raise CertificateNumberError(f"{why} (level: {name} not numbered in this format)")
    accepted = "、".join(LEVEL_NAMES.values())
    raise CertificateNumberError(
        f"无法识别的等级“{level}”，应为：{accepted}，或 1+X 初级/中级/高级 (level: unknown)"
    )


def is_one_plus_x(level: str) -> bool:
    """True for the 1+X level names (``初级``, ``1+X 中级`` …), False for the national grades."""
    return isinstance(level, str) and _one_plus_x(level)


@functools.lru_cache(maxsize=256)
def _one_plus_x(level: str) -> bool:
    return _ONE_PLUS_X_PREFIX.sub("", _fold(level)) in _ONE_PLUS_X_ALIASES


def level_name(digit: int, *, one_plus_x: bool = False) -> str:
    """The name to print for a level digit: ``四级/中级工``, or ``中级`` for a 1+X certificate."""
    if one_plus_x:
        if digit not in ONE_PLUS_X_NAMES:
            raise CertificateNumberError(
                f"1+X 证书只有初级、中级、高级（等级代码 5、4、3），没有等级代码 {digit} "
                "(1+X level digit out of range)"
            )
        return ONE_PLUS_X_NAMES[digit]
    return LEVEL_NAMES[level_digit(digit)]


@dataclass(frozen=True, slots=True)
class CertificateNumber:
    """The seven parts of a certificate number. Construction checks every part."""

    agency_type: str  # "S" or "Y"
    agency_code: str  # 4 digits
    province_code: str  # 2 digits, a real GB/T 2260 province-level code
    site_code: str  # 6 digits
    year: int  # the full year of issue, e.g. 2026
    level: int  # the level digit, 1-5
    serial: int  # 1 … 999999

    def __post_init__(self) -> None:
        if self.agency_type not in AGENCY_TYPES:
            raise CertificateNumberError(
                f"第 1 位评价机构类别应为 S（社会培训评价组织）或 Y（用人单位），"
                f"实际为 {self.agency_type!r} (position 1: agency type must be S or Y)"
            )
        _check_digits("评价机构代码", "agency code", self.agency_code, 4)
        _check_digits("省级代码", "province code", self.province_code, 2)
        if self.province_code not in PROVINCE_CODES:
            raise CertificateNumberError(
                f"省级代码 {self.province_code} 不是有效的省级行政区代码 "
                "(province code: not a GB/T 2260 province code)"
            )
        _check_digits("站点序列码", "site code", self.site_code, 6)
        for label, english, value in (
            ("年份", "year", self.year),
            ("等级代码", "level digit", self.level),
            ("证书序列码", "serial", self.serial),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise CertificateNumberError(f"{label}应为整数 ({english}: expected int)")
        if not FIRST_YEAR <= self.year <= 2099:
            raise CertificateNumberError(
                f"核发年份 {self.year} 超出范围 {FIRST_YEAR}–2099（该编码规则 2019 年起施行）"
                " (year: out of range)"
            )
        if self.level not in LEVEL_NAMES:
            raise CertificateNumberError(
                f"等级代码 {self.level} 超出范围，应为 1–5 (level digit out of range)"
            )
        if not 1 <= self.serial <= MAX_SERIAL:
            raise CertificateNumberError(
                f"证书序列码 {self.serial} 超出范围 000001–{MAX_SERIAL} (serial: out of range)"
            )

    @property
    def series(self) -> str:
        """The first 16 characters: the series whose serials count up together."""
        return (
            f"{self.agency_type}{self.agency_code}{self.province_code}{self.site_code}"
            f"{self.year % 100:02d}{self.level}"
        )

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]

    def with_serial(self, serial: int) -> CertificateNumber:
        return CertificateNumber(
            self.agency_type,
            self.agency_code,
            self.province_code,
            self.site_code,
            self.year,
            self.level,
            serial,
        )

    def __str__(self) -> str:
        return f"{self.series}{self.serial:06d}"


def _check_digits(label: str, english: str, value: object, size: int) -> None:
    if not isinstance(value, str) or len(value) != size or not _is_digits(value):
        raise CertificateNumberError(
            f"{label}应为 {size} 位数字，实际为 {value!r} ({english}: expected {size} digits)"
        )


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_number(text: str) -> CertificateNumber:
    """Parse and check a 22-character certificate number.

    Full-width characters, a lower-case letter and spaces (as people retype numbers) are
    tolerated. Raises :class:`CertificateNumberError` naming the position and the reason.
    """
    if not isinstance(text, str):
        raise CertificateNumberError("证书编号应为文本 (certificate number: expected str)")
    if len(text) > _REMEMBERED_LENGTH:  # long (padded) input: not kept as a cache key
        return _parse_number.__wrapped__(text)
    return _parse_number(text)


_REMEMBERED_LENGTH = 64


@functools.lru_cache(maxsize=4096)
def _parse_number(text: str) -> CertificateNumber:
    """:func:`parse_number` of a text, remembered: a pushed certificate's number is parsed for
    its record and again for its QR token, and a verified one for each scan (the result is
    immutable; a refusal is not remembered)."""
    n = _fold(text).upper()
    if not n:
        raise CertificateNumberError("证书编号为空 (certificate number: empty)")
    if len(n) != LENGTH:
        raise CertificateNumberError(
            f"证书编号应为 {LENGTH} 位，实际为 {len(n)} 位 "
            f"(certificate number: must be {LENGTH} characters, got {len(n)})"
        )
    if n[0] not in AGENCY_TYPES:
        raise CertificateNumberError(
            f"第 1 位评价机构类别应为 S（社会培训评价组织）或 Y（用人单位），实际为“{n[0]}” "
            "(position 1: agency type must be S or Y)"
        )
    for pos in range(2, LENGTH + 1):
        ch = n[pos - 1]
        if not ("0" <= ch <= "9"):
            part = next(p for p in _PARTS if p[2] <= pos < p[2] + p[3])
            raise CertificateNumberError(
                f"第 {pos} 位（{part[0]}）应为数字，实际为“{ch}” "
                f"(position {pos}, {part[1]}: must be a digit)"
            )
    if n[5:7] not in PROVINCE_CODES:
        raise CertificateNumberError(
            f"第 6–7 位省级代码 {n[5:7]} 不是有效的省级行政区代码 "
            "(positions 6-7: not a GB/T 2260 province code)"
        )
    yy = int(n[13:15])
    if 2000 + yy < FIRST_YEAR:
        raise CertificateNumberError(
            f"第 14–15 位年份代码 {n[13:15]} 表示 {2000 + yy} 年，早于该编码规则施行的 "
            f"{FIRST_YEAR} 年 (positions 14-15: year before {FIRST_YEAR})"
        )
    if int(n[15]) not in LEVEL_NAMES:
        raise CertificateNumberError(
            f"第 16 位等级代码应为 1–5，实际为 {n[15]} (position 16: level digit out of range)"
        )
    if int(n[16:]) == 0:
        raise CertificateNumberError(
            "第 17–22 位证书序列码不能为 000000，应从 000001 起 (positions 17-22: serial is zero)"
        )
    return CertificateNumber(
        agency_type=n[0],
        agency_code=n[1:5],
        province_code=n[5:7],
        site_code=n[7:13],
        year=2000 + yy,
        level=int(n[15]),
        serial=int(n[16:]),
    )


def format_number(
    *,
    agency_type: str,
    agency_code: str,
    province_code: str,
    site_code: str,
    year: int,
    level: str | int,
    serial: int,
) -> str:
    """The 22-character number for these parts; ``level`` may be a name (``四级``) or a digit."""
    return str(
        CertificateNumber(
            agency_type=agency_type,
            agency_code=agency_code,
            province_code=province_code,
            site_code=site_code,
            year=year,
            level=level_digit(level),
            serial=serial,
        )
    )


def next_serial(last_serial: int | None) -> int:
    """The serial after ``last_serial`` (``None``: nothing issued yet in the series -> 1).

    Raises :class:`CertificateNumberError` when the series is used up (999999 issued).
    """
    if last_serial is None:
        return 1
    if isinstance(last_serial, bool) or not isinstance(last_serial, int):
        raise CertificateNumberError("上一个证书序列码应为整数 (last serial: expected int)")
    if not 0 <= last_serial <= MAX_SERIAL:
        raise CertificateNumberError(
            f"上一个证书序列码 {last_serial} 超出范围 (last serial: out of range)"
        )
    if last_serial == MAX_SERIAL:
        raise CertificateNumberError(
            f"证书序列码已用完（已发到 {MAX_SERIAL}），本年度本等级不能再发证 (serial exhausted)"
        )
    return last_serial + 1


def next_number(series: CertificateNumber | str, last: str | None) -> str:
    """The next number of ``series`` after ``last``, the highest number issued in it (or None).

    ``series`` is a :class:`CertificateNumber` (its serial is ignored) or the 16-character
    series prefix. Numbers of one series have equal length, so the highest is simply the
    greatest string (``max(number)`` in SQL). ``last`` must belong to the series.
    """
    if isinstance(series, str):
        prefix = _fold(series).upper()
        if len(prefix) != SERIES_LENGTH:
            raise CertificateNumberError(
                f"证书编号系列应为前 {SERIES_LENGTH} 位，实际为 {len(prefix)} 位 "
                f"(series: must be {SERIES_LENGTH} characters)"
            )
        base = parse_number(prefix + "000001")
    else:
        base = series
    if last is None:
        return str(base.with_serial(1))
    previous = parse_number(last)
    if previous.series != base.series:
        raise CertificateNumberError(
            f"上一个证书编号 {previous} 不属于系列 {base.series} (last: belongs to another series)"
        )
    return str(base.with_serial(next_serial(previous.serial)))
