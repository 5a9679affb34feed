"""The roster's columns: what each one holds, its headers in the template, and the header aliases
an uploaded file may use instead."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from openpyxl.utils import get_column_letter

from certs.identity import ID_TYPE_LABELS

DATA_SHEET = "花名册"
HELP_SHEET = "说明"


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
BY_KEY = {c.key: c for c in COLUMNS}
BY_KEY = {c.key: c for c in COLUMNS}


def header_key(text: str) -> str:
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()
    key = re.sub(r"\((必填|选填|可选|required|optional)\)$", "", key)
    return key.rstrip("*")


HEADER_LOOKUP: dict[str, Column] = {}
for _col in COLUMNS:
    for _alias in (_col.header, _col.key, *_col.aliases):
        HEADER_LOOKUP[header_key(_alias)] = _col


def column_letter(index: int) -> str:
    return get_column_letter(index + 1)
