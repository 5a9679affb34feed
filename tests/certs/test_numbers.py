"""Certificate numbers per 人社鉴发〔2019〕2号: parsing, every refusal, formatting, serials."""

from __future__ import annotations

import random
import re
import string
import unicodedata

import pytest

from certs.numbers import (
    LEVEL_NAMES,
    CertificateNumber,
    CertificateNumberError,
    _fold,
    _parse_number,
    format_number,
    is_one_plus_x,
    level_digit,
    level_name,
    next_number,
    next_serial,
    parse_number,
)

GOOD = "S000144030001265000123"


def test_parse_gives_every_part():
    number = parse_number(GOOD)
    assert number == CertificateNumber(
        agency_type="S",
        agency_code="0001",
        province_code="44",
        site_code="030001",
        year=2026,
        level=5,
        serial=123,
    )
    assert str(number) == GOOD
    assert number.series == GOOD[:16]
    assert number.level_name == "五级/初级工"


def test_employer_number_and_provincial_agency_code():
    """Y = 用人单位; agency code 0000 = filed with a province, not the Ministry."""
    number = parse_number("Y000023000001191999999")
    assert (number.agency_type, number.agency_code, number.province_code) == ("Y", "0000", "23")
    assert (number.year, number.level, number.serial) == (2019, 1, 999_999)


def test_retyped_forms_are_tolerated():
    assert str(parse_number(" s0001 4403 0001 2650 00123 ")) == GOOD
    assert str(parse_number("Ｓ０００１４４０３０００１２６５０００１２３")) == GOOD  # full-width


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "为空"),
        ("S00014403000126500012", "应为 22 位，实际为 21 位"),
        ("S0001440300012650001234", "应为 22 位，实际为 23 位"),
        ("X000144030001265000123", "第 1 位评价机构类别应为 S"),
        ("1000144030001265000123", "第 1 位评价机构类别应为 S"),
        ("S00A144030001265000123", "第 4 位（评价机构代码）应为数字"),
        ("S0001A4030001265000123", "第 6 位（省级代码）应为数字"),
        ("S00014403000X265000123", "第 13 位（站点序列码）应为数字"),
        ("S000144030001-65000123", "第 14 位（年份代码）应为数字"),
        ("S00014403000126L000123", "第 16 位（等级代码）应为数字"),
        ("S0001440300012650001O3", "第 21 位（证书序列码）应为数字"),
        ("S000100030001265000123", "省级代码 00 不是有效的省级行政区代码"),
        ("S000116030001265000123", "省级代码 16 不是有效的省级行政区代码"),
        ("S000199030001265000123", "省级代码 99 不是有效的省级行政区代码"),
        ("S000144030001185000123", "2018 年，早于"),
        ("S000144030001260000123", "第 16 位等级代码应为 1–5，实际为 0"),
        ("S000144030001266000123", "第 16 位等级代码应为 1–5，实际为 6"),
        ("S000144030001269000123", "实际为 9"),
        ("S000144030001265000000", "不能为 000000"),
    ],
)
def test_refusals_name_the_position_and_reason(text, message):
    with pytest.raises(CertificateNumberError, match=message):
        parse_number(text)


def test_not_text_is_refused():
    with pytest.raises(CertificateNumberError, match="应为文本"):
        parse_number(1234)  # type: ignore[arg-type]


@pytest.mark.parametrize("province", ["11", "15", "23", "37", "46", "54", "65", "71", "81", "82"])
def test_every_kind_of_province_code_is_accepted(province):
    assert parse_number(f"S0001{province}030001265000123").province_code == province


# --------------------------------------------------------------------------- levels


@pytest.mark.parametrize(
    ("name", "digit"),
    [
        ("五级", 5),
        ("初级工", 5),
        ("五级/初级工", 5),
        ("五级（初级工）", 5),
        ("四级", 4),
        ("中级工", 4),
        ("三级/高级工", 3),
        ("二级", 2),
        ("技师", 2),
        ("一级", 1),
        ("高级技师", 1),
        ("一级/高级技师", 1),
        ("初级", 5),
        ("1+X 中级", 4),
        ("1+x高级", 3),
        ("１＋Ｘ 初级", 5),
        (" 中级 ", 4),
        ("3", 3),
        (2, 2),
    ],
)
def test_level_digit(name, digit):
    assert level_digit(name) == digit


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("特级技师", "两位字母开头的另一套编码"),
        ("首席技师", "另一套编码"),
        ("学徒工", "没有等级证书"),
        ("六级", "无法识别的等级"),
        ("", "无法识别的等级"),
        (0, "超出范围"),
        (6, "超出范围"),
        ("7", "超出范围"),
        (True, "bad type"),
        (None, "bad type"),
    ],
)
def test_level_refusals(name, message):
    with pytest.raises(CertificateNumberError, match=message):
        level_digit(name)


def test_level_names_and_one_plus_x():
    assert [LEVEL_NAMES[d] for d in (5, 4, 3, 2, 1)] == [
        "五级/初级工",
        "四级/中级工",
        "三级/高级工",
        "二级/技师",
        "一级/高级技师",
    ]
    assert is_one_plus_x("中级") and is_one_plus_x("1+X 高级")
    assert not is_one_plus_x("中级工") and not is_one_plus_x("四级") and not is_one_plus_x("")
    assert level_name(4) == "四级/中级工"
    assert level_name(4, one_plus_x=True) == "中级"
    with pytest.raises(CertificateNumberError, match="1\\+X 证书只有初级、中级、高级"):
        level_name(2, one_plus_x=True)


# --------------------------------------------------------------------------- formatting


def test_format_number_round_trips():
    text = format_number(
        agency_type="S",
        agency_code="0001",
        province_code="44",
        site_code="030001",
        year=2026,
        level="五级",
        serial=123,
    )
    assert text == GOOD
    assert str(parse_number(text)) == text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"agency_type": "s"}, "应为 S"),
        ({"agency_code": "1"}, "评价机构代码应为 4 位数字"),
        ({"agency_code": 1}, "评价机构代码应为 4 位数字"),
        ({"province_code": "99"}, "不是有效的省级行政区代码"),
        ({"site_code": "12345"}, "站点序列码应为 6 位数字"),
        ({"site_code": "１２３４５６"}, "站点序列码应为 6 位数字"),  # full-width is not ASCII
        ({"year": 2018}, "超出范围 2019–2099"),
        ({"year": 2100}, "超出范围"),
        ({"year": "2026"}, "年份应为整数"),
        ({"level": "特级技师"}, "另一套编码"),
        ({"serial": 0}, "超出范围 000001"),
        ({"serial": 1_000_000}, "超出范围"),
        ({"serial": True}, "应为整数"),
    ],
)
def test_format_refusals(changes, message):
    parts = {
        "agency_type": "S",
        "agency_code": "0001",
        "province_code": "44",
        "site_code": "030001",
        "year": 2026,
        "level": 5,
        "serial": 1,
    }
    parts.update(changes)
    with pytest.raises(CertificateNumberError, match=message):
        format_number(**parts)


# --------------------------------------------------------------------------- serials


def test_next_serial():
    assert next_serial(None) == 1
    assert next_serial(0) == 1
    assert next_serial(41) == 42
    with pytest.raises(CertificateNumberError, match="已用完"):
        next_serial(999_999)
    with pytest.raises(CertificateNumberError, match="超出范围"):
        next_serial(-1)
    with pytest.raises(CertificateNumberError, match="应为整数"):
        next_serial("7")  # type: ignore[arg-type]


def test_next_number_in_a_series():
    series = GOOD[:16]
    assert next_number(series, None) == series + "000001"
    assert next_number(series, GOOD) == series + "000124"
    assert next_number(parse_number(GOOD), "S000144030001265009999") == series + "010000"
    with pytest.raises(CertificateNumberError, match="不属于系列"):
        next_number(series, "S000144030001264000123")  # another level
    with pytest.raises(CertificateNumberError, match="已用完"):
        next_number(series, series + "999999")
    with pytest.raises(CertificateNumberError, match="前 16 位"):
        next_number(GOOD, None)


def test_highest_string_is_highest_serial():
    """The allocator may take max(number) in SQL: fixed width makes string order serial order."""
    numbers = [str(parse_number(GOOD).with_serial(s)) for s in (9, 10, 99, 100, 999_999)]
    assert sorted(numbers) == numbers


def test_ascii_fast_path_folds_as_nfkc():
    """``_fold`` returns ASCII letters and digits as they are: NFKC leaves ASCII unchanged and
    they hold no space. Every other string takes NFKC and loses its spaces, as before."""

    def reference(text: str) -> str:
        return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))

    rng = random.Random(7)
    alphabet = string.printable + "０１２ＳＹ　\u00a0\u2003级/（）"
    samples = ["", "S0001444030026400000001", "s 0001", "Ｓ０００１", "四级/中级工"]
    samples += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(2000)
    ]
    samples += [chr(c) for c in range(128)]
    for text in samples:
        assert _fold(text) == reference(text), repr(text)


def test_long_input_is_parsed_but_not_remembered():
    """A padded number parses as the number does, without going through the cache (whose keys
    would keep the whole padded text)."""
    number = "S000144403002264000001"
    padded = " " * 500 + number + " " * 500
    parsed = parse_number(number)
    before = _parse_number.cache_info()
    assert parse_number(padded) == parsed
    after = _parse_number.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)
    assert parse_number(number) is parsed  # a short one is remembered
