"""Provincial statistics: the yearly performance report (效能评价年度报告) and its charts.

Two sources, each counted where it is authoritative:

- **certificates** — the ``certificate`` rows, by issue date (a date at the station, already
  Asia/Shanghai), with their revocations; aggregated in SQL (GROUP BY programme, level digit,
  station and month), so a year of hundreds of thousands of certificates is a few hundred rows;
- **candidates and pass rates** — the ``result_summary`` records stations push when a session
  is signed off (candidates, passed), by sign-off time in Asia/Shanghai. A certificate count
  cannot give a pass rate: candidates who failed get no certificate.

Every breakdown (programme, level, station, city, month) carries both, so a row reads
"certificates 120 · candidates 150 · passed 126 · pass rate 84.0 %". Charts are inline SVG
made here (no script, no ``style`` attribute: the pages' CSP allows neither), the same markup on
the dashboard and in the PDF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from markupsafe import Markup, escape
from sqlalchemy import func
from sqlmodel import Session, select

from certs.identity import SHANGHAI
from certs.numbers import CertificateNumberError, level_digit, level_name
from sync.registry.models import Certificate, ResultSummary, Revocation, Station, SyncRecord


@dataclass
class Bucket:
    """One row of a breakdown."""

    key: str
    label: str
    certificates: int = 0
    revoked: int = 0
    sessions: int = 0
    candidates: int = 0
    passed: int = 0

    @property
    def pass_rate(self) -> float | None:
        """Passed / candidates (0..1), None when no session reported."""
        return self.passed / self.candidates if self.candidates else None


@dataclass
class YearReport:
    year: int
    generated_at: datetime
    totals: Bucket
    holders: int  # distinct people certified (by keyed ID hash)
    stations_reporting: int
    by_programme: list[Bucket] = field(default_factory=list)
    by_level: list[Bucket] = field(default_factory=list)
    by_station: list[Bucket] = field(default_factory=list)
    by_city: list[Bucket] = field(default_factory=list)
    by_month: list[Bucket] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.totals.certificates or self.totals.candidates)


def check_year(value: object, *, today: date | None = None) -> int:
    """A report year: 2019 (the numbering rule's first year) up to next year."""
    last = (today or datetime.now(SHANGHAI).date()).year + 1
    try:
        year = int(str(value))
    except ValueError:
        raise ValueError(f"year: {value!r} is not a year") from None
    if not 2019 <= year <= last:
        raise ValueError(f"year: {year} is outside 2019..{last}")
    return year


def years_with_data(session: Session) -> list[int]:
    """Years that have certificates or result summaries, newest first."""
    first, last = session.exec(
        select(func.min(Certificate.issue_date), func.max(Certificate.issue_date))
    ).one()
    s_first, s_last = session.exec(
        select(func.min(ResultSummary.signed_off_at), func.max(ResultSummary.signed_off_at))
    ).one()
    years = {d.year for d in (first, last) if d}
    years |= {t.astimezone(SHANGHAI).year for t in (s_first, s_last) if t}
    return list(range(max(years), min(years) - 1, -1)) if years else []


def _level(value: object) -> tuple[str, str]:
    """(key, label) of a level given as a digit or a name; unknown spellings stay as given."""
    try:
        digit = level_digit(value)  # type: ignore[arg-type]
    except (CertificateNumberError, TypeError, ValueError):
        return str(value), str(value)
    return str(digit), level_name(digit)


class _Breakdown(dict):
    def at(self, key: str, label: str) -> Bucket:
        if key not in self:
            self[key] = Bucket(key, label)
        return self[key]


def year_report(session: Session, year: int, *, now: datetime | None = None) -> YearReport:
    """Certificates, candidates and pass rates for ``year``, broken down five ways."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    t0 = datetime(year, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    t1 = datetime(year + 1, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    stations = {s.id: s for s in session.exec(select(Station))}
    names = dict(session.exec(select(Certificate.programme_code,
                                     func.max(Certificate.programme_name))
                              .group_by(Certificate.programme_code)).all())  # fmt: skip
    totals = Bucket("total", "total")
    dims = {d: _Breakdown() for d in ("programme", "level", "station", "city", "month")}
    for m in range(1, 13):
        dims["month"].at(f"{m:02d}", f"{m}")

    def buckets(programme: str, level: tuple[str, str], station: Station | None, city: str,
                month: int) -> list[Bucket]:  # fmt: skip
        code = station.code if station else "?"
        return [totals,
                dims["programme"].at(programme, names.get(programme) or programme),
                dims["level"].at(*level),
                dims["station"].at(code, station.name if station else code),
                dims["city"].at(city or "?", city or "?"),
                dims["month"].at(f"{month:02d}", f"{month}")]  # fmt: skip

    issue_month = func.extract("month", Certificate.issue_date)
    rows = session.exec(
        select(Certificate.programme_code, Certificate.level_digit, Certificate.station_id,
               issue_month, func.count(Certificate.id), func.count(Revocation.id))
        .outerjoin(Revocation, Revocation.certificate_id == Certificate.id)
        .where(Certificate.issue_date >= start, Certificate.issue_date <= end)
        .group_by(Certificate.programme_code, Certificate.level_digit, Certificate.station_id,
                  issue_month)
    )  # fmt: skip
    for programme, digit, station_id, m, count, revoked in rows:
        station = stations.get(station_id)
        for b in buckets(programme, _level(digit), station, station.city if station else "",
                         int(m)):  # fmt: skip
            b.certificates += count
            b.revoked += revoked
    for s in latest_summaries(session, t0, t1):
        local = s.signed_off_at.astimezone(SHANGHAI)
        for b in buckets(s.programme_code, _level(s.level), stations.get(s.station_id), s.city,
                         local.month):  # fmt: skip
            b.sessions += 1
            b.candidates += s.candidates
            b.passed += s.passed
    holders = session.exec(select(func.count(func.distinct(Certificate.id_hash))).where(
        Certificate.issue_date >= start, Certificate.issue_date <= end)).one()  # fmt: skip

    def by_volume(d: dict) -> list[Bucket]:
        return sorted(d.values(), key=lambda b: (-b.certificates, -b.candidates, b.key))

    return YearReport(
        year=year, generated_at=now or datetime.now(UTC), totals=totals, holders=holders,
        stations_reporting=len(dims["station"]),
        by_programme=by_volume(dims["programme"]),
        by_level=sorted(dims["level"].values(), key=lambda b: b.key, reverse=True),
        by_station=sorted(dims["station"].values(), key=lambda b: b.key),
        by_city=by_volume(dims["city"]), by_month=sorted(dims["month"].values(),
                                                          key=lambda b: b.key),
    )  # fmt: skip


def latest_summaries(session: Session, t0: datetime, t1: datetime) -> list[ResultSummary]:
    """The result summaries of sessions signed off in [t0, t1), the newest revision of each
    session only: a station sends the summary again after a regrade or an upheld appeal
    (``revision`` 2, 3 …), and the later record (by the station's clock, then arrival) wins."""
    rows = session.exec(
        select(ResultSummary, SyncRecord.created_at)
        .join(SyncRecord, SyncRecord.id == ResultSummary.record_id)
        .where(ResultSummary.signed_off_at >= t0, ResultSummary.signed_off_at < t1)
    )  # fmt: skip
    newest: dict[tuple[int, str], tuple[datetime, int, ResultSummary]] = {}
    for summary, created in rows:
        key, rank = (summary.station_id, summary.session_code), (created, summary.id or 0)
        if key not in newest or rank > newest[key][:2]:
            newest[key] = (*rank, summary)
    return [entry[2] for entry in newest.values()]


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


# --------------------------------------------------------------------------- charts

INK, MUTED, GRID, BAR, ALT = "#1d2430", "#5f6b7a", "#dde1e7", "#1f5fa8", "#1b7a3e"


def _fmt(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _nice_top(largest: float) -> tuple[int, int]:
    """The top of a count axis and its step: 1, 2 or 5 × 10^k, at most 5 steps."""
    largest = max(largest, 1)
    magnitude = 1
    while True:
        for mult in (1, 2, 5):
            step = mult * magnitude
            if math.ceil(largest / step) <= 5:
                return step * math.ceil(largest / step), step
        magnitude *= 10


def _text(x: float, y: float, text: str, anchor: str, cls: str, fill: str = INK) -> str:
    return (f'<text class="{cls}" x="{_fmt(x)}" y="{_fmt(y)}" text-anchor="{anchor}"'
            f' fill="{fill}">{escape(text)}</text>')  # fmt: skip


def _svg(chart_id: str, width: int, height: int, title: str, desc: str, parts: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}"'
        f' viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img"'
        f' aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" font-size="12"'
        f' fill="{INK}"><title id="{escape(chart_id)}-t">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-d">{escape(desc)}</desc>' + "".join(parts) + "</svg>"
    )


def column_chart(labels: Sequence[str], values: Sequence[float], *, title: str, desc: str,
                 chart_id: str, width: int = 640, height: int = 260) -> Markup:  # fmt: skip
    """Vertical bars (e.g. certificates per month), each titled "label: value"."""
    if len(labels) != len(values):
        raise ValueError("labels and values differ in length")
    left, right, top, bottom = 48, 12, 16, 28
    w, h = width - left - right, height - top - bottom
    y_top, y_step = _nice_top(max(values, default=0))
    parts = []
    for i in range(y_top // y_step + 1):
        tick = i * y_step
        y = top + h - h * tick / y_top
        parts.append(f'<line class="grid" x1="{left}" y1="{_fmt(y)}" x2="{left + w}"'
                     f' y2="{_fmt(y)}" stroke="{GRID}"/>')  # fmt: skip
        parts.append(_text(left - 6, y + 4, _fmt(tick), "end", "tick", MUTED))
    slot = w / max(len(values), 1)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar_h = h * value / y_top
        x = left + i * slot
        parts.append(
            f'<rect class="bar" x="{_fmt(x + slot * 0.15)}" y="{_fmt(top + h - bar_h)}"'
            f' width="{_fmt(slot * 0.7)}" height="{_fmt(bar_h)}" fill="{BAR}"'
            f' data-label="{escape(label)}" data-value="{_fmt(value)}">'
            f"<title>{escape(label)}: {_fmt(value)}</title></rect>"
        )
        parts.append(_text(x + slot / 2, top + h + 16, label, "middle", "tick", MUTED))
    return _svg(chart_id, width, height, title, desc, parts)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, desc: str,
              chart_id: str, percent_axis: bool = False, width: int = 640,
              label_width: int = 150) -> Markup:  # fmt: skip
    """Horizontal bars for categories with long names (programmes, cities); with
    ``percent_axis`` values are rates 0..1 shown as percentages."""
    if len(labels) != len(values):
        raise ValueError("labels and values differ in length")
    row, top = 26, 8
    height = top * 2 + row * max(len(values), 1)
    left, right = label_width, 56
    w = width - left - right
    y_top = 1.0 if percent_axis else _nice_top(max(values, default=0))[0]
    parts = [f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{height - top}"'
             f' stroke="{GRID}"/>']  # fmt: skip
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        bar_w = w * min(value / y_top, 1) if y_top else 0
        shown = f"{value * 100:.1f}%" if percent_axis else _fmt(value)
        short = label if len(label) <= 12 else label[:11] + "…"
        parts.append(_text(left - 6, y + row / 2 + 4, short, "end", "label"))
        parts.append(
            f'<rect class="bar" x="{left}" y="{_fmt(y + 4)}" width="{_fmt(bar_w)}"'
            f' height="{row - 8}" fill="{ALT if percent_axis else BAR}"'
            f' data-label="{escape(label)}" data-value="{_fmt(value)}">'
            f"<title>{escape(label)}: {shown}</title></rect>"
        )
        parts.append(_text(left + bar_w + 4, y + row / 2 + 4, shown, "start", "value", MUTED))
    return _svg(chart_id, width, height, title, desc, parts)
