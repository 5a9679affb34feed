"""Admission ticket PDFs and the QR helpers they use."""

from __future__ import annotations

import datetime as dt
import io
import xml.etree.ElementTree as ET

import jinja2
import pytest
from PIL import Image

from certs import identity, keys, ticket_pdf
from certs.qr import qr_matrix, qr_png, qr_svg, qr_version
from certs.ticket_pdf import (
    TicketRenderError,
    TicketView,
    format_window,
    render_ticket,
    render_tickets,
)
from certs.ticket_token import TicketClaims, sign_ticket, verify_ticket
from tests.certs.qr_decode import decode_image, decode_pdf, pdf_page_images, pdf_page_texts

UTC = dt.UTC
SESSION_DATE = dt.date(2026, 12, 5)
CANDIDATES = [
    # name, full ID number (never printed), has photo
    ("欧阳娜娜", "11010519900307123X", True),
    ("张三", "440106198512240016", False),
    ("李<script>alert(1)</script>", "310104200002291234", False),
]


def jpeg(size=(250, 350), colour=(40, 90, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture(scope="module")
def station_key():
    key = keys.generate()
    return key, keys.key_id(key.public_key(), prefix="st-")


def make_view(index: int, name: str, full_id: str, photo: bytes | None, station_key) -> TicketView:
    key, kid = station_key
    admission_number = f"44012626120503{index:02d}"
    masked = identity.mask_id(full_id)
    token = sign_ticket(
        TicketClaims("S20261205-03", admission_number, name, masked, SESSION_DATE),
        private_key=key,
        kid=kid,
    )
    return TicketView(
        session_title="2026年第4批 电工（四级）职业技能等级认定",
        programme="电工（6-31-01-03）",
        level="四级/中级工",
        site_name="广州市第一职业技能考核站",
        admission_number=admission_number,
        candidate_name=name,
        gender="女" if index % 2 == 0 else "男",
        masked_id=masked,
        organisation="广州市某某电力工程有限公司",
        room="第3考场（实训楼 301）",
        seat=f"{index + 1:02d}",
        theory_start=dt.datetime(2026, 12, 5, 1, 0, tzinfo=UTC),  # 09:00 in Shanghai
        theory_end=dt.datetime(2026, 12, 5, 2, 30, tzinfo=UTC),
        qr_token=token,
        photo=photo,
        practical_slot="2026年12月5日 13:30–16:30 实训楼 2 号工位" if index == 0 else None,
    )


@pytest.fixture(scope="module")
def views(station_key) -> list[TicketView]:
    return [
        make_view(i, name, full_id, jpeg() if has_photo else None, station_key)
        for i, (name, full_id, has_photo) in enumerate(CANDIDATES)
    ]


@pytest.fixture(scope="module")
def batch_pdf(views) -> bytes:
    return render_tickets(
        views, title="职业技能等级认定 准考证", rules=["按时到场。", "禁止携带手机。"]
    )


def test_one_page_per_ticket_and_each_qr_is_that_candidates_token(batch_pdf, views, station_key):
    _, kid = station_key
    trusted = {kid: station_key[0].public_key()}
    pages = decode_pdf(batch_pdf)
    assert len(pages) == len(views) == 3
    for page_codes, view in zip(pages, views, strict=True):
        assert page_codes == [view.qr_token]
        claims = verify_ticket(page_codes[0], keys=trusted)
        assert claims.candidate_name == view.candidate_name
        assert claims.admission_number == view.admission_number


def test_page_text_shows_the_candidate_and_never_the_full_id(batch_pdf, views):
    texts = pdf_page_texts(batch_pdf)
    for text, view, (_, full_id, _) in zip(texts, views, CANDIDATES, strict=True):
        assert "职业技能等级认定 准考证" in text
        assert view.candidate_name in text
        assert view.admission_number in text
        assert view.masked_id in text
        assert "2026年12月5日 09:00–10:30" in text
        assert "考场规则" in text and "禁止携带手机。" in text
        assert full_id not in text
        assert full_id[6:14] not in text  # the birth date, hidden by the mask
    assert "13:30–16:30" in texts[0] and "技能考核" in texts[0]
    assert "13:30" not in texts[1]  # no practical slot row
    assert full_id not in batch_pdf.decode("latin-1")


def test_markup_in_a_name_is_printed_as_text(batch_pdf):
    assert "李<script>alert(1)</script>" in pdf_page_texts(batch_pdf)[2]


def test_photo_is_embedded_and_placeholder_shown_without_one(batch_pdf):
    images = pdf_page_images(batch_pdf)
    assert [len(page) for page in images] == [1, 0, 0]  # the QR code is vector, not an image
    assert images[0][0].size == (250, 350)
    assert "照片" in pdf_page_texts(batch_pdf)[1]


def test_single_ticket(views, station_key):
    pdf = render_ticket(views[1])
    assert decode_pdf(pdf) == [[views[1].qr_token]]
    text = pdf_page_texts(pdf)[0]
    assert "张三" in text and "考场规则" in text  # default title and rules
    assert ticket_pdf.DEFAULT_RULES[0] in text


def test_png_photo_is_accepted(views):
    out = io.BytesIO()
    Image.new("RGB", (120, 160), (200, 30, 30)).save(out, "PNG")
    view = views[1].__class__(**{**_fields(views[1]), "photo": out.getvalue()})
    assert ticket_pdf._page(view)["photo_uri"].startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"masked_id": "11010519900307123X"}, "掩码"),
        ({"photo": b"<svg/>"}, "照片"),
        ({"theory_start": dt.datetime(2026, 12, 5, 9, 0)}, "时区"),
        ({"theory_end": dt.datetime(2026, 12, 5, 0, 30, tzinfo=UTC)}, "结束时间"),
        ({"qr_token": ""}, "二维码"),
    ],
)
def test_bad_views_are_refused_with_the_candidate_named(views, changes, message):
    view = TicketView(**{**_fields(views[1]), **changes})
    with pytest.raises(TicketRenderError, match=message) as info:
        render_tickets([views[0], view])
    assert views[1].admission_number in str(info.value)


def test_no_tickets_is_an_error():
    with pytest.raises(TicketRenderError):
        render_tickets([])


def test_remote_resources_are_refused(views, monkeypatch):
    env = jinja2.Environment(
        loader=jinja2.DictLoader(
            {"ticket.html": '<p>x</p><img src="https://example.invalid/logo.png">'}
        ),
        autoescape=True,
    )
    monkeypatch.setattr(ticket_pdf, "_environment", lambda: env)
    with pytest.raises(TicketRenderError, match="外部资源"):
        render_tickets(views[:1])
    fetcher = ticket_pdf._fetcher()
    for url in ("file:///etc/passwd", "http://example.invalid/a.css"):
        with pytest.raises(BaseException, match="example.invalid|passwd"):
            fetcher.fetch(url)


def test_format_window_in_shanghai():
    start = dt.datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    assert format_window(start, start + dt.timedelta(minutes=90)) == "2026年12月5日 09:00–10:30"
    late = dt.datetime(2026, 12, 5, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    assert (
        format_window(late, late + dt.timedelta(hours=2))
        == "2026年12月5日 23:00 – 2026年12月6日 01:00"
    )


# --------------------------------------------------------------------------- QR helpers


TEXT = "SKT1:" + "AEGXG5BNPFWG2ZLNM5YWMYJUBMZDAMRWKE2" * 4


def test_qr_png_decodes_and_keeps_the_quiet_zone():
    png = qr_png(TEXT, box_size=4)
    image = Image.open(io.BytesIO(png))
    modules = 17 + 4 * qr_version(TEXT)
    assert image.size == ((modules + 8) * 4, (modules + 8) * 4)
    grey = image.convert("L")
    border = [grey.getpixel((x, y)) for x in range(16) for y in range(image.size[1])]
    assert min(border) == 255  # four white modules on the left (and by symmetry elsewhere)
    assert decode_image(image) == [TEXT]


def test_qr_svg_is_scalable_with_quiet_zone():
    svg = qr_svg(TEXT)
    root = ET.fromstring(svg)
    size = len(qr_matrix(TEXT))
    assert root.get("viewBox") == f"0 0 {size} {size}"
    assert root.get("width") is None  # sized by CSS
    matrix = qr_matrix(TEXT)
    assert not any(matrix[0]) and not any(row[3] for row in matrix)


def test_qr_version_and_levels():
    assert qr_version("SKT1:ABC") == 1
    assert qr_version(TEXT, "L") <= qr_version(TEXT, "M") <= qr_version(TEXT, "H")
    with pytest.raises(ValueError, match="error correction"):
        qr_version(TEXT, "X")
    with pytest.raises(ValueError):
        qr_png(TEXT, box_size=0)


def _fields(view: TicketView) -> dict:
    return {name: getattr(view, name) for name in TicketView.__dataclass_fields__}
