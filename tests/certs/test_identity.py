"""ID documents: GB 11643 resident identity numbers, the other ID types, masking."""

from __future__ import annotations

from datetime import date

import pytest

from certs.identity import (
    ID_TYPE_LABELS,
    IdNumberError,
    IdType,
    IdTypeError,
    ResidentId,
    check_character,
    mask_id,
    parse_id,
    parse_id_type,
    parse_resident_id,
    validate_id,
)

TODAY = date(2025, 6, 1)

# The two worked examples of GB 11643-1999.
GB_EXAMPLE_BEIJING = "11010519491231002X"  # 北京市朝阳区, 1949-12-31, female
GB_EXAMPLE_SHANTOU = "440524188001010014"  # 广东省汕头市潮阳县, 1880-01-01, male

# Real-shaped numbers whose check characters were computed with MOD 11-2 (see test below).
MALE_NANJING = "320106198808081232"
FEMALE_NANJING = "320106198808081240"
LEAP_DAY_2000 = "440304200002295675"
LEAP_DAY_2004_X = "51010720040229001X"


def with_check(first17: str) -> str:
    return first17 + check_character(first17)


# --- check character ----------------------------------------------------------------------


def test_check_character_matches_the_standards_examples():
    assert check_character(GB_EXAMPLE_BEIJING[:17]) == "X"
    assert check_character(GB_EXAMPLE_SHANTOU[:17]) == "4"


def test_check_character_by_hand():
    # 3 2 0 1 0 6 1 9 8 8 0 8 0 8 1 2 3 weighted by 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
    digits = [int(d) for d in MALE_NANJING[:17]]
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(d * w for d, w in zip(digits, weights, strict=True))
    assert "10X98765432"[total % 11] == check_character(MALE_NANJING[:17]) == "2"


@pytest.mark.parametrize("bad", ["", "1234567890123456", "123456789012345678", "1101051949123100X"])
def test_check_character_needs_17_digits(bad):
    with pytest.raises(ValueError):
        check_character(bad)


def test_every_check_value_is_reachable():
    seen = {check_character(f"110105199001011{n:02d}") for n in range(100)}
    assert seen == set("0123456789X")


# --- parse_resident_id --------------------------------------------------------------------


def test_standard_example_parses():
    rid = parse_resident_id(GB_EXAMPLE_BEIJING, today=TODAY)
    assert rid == ResidentId(GB_EXAMPLE_BEIJING, "110105", date(1949, 12, 31), "F")
    assert rid.province_code == "11"


def test_lower_case_x_and_whitespace_are_normalised():
    rid = parse_resident_id("  11010519491231002x ", today=TODAY)
    assert rid.number == GB_EXAMPLE_BEIJING


def test_full_width_digits_are_folded():
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in MALE_NANJING)
    assert parse_resident_id(full_width, today=TODAY).number == MALE_NANJING


def test_gender_from_the_17th_digit():
    assert parse_resident_id(MALE_NANJING, today=TODAY).gender == "M"
    assert parse_resident_id(FEMALE_NANJING, today=TODAY).gender == "F"


def test_wrong_check_character_names_the_right_one():
    wrong = GB_EXAMPLE_BEIJING[:17] + "5"
    with pytest.raises(IdNumberError) as exc:
        parse_resident_id(wrong, today=TODAY)
    assert "校验位应为 X，实际为 5" in str(exc.value)


def test_a_single_mistyped_digit_is_caught():
    typo = MALE_NANJING[:14] + "9" + MALE_NANJING[15:]  # sequence code 123 -> 923
    with pytest.raises(IdNumberError, match="校验位应为"):
        parse_resident_id(typo, today=TODAY)


@pytest.mark.parametrize(
    ("number", "length"), [("11010519491231002", 17), ("11010519491231002X1", 19), ("1", 1)]
)
def test_wrong_length_says_the_length(number, length):
    with pytest.raises(IdNumberError, match=f"应为 18 位，实际为 {length} 位"):
        parse_resident_id(number, today=TODAY)


def test_first_generation_15_digit_number_is_explained():
    with pytest.raises(IdNumberError, match="15 位的第一代身份证已停止使用"):
        parse_resident_id("110105491231002", today=TODAY)


def test_non_digit_names_the_position():
    with pytest.raises(IdNumberError, match="第 7 位应为数字，实际为“A”"):
        parse_resident_id("110105A9491231002X", today=TODAY)
    with pytest.raises(IdNumberError, match="第 10 位应为数字，实际为空格"):
        parse_resident_id("110105194 1231002X", today=TODAY)
    with pytest.raises(IdNumberError, match="第 18 位应为数字或 X，实际为“Y”"):
        parse_resident_id("11010519491231002Y", today=TODAY)


@pytest.mark.parametrize("province", ["00", "10", "16", "20", "39", "47", "60", "66", "72", "99"])
def test_unknown_province(province):
    number = with_check(province + "010519491231002")
    with pytest.raises(IdNumberError, match=f"前 2 位 {province} 不是有效的省级行政区代码"):
        parse_resident_id(number, today=TODAY)


@pytest.mark.parametrize("province", ["11", "15", "23", "37", "46", "54", "65", "71", "81", "82"])
def test_every_province_range_edge_is_accepted(province):
    number = with_check(province + "010519900101001")
    assert parse_resident_id(number, today=TODAY).province_code == province


def test_province_only_region_code_is_refused():
    with pytest.raises(IdNumberError, match="只是省级代码"):
        parse_resident_id(with_check("32000019880808123"), today=TODAY)


def test_residence_permit_number_entered_as_resident_id_gets_a_hint():
    with pytest.raises(IdNumberError, match="港澳台居民居住证"):
        parse_resident_id("810000199001010019", today=TODAY)


def test_feb_29_on_leap_years():
    assert parse_resident_id(LEAP_DAY_2000, today=TODAY).birth_date == date(2000, 2, 29)
    assert parse_resident_id(LEAP_DAY_2004_X, today=TODAY).birth_date == date(2004, 2, 29)


@pytest.mark.parametrize("first17", ["44030419990229567", "44030419000229567", "44030420230229567"])
def test_feb_29_on_non_leap_years(first17):
    # 1900 is not a leap year (divisible by 100, not by 400).
    with pytest.raises(IdNumberError, match=f"出生日期 {first17[6:14]} 不存在"):
        parse_resident_id(with_check(first17), today=TODAY)


@pytest.mark.parametrize("birth", ["19990230", "19991301", "19990000", "19990431"])
def test_impossible_dates(birth):
    with pytest.raises(IdNumberError, match="不存在"):
        parse_resident_id(with_check("110105" + birth + "002"), today=TODAY)


def test_birth_date_in_the_future():
    tomorrow = with_check("11010520250602001")
    with pytest.raises(IdNumberError, match="出生日期 20250602 晚于今天"):
        parse_resident_id(tomorrow, today=TODAY)
    assert parse_resident_id(with_check("11010520250601001"), today=TODAY).birth_date == TODAY


def test_birth_before_1900_even_with_a_good_check_character():
    with pytest.raises(IdNumberError, match="早于 1900 年"):
        parse_resident_id(GB_EXAMPLE_SHANTOU, today=TODAY)


def test_default_today_is_used():
    assert parse_resident_id(MALE_NANJING).birth_date == date(1988, 8, 8)
    with pytest.raises(IdNumberError, match="晚于今天"):
        parse_resident_id(with_check("11010521000101001"))


def test_id_number_error_is_a_value_error():
    assert issubclass(IdNumberError, ValueError)


# --- ID types -----------------------------------------------------------------------------


def test_every_type_has_a_chinese_label():
    assert set(ID_TYPE_LABELS) == set(IdType)
    assert IdType.resident_id.label == "居民身份证"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("居民身份证", IdType.resident_id),
        ("resident_id", IdType.resident_id),
        (" 身份证 ", IdType.resident_id),
        ("护照", IdType.passport),
        ("PASSPORT", IdType.passport),
        ("港澳居民来往内地通行证", IdType.hk_macau_permit),
        ("回乡证", IdType.hk_macau_permit),
        ("台湾居民来往大陆通行证", IdType.taiwan_permit),
        ("台胞证", IdType.taiwan_permit),
        ("外国人永久居留身份证", IdType.foreign_permanent_resident),
        ("港澳台居民居住证", IdType.hk_macau_taiwan_residence),
        ("其他", IdType.other),
        (IdType.passport, IdType.passport),
    ],
)
def test_parse_id_type(text, expected):
    assert parse_id_type(text) is expected


def test_unknown_id_type_lists_the_accepted_labels():
    with pytest.raises(IdTypeError) as exc:
        parse_id_type("驾驶证")
    assert "驾驶证" in str(exc.value)
    assert "居民身份证、护照" in str(exc.value)


def test_validate_resident_id_returns_the_normalised_number():
    assert validate_id(IdType.resident_id, "11010519491231002x", today=TODAY) == GB_EXAMPLE_BEIJING
    assert validate_id("居民身份证", MALE_NANJING, today=TODAY) == MALE_NANJING


def test_parse_id_carries_birth_date_and_gender():
    doc = parse_id("resident_id", MALE_NANJING, today=TODAY)
    assert (doc.id_type, doc.birth_date, doc.gender) == (IdType.resident_id, date(1988, 8, 8), "M")
    assert parse_id("passport", "E12345678").birth_date is None


@pytest.mark.parametrize("number", ["E12345678", "e1234567", "G1234", "AB1234567890123CD", "12345"])
def test_passport_ok(number):
    assert validate_id(IdType.passport, number) == number.upper()


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("E123", "应为 5–17 位，实际为 4 位"),
        ("E1234567890123456X", "应为 5–17 位，实际为 18 位"),
        ("E1234-678", "只能包含英文字母和数字，不能有“-”"),
        ("E 12345678", "不能有空格"),
    ],
)
def test_passport_bad(number, reason):
    with pytest.raises(IdNumberError, match=reason):
        validate_id(IdType.passport, number)


@pytest.mark.parametrize("number", ["H12345678", "M12345678", "h1234567890", "M0123456789"])
def test_hk_macau_permit_ok(number):
    assert validate_id(IdType.hk_macau_permit, number) == number.upper()


@pytest.mark.parametrize("number", ["K12345678", "H1234567", "H123456789", "12345678", "HX2345678"])
def test_hk_macau_permit_bad(number):
    with pytest.raises(IdNumberError, match="H 或 M 加 8 位或 10 位数字"):
        validate_id(IdType.hk_macau_permit, number)


@pytest.mark.parametrize("number", ["12345678", "1234567890"])
def test_taiwan_permit_ok(number):
    assert validate_id(IdType.taiwan_permit, number) == number


@pytest.mark.parametrize("number", ["1234567", "123456789", "T1234567", "12345678901"])
def test_taiwan_permit_bad(number):
    with pytest.raises(IdNumberError, match="8 位或 10 位数字"):
        validate_id(IdType.taiwan_permit, number)


def test_residence_permit_uses_gb11643():
    assert validate_id(IdType.hk_macau_taiwan_residence, "810000199001010019", today=TODAY)
    doc = parse_id(IdType.hk_macau_taiwan_residence, "830000198511110027", today=TODAY)
    assert (doc.birth_date, doc.gender) == (date(1985, 11, 11), "F")
    with pytest.raises(
        IdNumberError, match="应以 810000（香港）、820000（澳门）或 830000（台湾）开头"
    ):
        validate_id(IdType.hk_macau_taiwan_residence, MALE_NANJING, today=TODAY)
    with pytest.raises(IdNumberError, match="校验位应为 9，实际为 1"):
        validate_id(IdType.hk_macau_taiwan_residence, "810000199001010011", today=TODAY)


def test_foreign_permanent_resident_both_formats():
    new = with_check("91184019880123001")  # 9, Beijing, nationality 840, 1988-01-23
    doc = parse_id(IdType.foreign_permanent_resident, new, today=TODAY)
    assert (doc.number, doc.birth_date, doc.gender) == (new, date(1988, 1, 23), "M")
    assert validate_id(IdType.foreign_permanent_resident, "usa110088012301") == "USA110088012301"
    with pytest.raises(IdNumberError, match="应以 9 开头"):
        validate_id(IdType.foreign_permanent_resident, MALE_NANJING)
    with pytest.raises(IdNumberError, match="校验位应为"):
        validate_id(IdType.foreign_permanent_resident, new[:17] + ("0" if new[17] != "0" else "1"))
    with pytest.raises(IdNumberError, match="3 位英文字母（国籍代码）加 12 位数字"):
        validate_id(IdType.foreign_permanent_resident, "US1110088012301")
    with pytest.raises(IdNumberError, match="应为 18 位（2023 版）或 15 位（旧版），实际为 9 位"):
        validate_id(IdType.foreign_permanent_resident, "E12345678")


def test_other_type():
    assert validate_id(IdType.other, " 军官证 No.123 ") == "军官证 NO.123"
    with pytest.raises(IdNumberError, match="最长 32 个字符，实际为 33 个"):
        validate_id(IdType.other, "A" * 33)
    with pytest.raises(IdNumberError, match="第 2 个字符是不可打印的控制字符"):
        validate_id(IdType.other, "A\x07B")


@pytest.mark.parametrize("id_type", list(IdType))
def test_empty_number_is_refused_for_every_type(id_type):
    with pytest.raises(IdNumberError, match="为空"):
        validate_id(id_type, "   ")


def test_resident_id_errors_via_validate_id():
    with pytest.raises(IdNumberError, match="校验位应为 X，实际为 5"):
        validate_id("居民身份证", GB_EXAMPLE_BEIJING[:17] + "5", today=TODAY)


# --- masking ------------------------------------------------------------------------------


def test_mask_resident_id_keeps_first_3_and_last_4():
    assert mask_id(GB_EXAMPLE_BEIJING) == "110***********002X"
    assert len(mask_id(GB_EXAMPLE_BEIJING)) == 18


def test_mask_longer_and_shorter_numbers():
    assert mask_id("USA110088012301") == "USA********2301"
    assert mask_id("H1234567890") == "*********90"
    assert mask_id("E12345678") == "*******78"
    assert mask_id("12") == "**"
    assert mask_id("") == ""
