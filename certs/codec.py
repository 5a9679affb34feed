"""Small binary helpers shared by the compact signed tokens (admission tickets, certificates).

- :func:`b32encode` / :func:`b32decode`: RFC 4648 base32, upper case, **no padding**. The
  alphabet (``A–Z 2–7``) is a subset of the QR code's alphanumeric mode, which carries
  5.5 bits per character instead of byte mode's 8, so a base32 token costs 8.8 bits per
  byte of payload in the symbol. Decoding is strict: exactly one spelling decodes to a
  given byte string (canonical length, unused trailing bits zero).
- :class:`Writer` / :class:`Reader`: big-endian ``u8``/``u16`` and ``u8``-length-prefixed
  UTF-8 strings, with a reader that raises :class:`CodecError` instead of running off the end.
"""

from __future__ import annotations

import base64
import re

__all__ = ["CodecError", "Reader", "Writer", "b32decode", "b32encode"]

_B32_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_B32_TEXT = re.compile("[A-Z2-7]*")


class CodecError(ValueError):
    """Bytes or text that do not follow the expected encoding."""


def b32encode(data: bytes) -> str:
    """Upper-case base32 without ``=`` padding."""
    return base64.b32encode(data).decode("ascii").rstrip("=")


# Base32 digits mapped to the characters int(…, 32) reads, so decoding is one C call.
_B32_DIGITS = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv")
_B32_PAD_BITS = {0: 0, 2: 2, 4: 4, 5: 1, 7: 3}  # characters mod 8 -> unused trailing bits


def b32decode(text: str) -> bytes:
    """Decode :func:`b32encode` output; refuses anything that is not its exact spelling.

    Verification speed matters (a registry checks every scan) and the standard library's base32
    decoder is pure Python, so this converts with one ``int(…, 32)`` call. The alphabet is
    checked first: ``int()`` would also take digits, signs, ``_`` and spaces.
    """
    if not text:
        return b""
    if not _B32_TEXT.fullmatch(text):  # the same test as set(text) <= _B32_ALPHABET, in C
        bad = sorted(set(text) - _B32_ALPHABET)
        raise CodecError(f"invalid base32 character(s): {''.join(bad)!r}")
    pad = _B32_PAD_BITS.get(len(text) % 8)
    if pad is None:
        raise CodecError(f"invalid base32 length {len(text)}")
    value = int(text.translate(_B32_DIGITS), 32)
    if value & ((1 << pad) - 1):
        # Non-zero unused bits in the last character: a second spelling of the same bytes.
        raise CodecError("non-canonical base32 (unused trailing bits set)")
    return (value >> pad).to_bytes(len(text) * 5 // 8, "big")


class Writer:
    """Appends big-endian integers and length-prefixed UTF-8 strings."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def u8(self, value: int) -> Writer:
        if not 0 <= value <= 0xFF:
            raise CodecError(f"{value} does not fit in one byte")
        self._buf.append(value)
        return self

    def u16(self, value: int) -> Writer:
        if not 0 <= value <= 0xFFFF:
            raise CodecError(f"{value} does not fit in two bytes")
        self._buf += value.to_bytes(2, "big")
        return self

    def raw(self, data: bytes) -> Writer:
        self._buf += data
        return self

    def text(self, value: str) -> Writer:
        """A ``u8`` byte length, then the UTF-8 bytes (at most 255)."""
        data = value.encode("utf-8")
        if len(data) > 0xFF:
            raise CodecError(f"string of {len(data)} UTF-8 bytes is longer than 255")
        return self.u8(len(data)).raw(data)

    def getvalue(self) -> bytes:
        return bytes(self._buf)


class Reader:
    """Reads what :class:`Writer` wrote; every short read raises :class:`CodecError`."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self.pos

    def raw(self, n: int) -> bytes:
        if n > self.remaining:
            raise CodecError(
                f"truncated: needed {n} byte(s) at offset {self.pos}, {self.remaining} left"
            )
        out = bytes(self._data[self.pos : self.pos + n])
        self.pos += n
        return out

    def u8(self) -> int:
        return self.raw(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.raw(2), "big")

    def text(self) -> str:
        start = self.pos
        data = self.raw(self.u8())
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CodecError(f"invalid UTF-8 in the string at offset {start}") from exc
