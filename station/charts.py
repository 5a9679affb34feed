"""Inline SVG charts for the item-statistics pages, rendered on the server.

Each function returns a ``markupsafe.Markup`` ``<svg>`` ready to drop into a template. No
script, no external asset, and no ``style`` attribute or ``<style>`` element (the station's CSP
allows no inline styles): colours and sizes are SVG presentation attributes (``fill``,
``stroke``, ``font-size``), which a stylesheet can override through the class names. Every
label comes from the caller, already translated, and is escaped here. Charts are images for
assistive technology: ``role="img"`` with a ``<title>`` and ``<desc>``.

Geometry: the plot area starts ``MARGIN_LEFT`` from the left and ``MARGIN_TOP`` from the top of
a ``width`` x ``height`` view box and leaves ``MARGIN_RIGHT`` / ``MARGIN_BOTTOM`` for the axes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

from markupsafe import Markup, escape

from question_bank.itemstats import ItemFlag, ItemStats, Thresholds

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 24, 48
INK, MUTED, GRID, BAR, ALERT, WARN = (
    "#1d2430",
    "#6b7280",
    "#dde1e7",
    "#1f5fa8",
    "#b3261e",
    "#a15c00",
)


def score_histogram(
    totals: Sequence[float],
    *,
    max_total: float,
    pass_mark: float | None,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    pass_label: str = "",
    bins: int = 10,
    chart_id: str = "score-histogram",
    width: int = 640,
    height: int = 320,
) -> Markup:
    """A histogram of total scores in ``bins`` equal bins over [0, ``max_total``], with a dashed
    line (and ``pass_label``) at ``pass_mark``. Each bin is [from, to) except the last, which
    includes ``max_total``. Each bar carries ``data-count``, ``data-from``, ``data-to`` and a
    ``<title>`` "from–to: count"."""
    if not (max_total > 0 and math.isfinite(max_total)):
        raise ValueError(f"max_total: must be a positive number, got {max_total!r}")
    if bins < 1:
        raise ValueError(f"bins: must be at least 1, got {bins!r}")
    if pass_mark is not None and not 0 <= pass_mark <= max_total:
        raise ValueError(f"pass_mark: {pass_mark!r} is outside 0..{max_total:g}")
    step = max_total / bins
    counts = [0] * bins
    for i, total in enumerate(totals):
        if not (math.isfinite(total) and 0 <= total <= max_total):
            raise ValueError(f"totals[{i}]: {total!r} is outside 0..{max_total:g}")
        counts[min(bins - 1, math.floor(total / step + 1e-9))] += 1
    plot = _Plot(width, height)
    y_top, y_step = _nice_top(max(counts, default=0))
    parts = [plot.frame()]
    for tick in range(0, y_top + 1, y_step):
        y = plot.y(tick / y_top)
        parts.append(_line(plot.left, y, plot.right, y, GRID, "grid"))
        parts.append(_text(plot.left - 6, y + 4, _fmt(tick), "end", "tick"))
    bar_w = plot.w / bins
    label_every = math.ceil(bins / 10)
    for i, count in enumerate(counts):
        lo, hi = i * step, (i + 1) * step
        x, bar_h = plot.left + i * bar_w, plot.h * count / y_top
        parts.append(
            f'<rect class="bar" x="{_fmt(x + 1)}" y="{_fmt(plot.bottom - bar_h)}"'
            f' width="{_fmt(bar_w - 2)}" height="{_fmt(bar_h)}" fill="{BAR}"'
            f' data-count="{count}" data-from="{_fmt(lo)}" data-to="{_fmt(hi)}">'
            f"<title>{_fmt(lo)}–{_fmt(hi)}: {count}</title></rect>"
        )
    for i in range(0, bins + 1, label_every):
        x = plot.left + i * bar_w
        parts.append(_text(x, plot.bottom + 16, _fmt(i * step), "middle", "tick"))
    if pass_mark is not None:
        x = plot.left + plot.w * pass_mark / max_total
        parts.append(
            f'<line class="pass-mark" x1="{_fmt(x)}" y1="{_fmt(plot.top - 8)}" x2="{_fmt(x)}"'
            f' y2="{_fmt(plot.bottom)}" stroke="{ALERT}" stroke-width="2"'
            f' stroke-dasharray="5 3" data-value="{_fmt(pass_mark)}"/>'
        )
        anchor = "end" if pass_mark > max_total * 0.8 else "start"
        dx = -4 if anchor == "end" else 4
        parts.append(_text(x + dx, plot.top - 10, pass_label, anchor, "pass-label", ALERT))
    parts.append(plot.axis_labels(x_label, y_label))
    return _svg(chart_id, "chart chart-histogram", width, height, title, desc, parts)


def facility_discrimination_scatter(
    items: Iterable[ItemStats],
    *,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    zone_labels: Mapping[str, str] | None = None,
    thresholds: Thresholds | None = None,
    chart_id: str = "item-scatter",
    width: int = 640,
    height: int = 400,
) -> Markup:
    """Facility (x, 0..1) against discrimination index (y, from -0.5 — or -1 if an item is
    below -0.5 — to 1), one titled point per item. Items whose discrimination is undefined are
    not plotted. The flag zones are shaded: ``zone_labels`` maps an :class:`ItemFlag` value
    (negative_discrimination, weak_discrimination, very_hard, very_easy) to its label."""
    th = thresholds or Thresholds()
    labels = dict(zone_labels or {})
    points = [s for s in items if s.discrimination_index is not None]
    y_min = -1.0 if any(s.discrimination_index < -0.5 for s in points) else -0.5
    plot = _Plot(width, height)

    def px(facility: float) -> float:
        return plot.left + plot.w * facility

    def py(di: float) -> float:
        return plot.y((di - y_min) / (1 - y_min))

    parts = [plot.frame()]
    zones = [  # (flag, x0, x1, y0, y1, fill)
        (ItemFlag.NEGATIVE_DISCRIMINATION, 0.0, 1.0, y_min, 0.0, ALERT),
        (ItemFlag.WEAK_DISCRIMINATION, 0.0, 1.0, 0.0, max(0.0, th.weak_discrimination), WARN),
        (ItemFlag.VERY_HARD, 0.0, th.very_hard, y_min, 1.0, MUTED),
        (ItemFlag.VERY_EASY, th.very_easy, 1.0, y_min, 1.0, MUTED),
    ]
    for flag, x0, x1, y0, y1, fill in zones:
        label = labels.get(flag.value, "")
        tooltip = f"<title>{escape(label)}</title>" if label else ""
        parts.append(
            f'<rect class="zone zone-{flag.value.replace("_", "-")}" x="{_fmt(px(x0))}"'
            f' y="{_fmt(py(y1))}" width="{_fmt(px(x1) - px(x0))}"'
            f' height="{_fmt(py(y0) - py(y1))}" fill="{fill}" fill-opacity="0.12"'
            f' data-zone="{flag.value}">{tooltip}</rect>'
        )
        if label:  # bands: in the middle; columns: at the top
            column = x1 - x0 < 1
            lx, ly = px((x0 + x1) / 2), py(1) + 14 if column else py((y0 + y1) / 2) + 4
            parts.append(_text(lx, ly, label, "middle", "zone-label", MUTED))
    for tick in range(11):
        parts.append(_text(px(tick / 10), plot.bottom + 16, _fmt(tick / 10), "middle", "tick"))
    for tick in range(round(y_min * 4), 5):
        y = py(tick / 4)
        stroke, cls = (INK, "grid zero") if tick == 0 else (GRID, "grid")
        parts.append(_line(plot.left, y, plot.right, y, stroke, cls))
        parts.append(_text(plot.left - 6, y + 4, _fmt(tick / 4), "end", "tick"))
    for s in points:
        fill = ALERT if s.flags else BAR
        cls = "point flagged" if s.flags else "point"
        tip = f"{s.item_id}: {s.facility:.2f}, {s.discrimination_index:.2f}"
        parts.append(
            f'<circle class="{cls}" cx="{_fmt(px(s.facility))}"'
            f' cy="{_fmt(py(s.discrimination_index))}" r="4" fill="{fill}"'
            f' data-item="{escape(s.item_id)}"><title>{escape(tip)}</title></circle>'
        )
    parts.append(plot.axis_labels(x_label, y_label))
    return _svg(chart_id, "chart chart-scatter", width, height, title, desc, parts)


class _Plot:
    """The plot area of a chart and the mapping of a 0..1 fraction to its y coordinate."""

    def __init__(self, width: int, height: int):
        if width < MARGIN_LEFT + MARGIN_RIGHT + 40 or height < MARGIN_TOP + MARGIN_BOTTOM + 40:
            raise ValueError(f"chart size {width}x{height} is too small")
        self.width, self.height = width, height
        self.left, self.top = MARGIN_LEFT, MARGIN_TOP
        self.right, self.bottom = width - MARGIN_RIGHT, height - MARGIN_BOTTOM
        self.w, self.h = self.right - self.left, self.bottom - self.top

    def y(self, fraction: float) -> float:
        return self.bottom - self.h * fraction

    def frame(self) -> str:
        return (
            f'<rect class="plot" x="{self.left}" y="{self.top}" width="{self.w}"'
            f' height="{self.h}" fill="none" stroke="{GRID}"/>'
        )

    def axis_labels(self, x_label: str, y_label: str) -> str:
        cx, cy = self.left + self.w / 2, self.top + self.h / 2
        return _text(cx, self.height - 10, x_label, "middle", "axis-label") + (
            f'<text class="axis-label" x="0" y="0" text-anchor="middle" fill="{INK}"'
            f' transform="translate(14 {_fmt(cy)}) rotate(-90)">{escape(y_label)}</text>'
        )


def _svg(
    chart_id: str, cls: str, width: int, height: int, title: str, desc: str, parts: list[str]
) -> Markup:
    cid = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id) or "chart"
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" id="{cid}"'
        f' viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img"'
        f' aria-labelledby="{cid}-title {cid}-desc" font-size="12" fill="{INK}">'
        f'<title id="{cid}-title">{escape(title)}</title>'
        f'<desc id="{cid}-desc">{escape(desc)}</desc>' + "".join(parts) + "</svg>"
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, cls: str) -> str:
    return (
        f'<line class="{cls}" x1="{_fmt(x1)}" y1="{_fmt(y1)}" x2="{_fmt(x2)}" y2="{_fmt(y2)}"'
        f' stroke="{stroke}" stroke-width="1"/>'
    )


def _text(x: float, y: float, text: str, anchor: str, cls: str, fill: str = INK) -> str:
    return (
        f'<text class="{cls}" x="{_fmt(x)}" y="{_fmt(y)}" text-anchor="{anchor}"'
        f' fill="{fill}">{escape(text)}</text>'
    )


def _fmt(value: float) -> str:
    """A coordinate or tick value: at most two decimals, no trailing zeros, no "-0"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _nice_top(largest: int) -> tuple[int, int]:
    """The top of a count axis and its tick step: 1, 2 or 5 x 10^k, at most 5 steps."""
    largest = max(1, largest)
    magnitude = 1
    while True:
        for mult in (1, 2, 5):
            step = mult * magnitude
            if math.ceil(largest / step) <= 5:
                return step * math.ceil(largest / step), step
        magnitude *= 10
