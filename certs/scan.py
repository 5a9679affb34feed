"""Find certificate tokens in what a verifier is given: a PDF, a photo or scan, a URL or a token.

:func:`find_tokens` renders each PDF page with pypdfium2, reads every QR code with zxing-cpp,
and returns the certificate tokens found, from ``…/V/<TOKEN>`` URLs and bare tokens alike, in
page order without duplicates. QR codes that hold anything else (a ticket, a web link) are
skipped. It does not verify anything: pass each token to :func:`certs.cert_token.decode_token`.

A PDF page is rendered at 200 dpi first (a 25 mm QR code of version 10 then has about 3.5
pixels a module, plenty for zxing-cpp); a page where that finds no QR code is tried again at
300 and then 600 dpi, for small symbols (measured: a 6 mm version 9 symbol, which neither 200
nor 300 dpi reads, is read at 600). Only pages without a readable code pay for the retries.

Images are read with Pillow, every frame of a multi-frame file (TIFF, GIF). Note that
importing WeasyPrint makes Pillow accept truncated files process-wide; a truncated image is
then scanned as far as it goes rather than refused.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium
import zxingcpp
from PIL import Image, ImageSequence, UnidentifiedImageError

from certs.cert_token import extract_token

__all__ = ["FIRST_DPI", "MAX_PAGES", "RETRY_DPIS", "ScanError", "find_tokens", "qr_texts"]

FIRST_DPI = 200
RETRY_DPIS = (300, 600)
MAX_PAGES = 200  # a certificate PDF has a page or a few; a batch has one page a certificate
MAX_PIXELS = 80_000_000  # refuse absurd images before decoding them (decompression bombs)


class ScanError(ValueError):
    """The source could not be read: not a file we can open, not a PDF or image, damaged."""


def find_tokens(source: str | os.PathLike[str] | bytes) -> list[str]:
    """The certificate tokens in ``source``.

    ``source`` is a path to a PDF or an image file (a ``str`` or ``Path``), the bytes of one,
    or a scanned text: a ``…/V/<TOKEN>`` URL or a bare token. Raises :class:`ScanError` when
    a file is missing or unreadable, or a text is neither a path, a URL nor a token.
    """
    if isinstance(source, bytes | bytearray):
        texts = qr_texts(bytes(source), name="上传的文件")
    elif isinstance(source, os.PathLike):
        texts = qr_texts(_read(Path(source)), name=str(source))
    elif isinstance(source, str):
        token = extract_token(source)
        if token is not None:
            return [token]
        path = Path(source.strip())
        if not source.strip() or "\n" in source:
            raise ScanError("既不是文件路径，也不是证书核验网址或证书码 (not a file, URL or token)")
        if not path.exists():
            raise ScanError(
                f"“{source.strip()[:100]}”既不是存在的文件，也不是证书核验网址或证书码 "
                "(no such file, and not a certificate URL or token)"
            )
        texts = qr_texts(_read(path), name=str(path))
    else:
        raise ScanError(f"无法识别的输入类型 {type(source).__name__} (unsupported source)")
    found: list[str] = []
    for text in texts:
        token = extract_token(text)
        if token is not None and token not in found:
            found.append(token)
    return found


def qr_texts(data: bytes, *, name: str = "文件") -> list[str]:
    """The text of every QR code in a PDF or image file's bytes, page by page, top to bottom."""
    if data[:5] == b"%PDF-" or data.lstrip()[:5] == b"%PDF-":
        return [text for page in _pdf_pages(data, name) for text in page]
    return [text for frame in _image_frames(data, name) for text in _decode(frame)]


def _read(path: Path) -> bytes:
    if path.is_dir():
        raise ScanError(f"“{path}”是文件夹，不是 PDF 或图片文件 (is a directory)")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ScanError(f"文件“{path}”不存在 (no such file)") from None
    except OSError as exc:
        raise ScanError(f"无法读取文件“{path}”：{exc.strerror or exc} (unreadable file)") from exc


def _decode(image: Image.Image) -> list[str]:
    found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    found.sort(key=lambda code: (code.position.top_left.y, code.position.top_left.x))
    return [code.text for code in found if code.valid]


def _pdf_pages(data: bytes, name: str) -> Iterator[list[str]]:
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ScanError(
            f"“{name}”不是可读取的 PDF（已损坏或加密）：{exc} (unreadable or encrypted PDF)"
        ) from exc
    try:
        if len(document) > MAX_PAGES:
            raise ScanError(
                f"“{name}”有 {len(document)} 页，超过上限 {MAX_PAGES} 页 (too many pages)"
            )
        for index in range(len(document)):
            page = document[index]
            try:
                texts = _decode(_render(page, FIRST_DPI))
                for dpi in RETRY_DPIS:
                    if texts:
                        break
                    texts = _decode(_render(page, dpi))
            finally:
                page.close()
            yield texts
    finally:
        document.close()


def _render(page: pdfium.PdfPage, dpi: int) -> Image.Image:
    return page.render(scale=dpi / 72, grayscale=True).to_pil()


def _image_frames(data: bytes, name: str) -> Iterator[Image.Image]:
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise ScanError(
                f"“{name}”的图片过大（{image.width}×{image.height} 像素）(image too large)"
            )
        for frame in ImageSequence.Iterator(image):
            frame.load()
            yield frame.copy()
    except ScanError:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise ScanError(
            f"“{name}”不是可读取的 PDF 或图片文件（已损坏或格式不支持）：{exc} "
            "(not a readable PDF or image)"
        ) from exc
