"""Identity documents (证件): types, validation and masking.

The resident identity number (公民身份号码) is checked per GB 11643-1999: an 18-character number
made of a 6-digit administrative region code, an 8-digit birth date, a 3-digit sequence code whose
last digit is odd for men and even for women, and a check character computed with ISO 7064
MOD 11-2. Residence permits for Hong Kong, Macao and Taiwan residents (港澳台居民居住证) and the
2023 foreign permanent resident ID card (外国人永久居留身份证) use the same structure.

Every check raises :class:`IdNumberError` with one specific reason in Chinese (with an English
gloss), so that a roster importer can show it next to the row and column it came from.

A pure library module: no Flask, no ``station``, no ``sync``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

__all__ = [
    "ID_TYPE_LABELS",
    "IdDocument",
    "IdNumberError",
    "IdType",
    "IdTypeError",
    "ResidentId",
    "check_character",
    "mask_id",
    "normalise_number",
    "parse_id",
    "parse_id_type",
    "parse_resident_id",
    "validate_id",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")


class IdType(StrEnum):
    """The kinds of identity document a candidate may register with (stored by code)."""

    resident_id = "resident_id"
    passport = "passport"
    hk_macau_permit = "hk_macau_permit"
    taiwan_permit = "taiwan_permit"
    foreign_permanent_resident = "foreign_permanent_resident"
    hk_macau_taiwan_residence = "hk_macau_taiwan_residence"
    other = "other"

    @property
    def label(self) -> str:
        return ID_TYPE_LABELS[self]


#: The Chinese label shown in the UI, in templates and on certificates.
ID_TYPE_LABELS: dict[IdType, str] = {
    IdType.resident_id: "居民身份证",
    IdType.passport: "护照",
    IdType.hk_macau_permit: "港澳居民来往内地通行证",
    IdType.taiwan_permit: "台湾居民来往大陆通行证",
    IdType.foreign_permanent_resident: "外国人永久居留身份证",
    IdType.hk_macau_taiwan_residence: "港澳台居民居住证",
    IdType.other: "其他",
}

# Everyday names people type instead of the official label.
_ID_TYPE_ALIASES: dict[str, IdType] = {
    "身份证": IdType.resident_id,
    "二代身份证": IdType.resident_id,
    "居民身份证号码": IdType.resident_id,
    "公民身份号码": IdType.resident_id,
    "港澳通行证": IdType.hk_macau_permit,
    "回乡证": IdType.hk_macau_permit,
    "港澳居民来往内地通行证": IdType.hk_macau_permit,
    "台胞证": IdType.taiwan_permit,
    "外国人永久居留证": IdType.foreign_permanent_resident,
    "永久居留身份证": IdType.foreign_permanent_resident,
    "港澳居民居住证": IdType.hk_macau_taiwan_residence,
    "台湾居民居住证": IdType.hk_macau_taiwan_residence,
    "居住证": IdType.hk_macau_taiwan_residence,
    "其它": IdType.other,
}


class IdTypeError(ValueError):
    """A value that names no known ID type."""


class IdNumberError(ValueError):
    """An ID number that is malformed or impossible; the message says exactly why (in Chinese)."""


def _key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


_ID_TYPE_LOOKUP: dict[str, IdType] = {
    **{_key(t.value): t for t in IdType},
    **{_key(label): t for t, label in ID_TYPE_LABELS.items()},
    **{_key(alias): t for alias, t in _ID_TYPE_ALIASES.items()},
}


def parse_id_type(value: str | IdType) -> IdType:
    """The ID type named by its code (``passport``) or its Chinese label (``护照``)."""
    if isinstance(value, IdType):
        return value
    found = _ID_TYPE_LOOKUP.get(_key(str(value)))
    if found is None:
        accepted = "、".join(ID_TYPE_LABELS.values())
        raise IdTypeError(f"无法识别的证件类型“{value}”，应为：{accepted} (unknown ID type)")
    return found


# --- GB 11643 --------------------------------------------------------------------------------

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_MAP = "10X98765432"

#: Province-level codes of GB/T 2260 (11–15, 21–23, 31–37, 41–46, 50–54, 61–65, 71, 81, 82).
PROVINCE_CODES: frozenset[str] = frozenset(
    [str(n) for n in range(11, 16)]
    + [str(n) for n in range(21, 24)]
    + [str(n) for n in range(31, 38)]
    + [str(n) for n in range(41, 47)]
    + [str(n) for n in range(50, 55)]
    + [str(n) for n in range(61, 66)]
    + ["71", "81", "82"]
)

#: Region codes used by residence permits for Hong Kong, Macao and Taiwan residents.
_RESIDENCE_PERMIT_REGIONS = {"810000": "香港", "820000": "澳门", "830000": "台湾"}

_EARLIEST_BIRTH = date(1900, 1, 1)


def check_character(first17: str) -> str:
    """The GB 11643 / ISO 7064 MOD 11-2 check character ('0'–'9' or 'X') for 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("check_character needs exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_MAP[total % 11]


@dataclass(frozen=True)
class ResidentId:
    """A valid 18-character resident identity number and what it encodes."""

    number: str  # normalised: upper-case 'X'
    region_code: str  # the 6-digit administrative region code (GB/T 2260)
    birth_date: date
    gender: str  # "M" or "F", from the parity of the 17th digit

    @property
    def province_code(self) -> str:
        return self.region_code[:2]


def normalise_number(number: str) -> str:
    """Full-width characters folded to ASCII (NFKC), surrounding whitespace removed, upper-cased."""
    return unicodedata.normalize("NFKC", str(number)).strip().upper()


def _today(today: date | None) -> date:
    return today if today is not None else datetime.now(SHANGHAI).date()


def _describe_char(ch: str) -> str:
    if ch.isspace():
        return "空格"
    return f"“{ch}”"


def _check_shape(number: str, kind: str) -> None:
    if not number:
        raise IdNumberError(f"{kind}为空 (empty)")
    if len(number) != 18:
        hint = ""
        if kind == "居民身份证号码" and len(number) == 15 and number.isdigit():
            hint = "；15 位的第一代身份证已停止使用，请填写 18 位号码"
        raise IdNumberError(
            f"{kind}应为 18 位，实际为 {len(number)} 位{hint} (must be 18 characters, got {len(number)})"
        )
    for pos, ch in enumerate(number[:17], start=1):
        if not ("0" <= ch <= "9"):
            raise IdNumberError(
                f"第 {pos} 位应为数字，实际为{_describe_char(ch)} (character {pos} must be a digit)"
            )
    last = number[17]
    if not ("0" <= last <= "9" or last == "X"):
        raise IdNumberError(
            f"第 18 位应为数字或 X，实际为{_describe_char(last)} (character 18 must be a digit or X)"
        )


def _check_birth(number: str, today: date | None) -> date:
    raw = number[6:14]
    try:
        born = date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
    except ValueError:
        raise IdNumberError(f"第 7–14 位的出生日期 {raw} 不存在 (impossible birth date)") from None
    if born < _EARLIEST_BIRTH:
        raise IdNumberError(f"出生日期 {raw} 早于 1900 年 (birth date before 1900)")
    if born > _today(today):
        raise IdNumberError(f"出生日期 {raw} 晚于今天 (birth date in the future)")
    return born


def _check_check_char(number: str) -> None:
    expected = check_character(number[:17])
    if number[17] != expected:
        raise IdNumberError(
            f"校验位应为 {expected}，实际为 {number[17]} "
            f"(check character should be {expected}, got {number[17]})"
        )


def _gender(number: str) -> str:
    return "M" if int(number[16]) % 2 else "F"


def parse_resident_id(number: str, *, today: date | None = None) -> ResidentId:
    """Validate a resident identity number (居民身份证号码) and return what it encodes.

    Accepts a lower-case ``x`` and full-width characters. Raises :class:`IdNumberError`.
    """
    kind = "居民身份证号码"
    n = normalise_number(number)
    _check_shape(n, kind)
    region = n[:6]
    if region in _RESIDENCE_PERMIT_REGIONS:
        raise IdNumberError(
            f"前 6 位 {region} 是{_RESIDENCE_PERMIT_REGIONS[region]}居民居住证的地区码，"
            "证件类型应选“港澳台居民居住证” (this is a residence permit number)"
        )
    if region[:2] not in PROVINCE_CODES:
        raise IdNumberError(
            f"前 2 位 {region[:2]} 不是有效的省级行政区代码 (unknown province code)"
        )
    if region[2:] == "0000":
        raise IdNumberError(
            f"前 6 位 {region} 只是省级代码，不是发证地的县级行政区代码 (not a county-level region code)"
        )
    born = _check_birth(n, today)
    _check_check_char(n)
    return ResidentId(number=n, region_code=region, birth_date=born, gender=_gender(n))


# --- every ID type ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IdDocument:
    """A validated ID: its type, normalised number, and birth date and gender if the number
    encodes them (resident IDs, residence permits, the 18-character permanent residence card)."""

    id_type: IdType
    number: str
    birth_date: date | None = None
    gender: str | None = None  # "M" / "F"


_PASSPORT = re.compile(r"[A-Z0-9]{5,17}")
_HK_MACAU_PERMIT = re.compile(r"[HM](\d{8}|\d{10})")
_TAIWAN_PERMIT = re.compile(r"\d{8}|\d{10}")
_FOREIGN_OLD = re.compile(r"[A-Z]{3}\d{12}")


def _residence_permit(n: str, today: date | None) -> IdDocument:
    kind = "港澳台居民居住证号码"
    _check_shape(n, kind)
    if n[:6] not in _RESIDENCE_PERMIT_REGIONS:
        raise IdNumberError(
            f"港澳台居民居住证号码应以 810000（香港）、820000（澳门）或 830000（台湾）开头，"
            f"实际为 {n[:6]} (must start with 810000, 820000 or 830000)"
        )
    born = _check_birth(n, today)
    _check_check_char(n)
    return IdDocument(IdType.hk_macau_taiwan_residence, n, born, _gender(n))


def _foreign_permanent(n: str, today: date | None) -> IdDocument:
    if len(n) == 15:
        if not _FOREIGN_OLD.fullmatch(n):
            raise IdNumberError(
                "15 位的外国人永久居留身份证号码应为 3 位英文字母（国籍代码）加 12 位数字 "
                "(15-character form: 3 letters then 12 digits)"
            )
        return IdDocument(IdType.foreign_permanent_resident, n)
    if len(n) != 18:
        raise IdNumberError(
            f"外国人永久居留身份证号码应为 18 位（2023 版）或 15 位（旧版），实际为 {len(n)} 位 "
            f"(must be 18 or 15 characters, got {len(n)})"
        )
    _check_shape(n, "外国人永久居留身份证号码")
    if n[0] != "9":
        raise IdNumberError(
            f"18 位的外国人永久居留身份证号码应以 9 开头，实际为 {n[0]} (must start with 9)"
        )
    if n[1:3] not in PROVINCE_CODES:
        raise IdNumberError(f"第 2–3 位 {n[1:3]} 不是有效的受理地省级代码 (unknown province code)")
    born = _check_birth(n, today)
    _check_check_char(n)
    return IdDocument(IdType.foreign_permanent_resident, n, born, _gender(n))


def parse_id(id_type: IdType | str, number: str, *, today: date | None = None) -> IdDocument:
    """Validate ``number`` as an ID of ``id_type`` (a type, its code or its Chinese label).

    Raises :class:`IdTypeError` for an unknown type and :class:`IdNumberError` for a bad number.
    """
    t = parse_id_type(id_type)
    n = normalise_number(number)
    label = ID_TYPE_LABELS[t]
    if not n:
        raise IdNumberError(f"{label}号码为空 (empty)")
    if t is IdType.resident_id:
        rid = parse_resident_id(n, today=today)
        return IdDocument(t, rid.number, rid.birth_date, rid.gender)
    if t is IdType.hk_macau_taiwan_residence:
        return _residence_permit(n, today)
    if t is IdType.foreign_permanent_resident:
        return _foreign_permanent(n, today)
    if t is IdType.passport:
        if not _PASSPORT.fullmatch(n):
            bad = [ch for ch in n if not ("A" <= ch <= "Z" or "0" <= ch <= "9")]
            if bad:
                raise IdNumberError(
                    f"护照号码只能包含英文字母和数字，不能有{_describe_char(bad[0])} "
                    "(letters and digits only)"
                )
            raise IdNumberError(
                f"护照号码应为 5–17 位，实际为 {len(n)} 位 (must be 5–17 characters, got {len(n)})"
            )
        return IdDocument(t, n)
    if t is IdType.hk_macau_permit:
        if not _HK_MACAU_PERMIT.fullmatch(n):
            raise IdNumberError(
                f"港澳居民来往内地通行证号码应为 H 或 M 加 8 位或 10 位数字，实际为“{n}” "
                "(H or M followed by 8 or 10 digits)"
            )
        return IdDocument(t, n)
    if t is IdType.taiwan_permit:
        if not _TAIWAN_PERMIT.fullmatch(n):
            raise IdNumberError(
                f"台湾居民来往大陆通行证号码应为 8 位或 10 位数字，实际为“{n}” (8 or 10 digits)"
            )
        return IdDocument(t, n)
    # other
    if len(n) > 32:
        raise IdNumberError(
            f"证件号码最长 32 个字符，实际为 {len(n)} 个 (at most 32 characters, got {len(n)})"
        )
    for pos, ch in enumerate(n, start=1):
        if not ch.isprintable():
            raise IdNumberError(
                f"证件号码第 {pos} 个字符是不可打印的控制字符 (character {pos} is not printable)"
            )
    return IdDocument(t, n)


def validate_id(id_type: IdType | str, number: str, *, today: date | None = None) -> str:
    """The normalised number if it is a valid ID of ``id_type``; else :class:`IdNumberError`."""
    return parse_id(id_type, number, today=today).number


def mask_id(number: str) -> str:
    """Mask an ID number for display: keep the first 3 and last 4 characters, star the middle.

    Numbers shorter than 12 characters (where that would show most of them) keep only the last 2.
    The result has the same length as the input.
    """
    n = str(number).strip()
    if len(n) >= 12:
        return n[:3] + "*" * (len(n) - 7) + n[-4:]
    if len(n) > 2:
        return "*" * (len(n) - 2) + n[-2:]
    return "*" * len(n)
