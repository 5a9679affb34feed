"""成绩单: a session's score sheet as data, as an XLSX workbook and as the context of the
printable PDF page.

No Flask here: the CLI (``station results SESSION --xlsx FILE``) and the console call the same
functions. ID numbers are masked (first 3 and last 4 characters) because a score sheet is
printed and often posted; the station keeps the full numbers in its database.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from certs.identity import ID_TYPE_LABELS, mask_id
from station.models.grading import Outcome, Result, ResultSignoff
from station.models.scheduling import ExamSession, Programme
from station.services import results

SHANGHAI = ZoneInfo("Asia/Shanghai")
GENDERS = {"M": "男", "F": "女"}
TITLE = "成绩单"


@dataclass
class SheetRow:
    index: int
    admission_number: str
    name: str
    gender: str
    id_type: str
    id_number: str  # masked
    organisation: str
    theory: float | None
    practical: float | None
    review: float | None
    outcome: str  # label, e.g. 合格; "未评定" when there is no result yet
    version: int | None
    note: str  # why the current version exists, when it is not the first


@dataclass
class ScoreSheet:
    session: ExamSession
    programme: Programme
    review_needed: bool
    rows: list[SheetRow]
    signoff: ResultSignoff | None
    generated_at: datetime
    station_name: str = ""

    @property
    def registered(self) -> int:
        return len(self.rows)

    @property
    def sat(self) -> int:
        return sum(1 for r in self.rows if r.outcome in (_label(Outcome.PASSED),
                                                         _label(Outcome.FAILED)))  # fmt: skip

    @property
    def passed(self) -> int:
        return sum(1 for r in self.rows if r.outcome == _label(Outcome.PASSED))

    @property
    def pass_rate(self) -> float:
        return self.passed / self.sat if self.sat else 0.0

    @property
    def parts(self) -> list[tuple[str, str]]:
        """(attribute, label) of the parts this sheet shows."""
        keep = [p for p in results.PARTS if p != "review" or self.review_needed]
        return [(p, results.PART_LABELS[p]) for p in keep]


def _label(outcome: Outcome) -> str:
    return results.OUTCOME_LABELS[outcome]


def _note(result: Result | None) -> str:
    if result is None or result.version == 1:
        return ""
    return f"第 {result.version} 版：{result.reason}"


def sheet(db: Session, session: ExamSession, *, station_name: str = "",
          now: datetime | None = None) -> ScoreSheet:  # fmt: skip
    """Every candidate of the session with their current result, in admission-number order."""
    programme = db.get(Programme, session.programme_id)
    rows = []
    for index, row in enumerate(results.session_rows(db, session), start=1):
        c, r = row.candidate, row.result
        rows.append(SheetRow(index, c.admission_number, c.name, GENDERS.get(c.gender, c.gender),
                             ID_TYPE_LABELS.get(c.id_type, c.id_type), mask_id(c.id_number),
                             c.organisation,
                             r.theory if r else None, r.practical if r else None,
                             r.review if r else None, _label(r.outcome) if r else "未评定",
                             r.version if r else None, _note(r)))  # fmt: skip
    return ScoreSheet(session, programme, results.needs_review(programme, session.level), rows,
                      results.signoff(db, session), now or datetime.now(UTC), station_name)  # fmt: skip


def local(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def status_line(data: ScoreSheet) -> str:
    """Who signed the sheet off and when, or that it is still a draft."""
    if data.signoff is None:
        return "草稿：成绩尚未经督导员签字确认"
    return f"督导员 {data.signoff.signed_by} 于 {local(data.signoff.signed_at)} 签字确认"


def xlsx(db: Session, session: ExamSession, *, station_name: str = "",
         now: datetime | None = None) -> bytes:  # fmt: skip
    """The score sheet as an XLSX workbook: a title block, one row per candidate, a summary."""
    import openpyxl
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    data = sheet(db, session, station_name=station_name, now=now)
    headers = ["序号", "准考证号", "姓名", "性别", "证件类型", "证件号码", "工作单位",
               *[label for _, label in data.parts], "结果", "版本", "备注"]  # fmt: skip
    widths = [6, 16, 10, 6, 14, 22, 26, *[10] * len(data.parts), 10, 6, 36]
    thin = Side(style="thin", color="999999")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = TITLE
    last = get_column_letter(len(headers))
    ws.merge_cells(f"A1:{last}1")
    ws["A1"] = f"{session.title} {TITLE}"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    meta = [
        f"场次：{session.code}　证书项目：{data.programme.name}（{session.level}）",
        f"考核站点：{station_name}" if station_name else "",
        f"{status_line(data)}　生成时间：{local(data.generated_at)}",
    ]
    line = 2
    for text in filter(None, meta):
        ws.merge_cells(f"A{line}:{last}{line}")
        _put(ws.cell(row=line, column=1), text)
        line += 1
    header_row = line + 1
    for col, (title, width) in enumerate(zip(headers, widths, strict=True), start=1):
        cell = ws.cell(row=header_row, column=col, value=title)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="EDEDED")
        cell.border = box
        cell.alignment = Alignment(horizontal="center")
        ws.column_dimensions[get_column_letter(col)].width = width
    for offset, row in enumerate(data.rows, start=1):
        values = [row.index, row.admission_number, row.name, row.gender, row.id_type,
                  row.id_number, row.organisation, *[getattr(row, p) for p, _ in data.parts],
                  row.outcome, row.version, row.note]  # fmt: skip
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=header_row + offset, column=col)
            _put(cell, value)
            cell.border = box
            if isinstance(value, float):
                cell.number_format = "0.00"
    summary = header_row + len(data.rows) + 2
    _put(ws.cell(row=summary, column=1),
         f"应考 {data.registered} 人，实考 {data.sat} 人，合格 {data.passed} 人，"
         f"合格率 {data.pass_rate:.1%}")  # fmt: skip
    ws.merge_cells(f"A{summary}:{last}{summary}")
    if data.signoff is not None and data.signoff.note:
        _put(ws.cell(row=summary + 1, column=1), f"签字意见：{data.signoff.note}")
        ws.merge_cells(f"A{summary + 1}:{last}{summary + 1}")
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _put(cell, value) -> None:
    """Write ``value``; text is always stored as text, so a name such as ``=HYPERLINK(...)``
    never becomes a formula in whoever opens the sheet."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
