"""Certificate PDFs: page, fields, photo, QR size and quiet zone, batches, determinism, templates."""

from __future__ import annotations

import base64
import datetime as dt
import io
import math
import os
from dataclasses import replace
from decimal import Decimal

import pypdf
import pytest
import zxingcpp
from PIL import Image

from certs import certificate_pdf
from certs.certificate_pdf import (
    CertificatePrint,
    CertificateRenderError,
    Scores,
    TemplateError,
    render_batch,
    render_certificate,
)
from certs.qr import QUIET_ZONE, qr_version
from tests.certs.qr_decode import decode_pdf, pdf_page_images, pdf_page_texts, render_pages

A4_PT = (595.28, 841.89)
DPI = 300
TOKEN = "AEGXG5BNPFWG2ZLNM5YWMYJUBMZDAMRWKE2AEGXG5BNPFWG2ZLNM5YWMYJUBMZDAMRWKE2" * 3
HOLDERS = [
    # name, photo size (distinct, so each page's photo can be told apart) or None
    ("欧阳娜娜", (295, 413)),
    ("张三", None),
    ("李<b>四</b>", (250, 350)),
]


def jpeg(size: tuple[int, int], colour=(40, 90, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=90)
    return out.getvalue()


def make_print(index: int, name: str, photo: tuple[int, int] | None) -> CertificatePrint:
    return CertificatePrint(
        number=f"S1234440100012625{index + 1:05d}",
        holder_name=name,
        gender="女" if index % 2 == 0 else "男",
        id_type="居民身份证",
        id_number=f"11010519900307{index:03d}X",
        occupation="电工",
        occupation_code="6-31-01-03",
        direction="维修电工" if index != 1 else None,
        level="四级/中级工",
        issuing_body="广州市某某职业技能评价中心",
        issue_date=dt.date(2026, 12, 20),
        qr_url=f"HTTPS://VERIFY.HRSS.GD.GOV.CN/V/{TOKEN[index:]}",
        programme="电工职业技能等级认定",
        session_code="S20261205-03",
        station_name="广州市第一职业技能考核站",
        photo=jpeg(photo) if photo else None,
        scores=Scores(theory=86, practical=Decimal("78.50"), review=None if index else 100),
    )


def embedded_images(pdf: bytes) -> list[tuple[int, int]]:
    """(width, height) of every image object in the file, drawn or not."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    sizes = []
    for number in range(1, int(reader.trailer["/Size"])):
        try:
            obj = reader.get_object(number)
        except Exception:  # free or compressed-away object numbers
            continue
        if isinstance(obj, pypdf.generic.StreamObject) and obj.get("/Subtype") == "/Image":
            sizes.append((int(obj["/Width"]), int(obj["/Height"])))
    return sizes


@pytest.fixture(scope="module")
def prints() -> list[CertificatePrint]:
    return [make_print(i, name, photo) for i, (name, photo) in enumerate(HOLDERS)]


@pytest.fixture(scope="module")
def single(prints) -> bytes:
    return render_certificate(prints[0])


@pytest.fixture(scope="module")
def batch(prints) -> certificate_pdf.Batch:
    return render_batch(prints, workers=1)


# --------------------------------------------------------------------------- one certificate


def test_single_is_one_a4_page_with_the_fields_as_text(single, prints):
    reader = pypdf.PdfReader(io.BytesIO(single))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A4_PT, abs=0.5)
    text = reader.pages[0].extract_text()
    p = prints[0]
    for value in (p.holder_name, p.number, p.id_number, p.id_type, p.occupation_code):
        assert value in text
    for value in (p.level, p.issuing_body, p.station_name, p.session_code, "2026年12月20日"):
        assert value in text
    assert "职业技能等级证书" in text.replace(" ", "") and "证件号码" in text  # letter-spaced title
    assert "理论知识" in text and "86" in text and "78.5" in text
    assert "综合评审" in text and "100" in text


def test_qr_decodes_to_the_url_is_at_least_35_mm_and_keeps_its_quiet_zone(single, prints):
    page = render_pages(single, dpi=DPI)[0].convert("L")
    found = zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [code.text for code in found] == [prints[0].qr_url]
    corners = found[0].position
    modules = 17 + 4 * qr_version(prints[0].qr_url, "M")
    side = math.dist(
        (corners.top_left.x, corners.top_left.y), (corners.top_right.x, corners.top_right.y)
    )
    module = side / modules
    # Measure the symbol independently: the dark pixels' bounding box around zxing's position.
    zone = QUIET_ZONE * module
    x0, y0 = corners.top_left.x - zone + 2, corners.top_left.y - zone + 2
    x1, y1 = corners.bottom_right.x + zone - 2, corners.bottom_right.y + zone - 2
    area = page.crop((round(x0), round(y0), round(x1), round(y1)))
    dark = area.point(lambda v: 255 if v < 128 else 0).getbbox()
    assert dark is not None
    width_mm = (dark[2] - dark[0]) / DPI * 25.4
    height_mm = (dark[3] - dark[1]) / DPI * 25.4
    assert width_mm >= 35 and height_mm >= 35
    assert width_mm == pytest.approx(certificate_pdf.QR_SYMBOL_MM, abs=1)
    # Nothing dark in the 4-module band around the symbol (the bbox starts at the symbol).
    assert dark[0] >= zone - 3 and dark[1] >= zone - 3
    assert area.width - dark[2] >= zone - 3 and area.height - dark[3] >= zone - 3


def test_photo_is_embedded_and_a_frame_is_shown_without_one(batch, prints):
    sizes = [sorted(image.size for image in page) for page in pdf_page_images(batch.combined)]
    qr = [(m, m) for m in (17 + 4 * qr_version(p.qr_url, "M") + 8 for p in prints)]
    assert sizes[0] == sorted([(295, 413), qr[0]])
    assert sizes[1] == [qr[1]]  # only the QR: no photo
    assert sizes[2] == sorted([(250, 350), qr[2]])
    texts = pdf_page_texts(batch.combined)
    assert "照片" in texts[1] and "照片" not in texts[0]


def test_markup_in_a_name_is_printed_as_text_and_optional_parts_are_left_out(batch):
    texts = pdf_page_texts(batch.combined)
    assert "李<b>四</b>" in texts[2]
    assert "职业方向 —" in texts[1].replace("\r\n", " ").replace("\n", " ")
    assert "综合评审" not in texts[1]


def test_same_input_gives_the_same_bytes_with_fixed_metadata(single, prints):
    assert render_certificate(prints[0]) == single
    reader = pypdf.PdfReader(io.BytesIO(single))
    info = reader.metadata
    assert info["/CreationDate"].startswith("D:20261220000000+08")
    assert info["/ModDate"] == info["/CreationDate"]
    assert info["/Title"] == f"职业技能等级证书 {prints[0].number}"
    assert reader.trailer["/ID"][0].encode() == prints[0].number.encode()
    assert render_certificate(replace(prints[0], holder_name="欧阳娜")) != single


# --------------------------------------------------------------------------- batches


def test_combined_has_the_pages_in_order_and_the_singles_match(batch, prints, single):
    combined = pdf_page_texts(batch.combined)
    assert len(combined) == len(batch.singles) == len(prints)
    assert decode_pdf(batch.combined) == [[p.qr_url] for p in prints]
    for text, pdf, p in zip(combined, batch.singles, prints, strict=True):
        assert p.number in text and p.holder_name in text
        assert pdf_page_texts(pdf) == [text]
        assert decode_pdf(pdf) == [[p.qr_url]]
    # Own font subsets: a certificate's PDF does not depend on its batch.
    assert batch.singles[0] == single
    assert render_batch(prints[::-1], workers=1).singles[::-1] == batch.singles
    assert render_batch(prints, workers=1).combined == batch.combined


def test_process_pool_gives_the_same_files_and_reports_progress(prints, batch, monkeypatch):
    monkeypatch.setattr(certificate_pdf, "CHUNK_SIZE", 1)  # 3 chunks: the pool is used
    calls = []
    pooled = render_batch(prints, workers=2, progress=lambda d, t: calls.append((d, t)))
    assert pooled.singles == batch.singles
    assert pdf_page_texts(pooled.combined) == pdf_page_texts(batch.combined)
    assert pooled.combined == render_batch(prints, workers=1).combined
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and len(calls) == 4


def test_shared_font_singles_keep_only_their_own_page_and_images(prints, monkeypatch):
    monkeypatch.setattr(certificate_pdf, "CHUNK_SIZE", 2)  # a chunk of 2 and one of 1
    shared = render_batch(prints, workers=1, shared_fonts=True)
    assert render_batch(prints, workers=1, shared_fonts=True) == shared
    for pdf, p, (_, photo) in zip(shared.singles, prints, HOLDERS, strict=True):
        [text] = pdf_page_texts(pdf)
        assert p.holder_name in text and p.number in text
        assert decode_pdf(pdf) == [[p.qr_url]]
        sizes = [image.size for image in pdf_page_images(pdf)[0]]
        assert len(sizes) == (2 if photo else 1) and (photo is None or photo in sizes)
        assert sorted(embedded_images(pdf)) == sorted(sizes)  # no other holder's photo inside
        assert pypdf.PdfReader(io.BytesIO(pdf)).metadata["/Title"].endswith(p.number)
    assert len(pdf_page_texts(shared.combined)) == 3


def test_without_harfbuzz_subsetting_singles_share_fonts_and_stay_reproducible(prints, monkeypatch):
    """WeasyPrint's fontTools fallback stamps fonts with the time unless SOURCE_DATE_EPOCH is set."""
    import weasyprint.pdf.fonts
    import weasyprint.text.ffi

    monkeypatch.setattr(weasyprint.pdf.fonts, "harfbuzz_subset", None)
    monkeypatch.setattr(weasyprint.text.ffi, "harfbuzz_subset", None)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert not certificate_pdf._harfbuzz_subsetting()
    first = render_batch(prints[:2], workers=1)
    assert render_batch(prints[:2], workers=1) == first
    assert "SOURCE_DATE_EPOCH" not in os.environ
    for pdf, p in zip(first.singles, prints[:2], strict=True):
        assert p.holder_name in pdf_page_texts(pdf)[0]


# --------------------------------------------------------------------------- templates


def test_a_template_directory_replaces_html_and_css(prints, tmp_path):
    (tmp_path / "certificate.html").write_text(
        '<div class="own">定制模板 {{ c.holder_name }} {{ c.number }}</div>'
        '<img src="{{ qr_uri }}" style="width: {{ qr_size }}">',
        encoding="utf-8",
    )
    (tmp_path / "certificate.css").write_text(
        "@page { size: A4; margin: 20mm } .own { font-family: 'WenQuanYi Micro Hei' }",
        encoding="utf-8",
    )
    pdf = render_certificate(prints[0], template_dir=tmp_path)
    [text] = pdf_page_texts(pdf)
    assert "定制模板" in text and prints[0].number in text and "证件类型" not in text
    assert decode_pdf(pdf) == [[prints[0].qr_url]]


def test_css_alone_restyles_the_built_in_page_and_may_embed_a_logo(prints, tmp_path):
    logo = io.BytesIO()
    Image.new("RGB", (7, 5), (200, 0, 0)).save(logo, "PNG")
    uri = "data:image/png;base64," + base64.b64encode(logo.getvalue()).decode()
    (tmp_path / "certificate.css").write_text(
        certificate_pdf.load_template(None).css
        + '\nheader::after { content: "某某评价组织" }'
        + f"\n.frame {{ background: url({uri}) no-repeat 5mm 5mm / 14mm 10mm }}",
        encoding="utf-8",
    )
    pdf = render_certificate(prints[1], template_dir=tmp_path)
    [text] = pdf_page_texts(pdf)
    assert "某某评价组织" in text and "证件类型" in text
    assert (7, 5) in embedded_images(pdf)


def test_a_missing_directory_means_the_built_in_template(prints, tmp_path):
    missing = tmp_path / "cert_templates" / "NO-SUCH-PROGRAMME"
    assert render_certificate(prints[1], template_dir=missing) == render_certificate(prints[1])


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"certificate.html": "<p>{% if %}</p>"}, "第 1 行有语法错误"),
        ({"certificate.html": "<p>{{ c.nickname }}</p>"}, "nickname"),
        ({"certificate.css": ".frame { height: 400mm }"}, "恰好占一页"),
        ({"certificate.css": "@page { size: A5 }"}, "应为 A4"),
        (
            {"certificate.css": ".frame { background: url(http://example.invalid/a.png) }"},
            "外部资源",
        ),
        ({"certificate.html": '<img src="file:///etc/passwd">'}, "外部资源"),
    ],
)
def test_bad_templates_are_refused_with_a_clear_error(prints, tmp_path, files, message):
    builtin = certificate_pdf.load_template(None)
    (tmp_path / "certificate.html").write_text(files.get("certificate.html", builtin.html))
    (tmp_path / "certificate.css").write_text(files.get("certificate.css", builtin.css))
    with pytest.raises(TemplateError, match=message) as info:
        render_batch(prints[:2], template_dir=tmp_path, workers=1)
    assert str(tmp_path) in str(info.value)


def test_a_file_is_not_a_template_directory(prints, tmp_path):
    path = tmp_path / "certificate.html"
    path.write_text("<p></p>")
    with pytest.raises(TemplateError, match="不是目录"):
        render_certificate(prints[0], template_dir=path)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"holder_name": ""}, "holder_name"),
        ({"id_number": " 11010519900307123X"}, "id_number"),
        ({"occupation": "电\x07工"}, "occupation"),
        ({"direction": ""}, "direction"),
        ({"issue_date": dt.datetime(2026, 12, 20, 9, 0)}, "issue_date"),
        ({"photo": b"<svg/>"}, "photo"),
        ({"scores": Scores(theory=101)}, r"scores\.theory"),
        ({"scores": Scores(practical=float("nan"))}, r"scores\.practical"),
        ({"scores": Scores(review=True)}, r"scores\.review"),
        ({"qr_url": "HTTPS://X/V/" + "A" * 5000}, "qr_url"),
    ],
)
def test_bad_fields_are_refused_naming_the_certificate_and_field(prints, changes, field):
    bad = replace(prints[1], **changes)
    calls = []
    with pytest.raises(CertificateRenderError, match=field) as info:
        render_batch([prints[0], bad], workers=1, progress=lambda d, t: calls.append(d))
    assert prints[1].number in str(info.value)
    assert calls == []  # refused before anything is rendered


def test_empty_batches_and_bad_worker_counts_are_refused(prints):
    with pytest.raises(CertificateRenderError, match="no certificates"):
        render_batch([])
    with pytest.raises(CertificateRenderError, match="workers"):
        render_batch(prints, workers=0)
