"""The downloadable XLSX roster template, with a 说明 sheet explaining every column."""

from __future__ import annotations

import io

import openpyxl

from certs.identity import ID_TYPE_LABELS

# MAX_ROWS is read through the package at call time, so it is set (and patched) in one place.
from station import roster_file
from station.roster_file.columns import COLUMNS, DATA_SHEET, HELP_SHEET, column_letter


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
    last = roster_file.MAX_ROWS + 1

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    for index, column in enumerate(COLUMNS):
        cell = ws.cell(row=1, column=index + 1, value=column.header)
        cell.font = bold
        cell.fill = required_fill if column.required else optional_fill
        cell.border = box
        cell.alignment = Alignment(horizontal="center")
        letter = column_letter(index)
        ws.column_dimensions[letter].width = widths[column.key]
        if column.key in text_columns:
            # Text format for the whole column, so Excel keeps 18-digit numbers and leading zeros.
            ws.column_dimensions[letter].number_format = "@"
    ws.freeze_panes = "A2"

    col = {c.key: column_letter(i) for i, c in enumerate(COLUMNS)}
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
        f"2. 每个文件最多 {roster_file.MAX_ROWS} 名考生；空行会被跳过。同一文件中证件类型和号码相同的行会被视为重复。",
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
