"""Server-side SVG charts (station.charts): parsed as XML and measured.

Geometry used below: a 640 x 320 histogram has its plot area at x 56..624 (568 wide) and
y 24..272 (248 high); a 640 x 400 scatter at x 56..624 and y 24..352 (328 high).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from question_bank.itemstats import ItemFlag, ItemStats, Thresholds
from station.charts import facility_discrimination_scatter, score_histogram

NS = {"svg": "http://www.w3.org/2000/svg"}
SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: Markup) -> ET.Element:
    assert isinstance(markup, Markup)
    return ET.fromstring(str(markup))


def assert_csp_safe_and_accessible(root: ET.Element) -> None:
    for el in root.iter():
        assert "style" not in el.attrib, el.tag  # the CSP forbids inline styles
        assert el.tag not in (SVG + "style", SVG + "script", SVG + "image", SVG + "foreignObject")
        for name, value in el.attrib.items():
            assert not name.startswith("on"), name
            assert "http" not in value or name == "xmlns", (name, value)
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find(f"svg:title[@id='{title_id}']", NS) is not None
    assert root.find(f"svg:desc[@id='{desc_id}']", NS) is not None


def histogram(totals, **kw):
    args = {
        "max_total": 100,
        "pass_mark": 60,
        "title": "Scores",
        "desc": "Distribution of total scores",
        "x_label": "Total",
        "y_label": "Candidates",
        "pass_label": "Pass 60",
    } | kw
    return parse(score_histogram(totals, **args))


def bars(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//svg:rect[@class='bar']", NS)


def test_histogram_bars_counts_and_heights():
    # Bins of 10: [0,10) [10,20) ... [90,100]. 100 goes in the last bin, 60 in [60,70).
    totals = [5, 55, 58, 60, 61, 69.9, 70, 100, 95]
    root = histogram(totals)
    assert_csp_safe_and_accessible(root)
    rects = bars(root)
    assert len(rects) == 10
    counts = [int(r.get("data-count")) for r in rects]
    assert counts == [1, 0, 0, 0, 0, 2, 3, 1, 0, 2]
    # Largest count 3 -> the axis tops out at 3 (steps of 1), so one candidate = 248 / 3 px.
    for rect, count in zip(rects, counts, strict=True):
        height = float(rect.get("height"))
        assert height == pytest.approx(248 * count / 3, abs=0.01)
        assert float(rect.get("y")) + height == pytest.approx(272, abs=0.01)  # on the axis
    # Bar i starts at 56 + i x 56.8 (+1 px gap) and is 56.8 - 2 wide.
    assert float(rects[6].get("x")) == pytest.approx(56 + 6 * 56.8 + 1, abs=0.01)
    assert float(rects[6].get("width")) == pytest.approx(54.8, abs=0.01)
    assert rects[6].find("svg:title", NS).text == "60–70: 3"
    assert (rects[9].get("data-from"), rects[9].get("data-to")) == ("90", "100")
    ticks = [t.text for t in root.findall(".//svg:text[@class='tick']", NS)]
    assert ticks[:4] == ["0", "1", "2", "3"]  # the count axis


def test_histogram_pass_mark_and_labels():
    root = histogram([50, 70])
    line = root.find(".//svg:line[@class='pass-mark']", NS)
    # 60 of 100 across a 568 px plot starting at 56: 56 + 340.8 = 396.8.
    assert float(line.get("x1")) == float(line.get("x2")) == pytest.approx(396.8)
    assert line.get("data-value") == "60"
    assert line.get("stroke-dasharray")
    assert root.find(".//svg:text[@class='pass-label']", NS).text == "Pass 60"
    labels = [t.text for t in root.findall(".//svg:text[@class='axis-label']", NS)]
    assert labels == ["Total", "Candidates"]
    assert histogram([50], pass_mark=None).find(".//svg:line[@class='pass-mark']", NS) is None


def test_histogram_bin_edges_and_axis_scaling():
    # Float edges: 0.3 / 0.1 is 2.999..., still the [0.3, 0.4) bin.
    root = histogram([0.3, 0.29, 1.0], max_total=1, pass_mark=0.6, bins=10)
    assert [int(r.get("data-count")) for r in bars(root)] == [0, 0, 1, 1, 0, 0, 0, 0, 0, 1]
    # 23 in one bin: steps of 5 up to 25, so the tall bar is 248 x 23/25 high.
    root = histogram([10] * 23 + [90])
    heights = [float(r.get("height")) for r in bars(root)]
    assert heights[1] == pytest.approx(248 * 23 / 25, abs=0.01)
    assert heights[9] == pytest.approx(248 * 1 / 25, abs=0.01)
    ticks = [t.text for t in root.findall(".//svg:text[@class='tick']", NS)]
    assert ticks[:6] == ["0", "5", "10", "15", "20", "25"]
    # No candidates at all: empty bars on a 0..1 axis, still a valid chart.
    assert all(r.get("height") == "0" for r in bars(histogram([])))


def test_histogram_escapes_every_label():
    evil = '<script>alert("x")</script> & "quotes"'
    markup = score_histogram(
        [1],
        max_total=10,
        pass_mark=5,
        title=evil,
        desc=evil,
        x_label=evil,
        y_label=evil,
        pass_label=evil,
        chart_id='x" onload="alert(1)',
    )
    assert "<script>" not in markup and 'onload="' not in markup
    root = parse(markup)
    assert_csp_safe_and_accessible(root)
    assert root.find("svg:title", NS).text == evil
    assert root.find(".//svg:text[@class='pass-label']", NS).text == evil
    assert root.get("id") == "x--onload--alert-1-"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_total": 0}, "max_total"),
        ({"bins": 0}, "bins"),
        ({"pass_mark": 120}, "pass_mark"),
        ({"totals": [101]}, r"totals\[0\]"),
        ({"totals": [-1]}, r"totals\[0\]"),
        ({"width": 50}, "too small"),
    ],
)
def test_histogram_refuses_bad_input(kwargs, message):
    totals = kwargs.pop("totals", [1])
    with pytest.raises(ValueError, match=message):
        histogram(totals, **kwargs)


def item(item_id: str, facility: float, di: float | None, *flags: ItemFlag) -> ItemStats:
    return ItemStats(
        item_id=item_id,
        position=1,
        max_mark=1.0,
        n=10,
        mean=facility,
        facility=facility,
        sd=0.5,
        discrimination_index=di,
        discriminative_efficiency=None,
        intended_weight=0.1,
        effective_weight=None,
        flags=tuple(flags),
    )


def scatter(items, **kw):
    args = {"title": "Items", "desc": "Facility against discrimination"} | kw
    return parse(facility_discrimination_scatter(items, x_label="F", y_label="D", **args))


def test_scatter_points_positions_and_titles():
    items = [
        item("Q1", 0.5, 0.4),
        item("Q<2>&", 0.95, 0.1, ItemFlag.WEAK_DISCRIMINATION, ItemFlag.VERY_EASY),
        item("Q3", 0.2, -0.2, ItemFlag.NEGATIVE_DISCRIMINATION),
        item("Q4", 1.0, None, ItemFlag.NO_VARIANCE),  # undefined: not plotted
    ]
    root = scatter(items)
    assert_csp_safe_and_accessible(root)
    points = root.findall(".//svg:circle", NS)
    assert [p.get("data-item") for p in points] == ["Q1", "Q<2>&", "Q3"]
    # y runs from -0.5 (bottom, 352) to 1 (top, 24): y = 352 - 328 x (d + 0.5) / 1.5.
    q1, q2, q3 = points
    assert float(q1.get("cx")) == pytest.approx(56 + 568 * 0.5, abs=0.01)  # 340
    assert float(q1.get("cy")) == pytest.approx(352 - 328 * 0.9 / 1.5, abs=0.01)  # 155.2
    assert float(q2.get("cx")) == pytest.approx(56 + 568 * 0.95, abs=0.01)
    assert float(q3.get("cy")) == pytest.approx(352 - 328 * 0.3 / 1.5, abs=0.01)  # 286.4
    assert q1.get("class") == "point" and q2.get("class") == q3.get("class") == "point flagged"
    assert q2.find("svg:title", NS).text == "Q<2>&: 0.95, 0.10"
    assert "Q&lt;2&gt;&amp;" in str(facility_discrimination_scatter(items, **labels()))


def labels(**extra):
    return {"title": "t", "desc": "d", "x_label": "x", "y_label": "y"} | extra


def test_scatter_zones_follow_thresholds():
    zone_labels = {
        "negative_discrimination": "区分度为负",
        "weak_discrimination": "区分度弱 <0.25",
        "very_hard": "很难",
        "very_easy": "很易",
    }
    th = Thresholds(weak_discrimination=0.25, very_easy=0.85, very_hard=0.15)
    root = scatter([item("Q1", 0.5, 0.4)], zone_labels=zone_labels, thresholds=th)
    zones = {z.get("data-zone"): z for z in root.findall(".//svg:rect[@data-zone]", NS)}
    assert set(zones) == set(zone_labels)
    neg, weak = zones["negative_discrimination"], zones["weak_discrimination"]
    # Negative: from d = 0 (y 352 - 328/3 = 242.67) down to -0.5 (352).
    assert float(neg.get("y")) == pytest.approx(352 - 328 * 0.5 / 1.5, abs=0.01)
    assert float(neg.get("height")) == pytest.approx(328 * 0.5 / 1.5, abs=0.01)
    # Weak: 0 to 0.25, 328 x 0.25 / 1.5 = 54.67 high, across the whole plot.
    assert float(weak.get("height")) == pytest.approx(328 * 0.25 / 1.5, abs=0.01)
    assert float(weak.get("width")) == pytest.approx(568)
    hard, easy = zones["very_hard"], zones["very_easy"]
    assert float(hard.get("width")) == pytest.approx(568 * 0.15, abs=0.01)
    assert float(easy.get("x")) == pytest.approx(56 + 568 * 0.85, abs=0.01)
    assert float(easy.get("height")) == pytest.approx(328)
    assert weak.find("svg:title", NS).text == "区分度弱 <0.25"
    texts = {t.text for t in root.findall(".//svg:text[@class='zone-label']", NS)}
    assert texts == set(zone_labels.values())
    assert "区分度弱 &lt;0.25" in str(
        facility_discrimination_scatter([], zone_labels=zone_labels, **labels())
    )


def test_scatter_extends_the_axis_for_very_negative_items():
    root = scatter([item("Q1", 0.3, -0.8, ItemFlag.NEGATIVE_DISCRIMINATION)])
    # y now runs from -1 (352) to 1 (24): y = 352 - 328 x (d + 1) / 2.
    (point,) = root.findall(".//svg:circle", NS)
    assert float(point.get("cy")) == pytest.approx(352 - 328 * 0.2 / 2, abs=0.01)
    ticks = [t.text for t in root.findall(".//svg:text[@class='tick']", NS)]
    assert "-1" in ticks and "1" in ticks
    assert_csp_safe_and_accessible(root)


def test_scatter_with_no_points_is_still_a_chart():
    root = scatter([item("Q1", 1.0, None)])
    assert root.findall(".//svg:circle", NS) == []
    assert root.find("svg:title", NS).text == "Items"
