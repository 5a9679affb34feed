"""Parsing uploaded rosters: XLSX, CSV (UTF-8 / GBK), ZIP with photos; every problem at once.

A pure module, so no app fixtures: each test builds its file in memory.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date

import openpyxl
import pytest
from PIL import Image

from station import roster_file
from station.roster_file import RosterError, parse_roster, roster_template

# Resident ID numbers whose check characters were computed with GB 11643 MOD 11-2.
LILI = "11010519491231002X"  # the standard's example: female, 1949-12-31
ZHANG = "320106198808081232"  # male, 1988-08-08
WANG = "440304200002295675"  # male, 2000-02-29
ZHAO = "320106198808081240"  # female

HEADERS = ["姓名", "性别", "证件类型", "证件号码", "工作单位", "手机号"]


def xlsx(rows: list[list[object]], title: str = "Sheet1") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_text(rows: list[list[str]], sep: str = ",") -> str:
    return "\r\n".join(sep.join(row) for row in rows) + "\r\n"


def image(fmt: str = "JPEG", size=(60, 80)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 180, 160)).save(buf, fmt)
    return buf.getvalue()


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def problems(exc_info) -> list[str]:
    return [str(p) for p in exc_info.value.problems]


# --- good files ---------------------------------------------------------------------------


def test_good_xlsx():
    data = xlsx(
        [
            HEADERS + ["准考证号", "考场", "座位号"],
            [
                "李丽",
                "女",
                "居民身份证",
                LILI.lower(),
                "北京市示例职业技术学院",
                "13800138000",
                "",
                "",
                "",
            ],
            ["张伟", "男", None, ZHANG, None, 13912345678, "A-0001", "第1考场", 1],
            [
                "John Smith",
                "男",
                "护照",
                "e1234567",
                "Acme Ltd",
                "+86 139-1234-5679",
                None,
                None,
                None,
            ],
        ]
    )
    roster = parse_roster("花名册.xlsx", data)
    assert roster.source_format == "xlsx"
    assert roster.filename == "花名册.xlsx"
    lili, zhang, john = roster.rows
    assert (lili.line, lili.name, lili.gender, lili.id_type, lili.id_number) == (
        2,
        "李丽",
        "F",
        "resident_id",
        LILI,
    )
    assert lili.birth_date == date(1949, 12, 31)
    assert lili.organisation == "北京市示例职业技术学院"
    assert lili.phone == "13800138000"
    assert lili.photo is None and lili.photo_name is None
    assert lili.admission_number is None and lili.seat is None and lili.room is None
    assert zhang.id_type == "resident_id"  # empty 证件类型 means 居民身份证
    assert (zhang.phone, zhang.admission_number, zhang.room, zhang.seat) == (
        "13912345678",
        "A-0001",
        "第1考场",
        "1",
    )
    assert (john.id_type, john.id_number, john.birth_date) == ("passport", "E1234567", None)
    assert john.phone == "13912345679"


def test_columns_in_any_order_and_blank_rows_keep_their_line_numbers():
    data = xlsx(
        [
            [],
            ["证件号码", "姓名", "性别"],
            [ZHANG, "张伟", "男"],
            [None, None, None],
            [],
            [LILI, "李丽", "女"],
        ]
    )
    rows = parse_roster("r.xlsx", data).rows
    assert [(r.line, r.name) for r in rows] == [(3, "张伟"), (6, "李丽")]


def test_a_title_row_above_the_header_is_skipped():
    data = xlsx([["2025年第一批考生名单"], ["姓名", "性别", "证件号码"], ["张伟", "男", ZHANG]])
    assert [r.line for r in parse_roster("r.xlsx", data).rows] == [3]


def test_the_data_sheet_is_found_by_name():
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["随便写点什么"])
    ws = wb.create_sheet("花名册")
    ws.append(["姓名", "性别", "证件号码"])
    ws.append(["张伟", "男", ZHANG])
    buf = io.BytesIO()
    wb.save(buf)
    assert parse_roster("r.xlsx", buf.getvalue()).rows[0].name == "张伟"


@pytest.mark.parametrize(
    ("encoding", "bom", "expected"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
        ("gbk", b"", "gb18030"),
        ("gb18030", b"", "gb18030"),
    ],
)
def test_good_csv(encoding, bom, expected):
    text = csv_text(
        [
            ["姓名", "性别", "证件类型", "证件号码", "工作单位", "手机号"],
            ["李丽", "女", "", LILI, "北京市示例职业技术学院", "13800138000"],
            ["王强", "男", "居民身份证", WANG, "深圳市某公司", ""],
        ]
    )
    roster = parse_roster("名单.csv", bom + text.encode(encoding))
    assert roster.source_format == "csv"
    assert roster.encoding == expected
    assert [(r.line, r.name, r.organisation) for r in roster.rows] == [
        (2, "李丽", "北京市示例职业技术学院"),
        (3, "王强", "深圳市某公司"),
    ]
    assert roster.rows[1].birth_date == date(2000, 2, 29)


def test_csv_with_english_headers_tabs_and_quotes():
    text = csv_text(
        [
            ["name", "gender", "id_type", "id_number", "organisation", "phone", "photo"],
            ["Li Li", "F", "resident_id", LILI, '"Acme, Inc."', "13800138000", ""],
        ],
        sep="\t",
    )
    (row,) = parse_roster("roster.csv", text.encode()).rows
    assert (row.name, row.gender, row.organisation) == ("Li Li", "F", "Acme, Inc.")
    quoted = "name,gender,id_number,organisation\n张伟,男," + ZHANG + ',"某公司, 北京分公司"\n'
    (row,) = parse_roster("roster.csv", quoted.encode()).rows
    assert row.organisation == "某公司, 北京分公司"


def test_directory_part_of_the_upload_name_is_dropped():
    data = csv_text([["姓名", "性别", "证件号码"], ["张伟", "男", ZHANG]]).encode()
    assert parse_roster("C:\\Users\\admin\\桌面\\名单.csv", data).filename == "名单.csv"


# --- zip with photos ----------------------------------------------------------------------


def test_zip_with_photos():
    jpg, png = image("JPEG"), image("PNG")
    roster = xlsx(
        [
            ["姓名", "性别", "证件号码", "照片"],
            ["李丽", "女", LILI, "lili.jpg"],
            ["张伟", "男", ZHANG, "Photos/ZHANG.PNG"],  # case differs from the zip
            ["王强", "男", WANG, "wang"],  # no extension
            ["赵敏", "女", ZHAO, ""],  # matched by ID number
        ]
    )
    data = make_zip(
        {
            "考生/花名册.xlsx": roster,
            "考生/照片/lili.jpg": jpg,
            "photos/zhang.png": png,
            "考生/照片/wang.jpeg": jpg,
            f"考生/照片/{ZHAO}.jpg": jpg,
            "考生/照片/unused.jpg": jpg,
            "__MACOSX/考生/._lili.jpg": b"junk",
        }
    )
    result = parse_roster("考生.zip", data)
    assert result.source_format == "zip+xlsx"
    assert result.roster_name == "考生/花名册.xlsx"
    lili, zhang, wang, zhao = result.rows
    assert (lili.photo_name, lili.photo) == ("考生/照片/lili.jpg", jpg)
    assert (zhang.photo_name, zhang.photo) == ("photos/zhang.png", png)
    assert wang.photo_name == "考生/照片/wang.jpeg"
    assert (zhao.photo_name, zhao.photo) == (f"考生/照片/{ZHAO}.jpg", jpg)


class _LegacyZipInfo(zipfile.ZipInfo):
    """Writes the name's bytes as given, without the UTF-8 flag (as Chinese Windows does)."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("cp437"), self.flag_bits


def test_zip_with_gbk_file_names_from_windows():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, payload in [
            (
                "花名册.csv",
                csv_text(
                    [["姓名", "性别", "证件号码", "照片"], ["李丽", "女", LILI, "李丽.jpg"]]
                ).encode("gbk"),
            ),
            ("李丽.jpg", image()),
        ]:
            zf.writestr(_LegacyZipInfo(name.encode("gbk").decode("cp437")), payload)
    result = parse_roster("考生.zip", buf.getvalue())
    assert result.roster_name == "花名册.csv"
    assert result.source_format == "zip+csv"
    assert result.encoding == "gb18030"
    assert result.rows[0].photo_name == "李丽.jpg"


def test_zip_photo_problems_are_all_reported(monkeypatch):
    monkeypatch.setattr(roster_file, "MAX_PHOTO_BYTES", 4096)
    big = image("PNG")
    big = big + b"\0" * (5120 - len(big))  # 5 KB: over the (patched) limit
    roster = xlsx(
        [
            ["姓名", "性别", "证件号码", "照片"],
            ["李丽", "女", LILI, "missing.jpg"],
            ["张伟", "男", ZHANG, "fake.jpg"],
            ["王强", "男", WANG, "broken.jpg"],
            ["赵敏", "女", ZHAO, "big.png"],
        ]
    )
    data = make_zip(
        {
            "花名册.xlsx": roster,
            "fake.jpg": b"this is a text file renamed to .jpg",
            "broken.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 50,
            "big.png": big,
        }
    )
    with pytest.raises(RosterError) as exc:
        parse_roster("考生.zip", data)
    assert problems(exc) == [
        "考生.zip/花名册.xlsx 第2行 照片: 压缩包中找不到照片文件“missing.jpg” (photo not in the zip)",
        "考生.zip/花名册.xlsx 第3行 照片: 照片“fake.jpg”不是 JPG 或 PNG 图片（文件内容不符，可能只是改了扩展名）(not a JPEG or PNG image)",
        "考生.zip/花名册.xlsx 第4行 照片: 照片“broken.jpg”已损坏，无法作为图片打开 (damaged image)",
        "考生.zip/花名册.xlsx 第5行 照片: 照片“big.png”大小为 5 KB，超过 4 KB 的上限 (photo larger than 4 KB)",
    ]
    assert [p.line for p in exc.value.problems] == [2, 3, 4, 5]
    assert all(p.field == "照片" for p in exc.value.problems)


def test_photo_larger_than_2_mb():
    noise = bytes(range(256)) * (9 * 1024)  # ~2.3 MB
    too_big = b"\xff\xd8\xff\xe0" + noise
    roster = xlsx([["姓名", "性别", "证件号码", "照片"], ["张伟", "男", ZHANG, "z.jpg"]])
    with pytest.raises(RosterError) as exc:
        parse_roster("z.zip", make_zip({"r.xlsx": roster, "z.jpg": too_big}))
    (problem,) = exc.value.problems
    assert problem.message == "照片“z.jpg”大小为 2.3 MB，超过 2 MB 的上限 (photo larger than 2 MB)"
    assert problem.line == 2


def test_photo_shared_by_two_rows_and_photo_without_zip():
    roster = xlsx(
        [
            ["姓名", "性别", "证件号码", "照片"],
            ["李丽", "女", LILI, "a.jpg"],
            ["张伟", "男", ZHANG, "a.jpg"],
        ]
    )
    with pytest.raises(RosterError) as exc:
        parse_roster("z.zip", make_zip({"r.xlsx": roster, "a.jpg": image()}))
    assert problems(exc) == [
        "z.zip/r.xlsx 第2行 照片: 与第3行重复：使用了同一张照片 (same photo)",
        "z.zip/r.xlsx 第3行 照片: 与第2行重复：使用了同一张照片 (same photo)",
    ]
    with pytest.raises(RosterError) as exc:
        parse_roster("r.xlsx", roster)
    assert [p.line for p in exc.value.problems] == [2, 3]
    assert "上传的不是 ZIP 压缩包" in exc.value.problems[0].message


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.jpg": b"x"}, "压缩包中没有花名册文件"),
        (
            {"a.xlsx": b"x", "b.csv": b"y"},
            "压缩包中只能有一个花名册文件，实际有 2 个：a.xlsx、b.csv",
        ),
    ],
)
def test_zip_must_hold_exactly_one_roster(files, message):
    with pytest.raises(RosterError) as exc:
        parse_roster("考生.zip", make_zip(files))
    (problem,) = exc.value.problems
    assert problem.file == "考生.zip"
    assert message in problem.message


# --- bad rows -----------------------------------------------------------------------------


def test_every_bad_row_is_reported_at_once():
    data = xlsx(
        [
            HEADERS + ["准考证号"],
            ["李丽", "女", None, LILI, None, None, None],  # fine
            ["", "男", None, ZHANG, None, None, None],
            ["张伟", "未知", None, WANG, None, None, None],
            ["王强", "男", "驾驶证", "123456", None, None, None],
            ["赵敏", "女", None, LILI[:17] + "5", None, None, None],
            ["钱七", "男", None, None, None, "12345", None],
            ["孙八", "男", "护照", "E1", None, None, "A 1"],
            ["周九", "男", None, 1.10105194912310e17, None, None, None],
            ["吴十", "女", None, "110105199902300024", None, None, None],
            ["郑一", "男", None, "990105194912310021", None, None, None],
        ]
    )
    with pytest.raises(RosterError) as exc:
        parse_roster("花名册.xlsx", data)
    got = problems(exc)
    assert got == [
        "花名册.xlsx 第3行 姓名: 必填，不能为空 (required)",
        "花名册.xlsx 第4行 性别: 应为“男”或“女”，实际为“未知” (must be 男 or 女)",
        "花名册.xlsx 第5行 证件类型: 无法识别的证件类型“驾驶证”，应为：居民身份证、护照、港澳居民来往内地通行证、"
        "台湾居民来往大陆通行证、外国人永久居留身份证、港澳台居民居住证、其他 (unknown ID type)",
        "花名册.xlsx 第6行 证件号码: 校验位应为 X，实际为 5 (check character should be X, got 5)",
        "花名册.xlsx 第7行 证件号码: 必填，不能为空 (required)",
        "花名册.xlsx 第7行 手机号: 应为 11 位、以 13–19 开头的中国大陆手机号，实际为“12345” "
        "(11-digit mainland mobile number)",
        "花名册.xlsx 第8行 证件号码: 护照号码应为 5–17 位，实际为 2 位 (must be 5–17 characters, got 2)",
        "花名册.xlsx 第8行 准考证号: 只能包含字母、数字和短横线，最多 32 位，实际为“A 1” "
        "(letters, digits and '-', at most 32)",
        "花名册.xlsx 第9行 证件号码: “1.1010519491231E+17”被 Excel 存成了数字，后几位已经丢失；"
        "请把该列设为“文本”格式后重新输入号码 (stored as a number, digits lost)",
        "花名册.xlsx 第10行 证件号码: 第 7–14 位的出生日期 19990230 不存在 (impossible birth date)",
        "花名册.xlsx 第11行 证件号码: 前 2 位 99 不是有效的省级行政区代码 (unknown province code)",
    ]
    assert exc.value.problems[0].file == "花名册.xlsx"
    assert exc.value.problems[0].line == 3
    assert exc.value.problems[0].field == "姓名"
    assert "未导入任何考生" in str(exc.value)


def test_problems_name_the_header_as_written():
    text = csv_text([["name", "gender", "id_number"], ["Li", "女", LILI[:17] + "1"]])
    with pytest.raises(RosterError) as exc:
        parse_roster("r.csv", text.encode())
    assert problems(exc) == [
        "r.csv 第2行 id_number: 校验位应为 X，实际为 1 (check character should be X, got 1)"
    ]


def test_scientific_notation_from_a_csv_saved_by_excel():
    text = csv_text([["姓名", "性别", "证件号码"], ["张伟", "男", "3.20106E+17"]])
    with pytest.raises(RosterError) as exc:
        parse_roster("r.csv", text.encode("gbk"))
    (problem,) = exc.value.problems
    assert problem.field == "证件号码" and "科学计数法“3.20106E+17”" in problem.message


def test_duplicates_report_both_rows():
    data = xlsx(
        [
            ["姓名", "性别", "证件号码", "考场", "座位号", "准考证号"],
            ["李丽", "女", LILI, "1", "01", "A1"],
            ["张伟", "男", ZHANG, "1", "02", "A2"],
            ["李丽", "女", LILI.lower(), "2", "01", "a1"],  # same ID, lower-case x
            ["王强", "男", WANG, "1", "02", "A3"],
            ["李丽", "女", LILI, None, None, None],
        ]
    )
    with pytest.raises(RosterError) as exc:
        parse_roster("r.xlsx", data)
    assert problems(exc) == [
        "r.xlsx 第2行 证件号码: 与第4行、第6行重复：证件类型和证件号码相同，同一考生重复 (duplicate ID)",
        "r.xlsx 第2行 准考证号: 与第4行重复：准考证号相同 (duplicate admission number)",
        "r.xlsx 第3行 座位号: 与第5行重复：考场和座位号相同 (duplicate seat)",
        "r.xlsx 第4行 证件号码: 与第2行、第6行重复：证件类型和证件号码相同，同一考生重复 (duplicate ID)",
        "r.xlsx 第4行 准考证号: 与第2行重复：准考证号相同 (duplicate admission number)",
        "r.xlsx 第5行 座位号: 与第3行重复：考场和座位号相同 (duplicate seat)",
        "r.xlsx 第6行 证件号码: 与第2行、第4行重复：证件类型和证件号码相同，同一考生重复 (duplicate ID)",
    ]


def test_duplicate_is_reported_even_when_the_row_has_other_problems():
    data = xlsx(
        [
            ["姓名", "性别", "证件号码", "手机号"],
            ["李丽", "女", LILI, "1"],
            ["李丽", "女", LILI, ""],
        ]
    )
    with pytest.raises(RosterError) as exc:
        parse_roster("r.xlsx", data)
    assert [(p.line, p.field) for p in exc.value.problems] == [
        (2, "证件号码"),
        (2, "手机号"),
        (3, "证件号码"),
    ]


def test_same_number_under_different_id_types_is_not_a_duplicate():
    data = xlsx(
        [
            ["姓名", "性别", "证件类型", "证件号码"],
            ["A", "男", "护照", "12345678"],
            ["B", "男", "台胞证", "12345678"],
        ]
    )
    assert len(parse_roster("r.xlsx", data).rows) == 2


def test_gender_must_agree_with_the_resident_id():
    data = xlsx(
        [
            ["姓名", "性别", "证件号码"],
            ["张伟", "女", ZHANG],
            ["李丽", "男", LILI],
            ["王强", "男", WANG],
        ]
    )
    with pytest.raises(RosterError) as exc:
        parse_roster("r.xlsx", data)
    assert problems(exc) == [
        "r.xlsx 第2行 性别: 与证件号码不符：号码第 17 位表示男性，此处填写为“女” (does not match the ID number)",
        "r.xlsx 第3行 性别: 与证件号码不符：号码第 17 位表示女性，此处填写为“男” (does not match the ID number)",
    ]


def test_gender_is_not_checked_for_ids_that_do_not_encode_it():
    data = xlsx([["姓名", "性别", "证件类型", "证件号码"], ["Jane", "女", "护照", "E12345671"]])
    assert parse_roster("r.xlsx", data).rows[0].gender == "F"


# --- headers ------------------------------------------------------------------------------


def test_missing_required_header_is_one_problem_naming_it():
    data = xlsx([["姓名", "证件号码"], ["张伟", ZHANG], ["李丽", LILI]])
    with pytest.raises(RosterError) as exc:
        parse_roster("r.xlsx", data)
    assert problems(exc) == ["r.xlsx 第1行 性别: 缺少必填列“性别” (required column missing)"]


def test_unknown_and_duplicate_headers_and_data_without_a_header():
    data = xlsx(
        [
            ["姓名", "性别", "证件号码", "民族", "身份证号", None],
            ["张伟", "男", ZHANG, "汉", ZHANG, "备注"],
        ]
    )
    with pytest.raises(RosterError) as exc:
        parse_roster("r.xlsx", data)
    got = exc.value.problems
    assert [(p.line, p.field) for p in got] == [(1, "民族"), (1, "身份证号"), (2, "第 F 列")]
    assert got[0].message.startswith("无法识别的列名；可用的列名：姓名、性别、证件类型、证件号码")
    assert got[1].message == "与第 C 列“证件号码”重复，都表示“证件号码” (duplicate column)"
    assert "没有列名" in got[2].message


def test_headers_with_required_markers_are_accepted():
    data = xlsx([["姓名*", "性别（必填）", " 证件号码 "], ["张伟", "男", ZHANG]])
    assert parse_roster("r.xlsx", data).rows[0].name == "张伟"


def test_header_only_file_has_no_data_rows():
    for data in (xlsx([HEADERS, [None] * 6, []]), csv_text([HEADERS]).encode()):
        with pytest.raises(RosterError) as exc:
            parse_roster("r.xlsx", data)
        assert problems(exc) == ["r.xlsx 第1行: 表头下面没有考生数据 (no data rows)"]


# --- not a roster -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "文件是空的"),
        (b"  \r\n ", "文件是空的"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "不是花名册文件"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "不是花名册文件"),
        (bytes(range(256)) * 4, "不是花名册文件"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "旧版 Excel（.xls）"),
        (b"PK\x03\x04garbage", "已损坏"),
        (b"\r\n,,\r\n", "找不到表头"),
    ],
)
def test_not_a_spreadsheet(data, message):
    with pytest.raises(RosterError) as exc:
        parse_roster("upload.xlsx", data)
    (problem,) = exc.value.problems
    assert problem.file == "upload.xlsx"
    assert message in problem.message


def test_word_document_is_not_a_spreadsheet():
    docx = make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
    with pytest.raises(RosterError, match="不是 Excel 表格"):
        parse_roster("名单.docx", docx)


# --- limits -------------------------------------------------------------------------------


def test_too_many_rows(monkeypatch):
    monkeypatch.setattr(roster_file, "MAX_ROWS", 3)
    ids = [LILI, ZHANG, WANG, ZHAO]
    genders = ["女", "男", "男", "女"]
    rows = [["姓名", "性别", "证件号码"]] + [[f"考生{i}", genders[i], ids[i]] for i in range(4)]
    with pytest.raises(RosterError) as exc:
        parse_roster("r.xlsx", xlsx(rows))
    assert problems(exc) == [
        "r.xlsx 第5行: 考生超过 3 人的上限（本行是第 4 个考生），请拆分成多个文件分批导入 (more than 3 rows)"
    ]
    assert len(parse_roster("r.xlsx", xlsx(rows[:4])).rows) == 3


# --- template -----------------------------------------------------------------------------


def test_template_has_headers_dropdowns_and_help():
    wb = openpyxl.load_workbook(io.BytesIO(roster_template()))
    assert wb.sheetnames == ["花名册", "说明"]
    data = wb["花名册"]
    headers = [c.value for c in data[1]]
    assert headers == [
        "姓名",
        "性别",
        "证件类型",
        "证件号码",
        "工作单位",
        "手机号",
        "照片",
        "准考证号",
        "考场",
        "座位号",
    ]
    assert data.max_row == 1  # no example row in the data sheet
    lists = {str(dv.sqref): dv.formula1 for dv in data.data_validations.dataValidation}
    assert lists["B2:B5001"] == '"男,女"'
    assert "居民身份证" in lists["C2:C5001"] and "护照" in lists["C2:C5001"]
    help_text = "\n".join(str(c.value) for row in wb["说明"].iter_rows() for c in row if c.value)
    assert "ZIP" in help_text and "示例" in help_text and "11010519491231002X" in help_text
    for header in headers:
        assert header in help_text


def test_template_round_trip():
    wb = openpyxl.load_workbook(io.BytesIO(roster_template()))
    ws = wb["花名册"]
    ws.append(
        [
            "李丽",
            "女",
            "居民身份证",
            LILI,
            "北京市示例职业技术学院",
            "13800138000",
            None,
            None,
            "1",
            "01",
        ]
    )
    ws.append(["张伟", "男", None, ZHANG, None, None, None, "2025-0002", "1", "02"])
    ws.append(["Jane Doe", "女", "港澳居民来往内地通行证", "H12345678"])
    buf = io.BytesIO()
    wb.save(buf)
    roster = parse_roster("考生花名册模板.xlsx", buf.getvalue())
    assert [(r.line, r.name, r.id_type, r.seat) for r in roster.rows] == [
        (2, "李丽", "resident_id", "01"),
        (3, "张伟", "resident_id", "02"),
        (4, "Jane Doe", "hk_macau_permit", None),
    ]
    assert roster.rows[1].admission_number == "2025-0002"


def test_empty_template_is_refused_as_having_no_data():
    with pytest.raises(RosterError, match="表头下面没有考生数据"):
        parse_roster(roster_file.TEMPLATE_FILENAME, roster_template())


def test_excel_unicode_text_export_utf16_tabs():
    text = csv_text([["姓名", "性别", "证件号码"], ["张伟", "男", ZHANG]], sep="\t")
    roster = parse_roster("名单.txt", text.encode("utf-16"))
    assert roster.encoding == "utf-16"
    assert roster.rows[0].id_number == ZHANG


def test_roster_error_is_a_station_domain_error():
    with pytest.raises(roster_file.DomainError) as exc:
        parse_roster("r.csv", b"name,gender\n")
    assert exc.value.details == [
        "r.csv 第1行 证件号码: 缺少必填列“证件号码” (required column missing)",
        "r.csv 第1行: 表头下面没有考生数据 (no data rows)",
    ]
