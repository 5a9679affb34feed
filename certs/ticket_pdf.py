"""Admission ticket (准考证) PDFs: one A4 portrait page per candidate, rendered by WeasyPrint.

The layout is ``certs/templates/ticket.html`` + ``ticket.css`` (Jinja2, autoescaped). Everything
the page shows is embedded: the photo and the QR code as ``data:`` URIs, the CJK font from the
system (WenQuanYi Micro Hei or Noto Sans CJK SC). WeasyPrint is given a URL fetcher that refuses
every non-``data:`` URL, so rendering never touches the network or the file system.

Render a batch with one :func:`render_tickets` call rather than one call per candidate: most of
the time goes into subsetting the CJK font, which happens once per document.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import weasyprint

from certs.qr import qr_svg
from certs.ticket_token import is_masked_id

__all__ = [
    "DEFAULT_RULES",
    "DEFAULT_TITLE",
    "TicketRenderError",
    "TicketView",
    "format_window",
    "render_ticket",
    "render_tickets",
]

DISPLAY_TZ = ZoneInfo("Asia/Shanghai")
TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "ticket.html"
QR_ERROR = "M"

DEFAULT_TITLE = "职业技能等级认定 准考证"
DEFAULT_RULES = [
    "考生凭本准考证和有效身份证件，于考试开始前 30 分钟到达考场，接受检录和身份核验。",
    "理论知识考试开考 15 分钟后不得入场，开考 30 分钟内不得交卷离场。",
    "除规定的文具外，不得携带手机、智能手表等电子设备和任何资料进入考场。",
    "按准考证上的考场和座位号就座，将准考证和身份证件放在桌面左上角，以备查验。",
    "服从考评人员管理，保持考场安静；违纪者按有关规定处理，并记录在案。",
    "技能考核须遵守安全操作规程；发生安全事故或触及否决项的，该项考核不合格。",
    "本准考证不得涂改、转借，请妥善保管至成绩公布。",
]

_IMAGE_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class TicketRenderError(ValueError):
    """A ticket could not be rendered; the message names the candidate and the reason."""


@dataclass(frozen=True, slots=True)
class TicketView:
    """Everything one printed ticket shows. Times are timezone-aware; they print in Asia/Shanghai."""

    session_title: str
    programme: str
    level: str
    site_name: str
    admission_number: str
    candidate_name: str
    gender: str
    masked_id: str
    organisation: str
    room: str
    seat: str
    theory_start: dt.datetime
    theory_end: dt.datetime
    qr_token: str
    photo: bytes | None = None
    practical_slot: str | None = None


def format_window(start: dt.datetime, end: dt.datetime) -> str:
    """``2026年12月5日 09:00–10:30`` in Asia/Shanghai (both dates shown when the days differ)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("exam times must be timezone-aware")
    start, end = start.astimezone(DISPLAY_TZ), end.astimezone(DISPLAY_TZ)

    def day(d: dt.datetime) -> str:
        return f"{d.year}年{d.month}月{d.day}日"

    if start.date() == end.date():
        return f"{day(start)} {start:%H:%M}–{end:%H:%M}"
    return f"{day(start)} {start:%H:%M} – {day(end)} {end:%H:%M}"


def render_tickets(
    tickets: list[TicketView],
    *,
    title: str = DEFAULT_TITLE,
    rules: list[str] | None = None,
) -> bytes:
    """One PDF, one A4 page per ticket, in the order given."""
    if not tickets:
        raise TicketRenderError("没有要打印的准考证 (no tickets)")
    rules = DEFAULT_RULES if rules is None else list(rules)
    pages = [_page(ticket) for ticket in tickets]
    html = _environment().get_template(TEMPLATE).render(title=title, rules=rules, pages=pages)
    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=_fetcher())
    try:
        pdf = document.write_pdf()
    except _RemoteResourceRefused as exc:
        raise TicketRenderError(
            f"准考证模板引用了外部资源，已拒绝：{exc} (remote resource)"
        ) from None
    assert pdf is not None
    return pdf


def render_ticket(
    ticket: TicketView, *, title: str = DEFAULT_TITLE, rules: list[str] | None = None
) -> bytes:
    """A single candidate's ticket (same template, one page)."""
    return render_tickets([ticket], title=title, rules=rules)


# --------------------------------------------------------------------------- internals


def _page(ticket: TicketView) -> dict[str, object]:
    who = f"准考证 {ticket.admission_number}（{ticket.candidate_name}）"
    if not is_masked_id(ticket.masked_id):
        raise TicketRenderError(
            f"{who}：证件号码必须是掩码形式，准考证上不得出现完整号码 (masked_id)"
        )
    if not ticket.qr_token:
        raise TicketRenderError(f"{who}：缺少二维码令牌 (qr_token)")
    try:
        theory = format_window(ticket.theory_start, ticket.theory_end)
    except ValueError:
        raise TicketRenderError(f"{who}：理论考试时间必须带时区 (naive datetime)") from None
    if ticket.theory_end <= ticket.theory_start:
        raise TicketRenderError(f"{who}：理论考试结束时间早于开始时间 (theory window)")
    svg = qr_svg(ticket.qr_token, error=QR_ERROR)
    return {
        "t": ticket,
        "theory": theory,
        "photo_uri": _photo_uri(ticket.photo, who),
        "qr_uri": "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii"),
    }


def _photo_uri(photo: bytes | None, who: str) -> str | None:
    if not photo:
        return None
    for magic, mime in _IMAGE_TYPES:
        if photo.startswith(magic):
            return f"data:{mime};base64," + base64.b64encode(photo).decode("ascii")
    raise TicketRenderError(f"{who}：照片不是 JPEG、PNG 或 GIF 图片 (photo format)")


_ENV: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _ENV


try:  # WeasyPrint >= 68: fetchers are URLFetcher objects
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class _RemoteResourceRefused(FatalURLFetchingError):
        pass

    class _DataOnlyFetcher(URLFetcher):
        """Serves ``data:`` URLs and stops the rendering on anything else."""

        def fetch(self, url, headers=None):
            if not url.lower().startswith("data:"):
                raise _RemoteResourceRefused(url)
            return super().fetch(url, headers)

    def _fetcher() -> object:
        return _DataOnlyFetcher(allowed_protocols=("data",))

except ImportError:  # pragma: no cover - WeasyPrint 62-67: fetchers are plain functions

    class _RemoteResourceRefused(Exception):  # type: ignore[no-redef]
        pass

    def _fetcher() -> object:  # type: ignore[misc]
        def fetch(url: str) -> dict:
            if not url.lower().startswith("data:"):
                raise _RemoteResourceRefused(url)  # WeasyPrint logs it and leaves the resource out
            return weasyprint.default_url_fetcher(url)

        return fetch
