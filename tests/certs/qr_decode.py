"""Test helper: find and decode QR codes in PDFs (pypdfium2) and images (zxing-cpp)."""

from __future__ import annotations

import pypdfium2 as pdfium
import zxingcpp
from PIL import Image

DPI = 200


def decode_image(image: Image.Image) -> list[str]:
    """The text of every QR code zxing-cpp finds in ``image``, top to bottom."""
    found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    found.sort(key=lambda barcode: (barcode.position.top_left.y, barcode.position.top_left.x))
    return [barcode.text for barcode in found if barcode.valid]


def render_pages(pdf: bytes, *, dpi: int = DPI) -> list[Image.Image]:
    document = pdfium.PdfDocument(pdf)
    try:
        return [page.render(scale=dpi / 72).to_pil() for page in document]
    finally:
        document.close()


def decode_pdf(pdf: bytes, *, dpi: int = DPI) -> list[list[str]]:
    """For each page, the texts of the QR codes on it."""
    return [decode_image(image) for image in render_pages(pdf, dpi=dpi)]


def pdf_page_texts(pdf: bytes) -> list[str]:
    """The extracted text of each page."""
    document = pdfium.PdfDocument(pdf)
    try:
        texts = []
        for page in document:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
        return texts
    finally:
        document.close()


def pdf_page_images(pdf: bytes) -> list[list[Image.Image]]:
    """For each page, the raster images placed on it (decoded to PIL)."""
    document = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for page in document:
            objects = page.get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE], max_depth=5)
            pages.append([obj.get_bitmap().to_pil() for obj in objects])
        return pages
    finally:
        document.close()
