"""QR codes for tickets and certificates, as SVG (for PDFs: crisp at any size) or PNG.

Every symbol keeps the 4-module quiet zone the QR standard asks for; scanners need it.
Text made only of ``0-9 A-Z $%*+-./:`` and space is encoded in alphanumeric mode, which is
why the signed tokens are upper-case base32.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.constants

__all__ = ["ERROR_LEVELS", "QUIET_ZONE", "qr_matrix", "qr_png", "qr_svg", "qr_version"]

QUIET_ZONE = 4
ERROR_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


def _make(text: str, error: str, border: int) -> qrcode.QRCode:
    try:
        level = ERROR_LEVELS[error.upper()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown QR error correction level {error!r} (use L, M, Q or H)"
        ) from None
    if border < 0:
        raise ValueError("the QR border cannot be negative")
    qr = qrcode.QRCode(version=None, error_correction=level, border=border)
    qr.add_data(text)
    qr.make(fit=True)  # raises qrcode.exceptions.DataOverflowError beyond version 40
    return qr


def qr_version(text: str, error: str = "M") -> int:
    """The smallest QR version (1–40) that holds ``text`` at error correction ``error``."""
    return _make(text, error, QUIET_ZONE).version


def qr_matrix(text: str, *, error: str = "M", border: int = QUIET_ZONE) -> list[list[bool]]:
    """Rows of modules (True = dark), quiet zone included."""
    return _make(text, error, border).get_matrix()


def qr_svg(text: str, *, error: str = "M") -> str:
    """A standalone SVG of the symbol with its quiet zone; one user unit per module.

    It has a ``viewBox`` and no fixed size, so CSS sizes it (``width: 36mm``).
    """
    matrix = qr_matrix(text, error=error)
    size = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path d="{"".join(runs)}" fill="#000"/></svg>'
    )


def qr_png(text: str, *, box_size: int, border: int = QUIET_ZONE, error: str = "M") -> bytes:
    """A black-on-white PNG, ``box_size`` pixels per module, ``border`` modules of quiet zone."""
    if box_size < 1:
        raise ValueError("box_size must be at least 1 pixel")
    qr = _make(text, error, border)
    qr.box_size = box_size
    image = qr.make_image(fill_color="black", back_color="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
