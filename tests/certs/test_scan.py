"""Finding certificate tokens in PDFs, images, URLs and typed tokens."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
import weasyprint
from PIL import Image

from certs import keys, scan
from certs.cert_token import TokenClaims, decode_token, sign_token, token_url
from certs.qr import qr_png, qr_svg
from certs.scan import ScanError, find_tokens, qr_texts
from certs.trust import StationKey, TrustList

REGISTRY = "https://zscx.hrss.guangdong.gov.cn"


@pytest.fixture(scope="module")
def station_key():
    return keys.generate()


@pytest.fixture(scope="module")
def trust(station_key):
    kid = keys.key_id(station_key.public_key(), "st-")
    return TrustList([StationKey(kid, "ST440301", station_key.public_key(), dt.date(2026, 1, 1))])


def make_token(private, serial: int = 123, name: str = "欧阳娜") -> str:
    claims = TokenClaims(
        number=f"S00014403000126400{serial:04d}",
        occupation_code="6-31-01-10",
        issue_date=dt.date(2026, 12, 5),
        holder_name=name,
        masked_id="110***********101X",
    )
    return sign_token(claims, private_key=private, kid=keys.key_id(private.public_key(), "st-"))


def qr_image(text: str, box: int = 4) -> Image.Image:
    return Image.open(io.BytesIO(qr_png(text, box_size=box))).convert("RGB")


def certificate_pdf(url: str, *, qr_mm: float = 30) -> bytes:
    """An A4 page laid out like a certificate: text, a photo box and the QR code as SVG."""
    svg = base64.b64encode(qr_svg(url).encode()).decode("ascii")
    html = f"""<html><head><style>
      @page {{ size: A4; margin: 20mm; }}
      body {{ font-family: sans-serif; }}
      .photo {{ width: 25mm; height: 35mm; border: 1px solid #888; }}
      .qr {{ position: absolute; right: 0; bottom: 0; width: {qr_mm}mm; }}
    </style></head><body>
      <h1>Vocational Skill Level Certificate</h1>
      <div class="photo"></div>
      <p>Name: Ouyang Na &nbsp; Level: 4 &nbsp; No. S000144030001264000123</p>
      <img class="qr" src="data:image/svg+xml;base64,{svg}">
    </body></html>"""
    return weasyprint.HTML(string=html).write_pdf()


# --------------------------------------------------------------------------- PDFs


def test_pdf_made_with_weasyprint(tmp_path, station_key, trust):
    token = make_token(station_key)
    path = tmp_path / "certificate.pdf"
    path.write_bytes(certificate_pdf(token_url(REGISTRY, token)))
    found = find_tokens(path)
    assert found == [token]
    assert find_tokens(str(path)) == [token]
    assert decode_token(found[0], trust).claims.holder_name == "欧阳娜"


def test_small_qr_is_found_by_a_retry(station_key, monkeypatch):
    """A 6 mm symbol has too few pixels a module at 200 and 300 dpi; the 600 dpi retry reads it."""
    token = make_token(station_key)
    pdf = certificate_pdf(token_url(REGISTRY, token), qr_mm=6)
    assert find_tokens(pdf) == [token]
    monkeypatch.setattr(scan, "RETRY_DPIS", (300,))
    assert find_tokens(pdf) == []


def test_multi_page_pdf_made_with_pillow(tmp_path, station_key):
    first, second = make_token(station_key, 1, "张三"), make_token(station_key, 2, "李四")
    pages = []
    for content in (token_url(REGISTRY, first), "SKT1:AEBAGBAF", None, first.lower(), second):
        page = Image.new("RGB", (1240, 1754), "white")  # A4 at 150 dpi
        if content is not None:
            page.paste(qr_image(content), (700, 1200))
        pages.append(page)
    path = tmp_path / "batch.pdf"
    pages[0].save(path, "PDF", resolution=150, save_all=True, append_images=pages[1:])
    # page 2 holds an admission ticket (not a certificate), page 3 nothing, page 4 a duplicate
    assert find_tokens(path) == [first, second]
    assert len(qr_texts(path.read_bytes())) == 4


def test_pdf_without_qr_codes(tmp_path):
    pdf = weasyprint.HTML(string="<p>no code here</p>").write_pdf()
    assert find_tokens(pdf) == []


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_image_files(fmt, tmp_path, station_key):
    token = make_token(station_key)
    photo = Image.new("RGB", (1200, 900), (235, 230, 220))
    photo.paste(qr_image(token_url(REGISTRY, token), box=5).rotate(90), (300, 200))
    path = tmp_path / f"photo.{fmt.lower()}"
    photo.save(path, fmt, quality=90) if fmt != "PNG" else photo.save(path, fmt)
    assert find_tokens(path) == [token]


def test_image_bytes(station_key):
    token = make_token(station_key)
    out = io.BytesIO()
    qr_image(token).save(out, "PNG")
    assert find_tokens(out.getvalue()) == [token]


# --------------------------------------------------------------------------- texts


def test_url_and_token_strings(station_key):
    token = make_token(station_key)
    assert find_tokens(token) == [token]
    assert find_tokens("  " + token.lower() + "\n") == [token]
    assert find_tokens(token_url(REGISTRY, token)) == [token]
    assert find_tokens(token_url(REGISTRY, token).lower()) == [token]


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    with pytest.raises(ScanError, match="不存在"):
        find_tokens(tmp_path / "nope.pdf")
    with pytest.raises(ScanError, match="既不是存在的文件"):
        find_tokens(str(tmp_path / "nope.pdf"))


def test_directory(tmp_path):
    with pytest.raises(ScanError, match="是文件夹"):
        find_tokens(tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.pdf", b"this is not a pdf", "不是可读取的 PDF 或图片"),
        ("empty.png", b"", "不是可读取的 PDF 或图片"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj <<", "不是可读取的 PDF"),
        ("cut.png", None, "不是可读取的 PDF 或图片"),  # cut inside the header
    ],
)
def test_unreadable_files(name, content, message, tmp_path):
    if content is None:
        out = io.BytesIO()
        qr_image("HELLO", box=8).save(out, "PNG")
        content = out.getvalue()[:20]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ScanError, match=message) as info:
        find_tokens(path)
    assert name in str(info.value)


@pytest.mark.parametrize(
    "text", ["", "   ", "hello world", "https://www.example.cn/about", "AEBAGBAF"]
)
def test_text_that_is_nothing(text):
    with pytest.raises(ScanError):
        find_tokens(text)


def test_unsupported_type():
    with pytest.raises(ScanError, match="无法识别的输入类型"):
        find_tokens(42)  # type: ignore[arg-type]
