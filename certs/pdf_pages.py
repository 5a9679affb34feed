"""Splitting and joining the certificate PDFs WeasyPrint writes (pypdf), with fixed metadata so
the same certificate gives the same bytes whenever it is printed."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence

import pypdf
from pypdf.generic import DictionaryObject, NameObject

_NAME = re.compile(rb"/([^\s/\[\]<>(){}%]+)")


def split(chunk: bytes, prints: Sequence) -> list[bytes]:
    """One PDF per page of ``chunk``, each keeping only the resources its page names.

    WeasyPrint gives all pages one resource dictionary; without pruning, every single would
    carry every photo of the chunk.
    """
    reader = pypdf.PdfReader(io.BytesIO(chunk))
    singles = []
    for p, page in zip(prints, reader.pages, strict=True):
        used = {b"/" + name for name in _NAME.findall(page.get_contents().get_data())}
        resources = DictionaryObject(page["/Resources"].get_object())
        for category in ("/XObject", "/Font", "/ExtGState", "/Pattern", "/Shading"):
            if category in resources:
                entries = resources[category].get_object()
                resources[NameObject(category)] = DictionaryObject(
                    {k: v for k, v in entries.items() if k.encode() in used}
                )
        page[NameObject("/Resources")] = resources
        writer = pypdf.PdfWriter()
        writer.add_page(page)
        singles.append(write(writer, f"职业技能等级证书 {p.number}", p.issue_date, p.issuing_body))
    return singles


def join(parts: list[bytes], title: str, day: dt.date) -> bytes:
    """The chunks' print files as one, in order (one chunk is used as it is)."""
    if len(parts) == 1:
        return parts[0]
    writer = pypdf.PdfWriter()
    for part in parts:
        writer.append(pypdf.PdfReader(io.BytesIO(part)), import_outline=False)
    return write(writer, title, day, None)


def write(writer: pypdf.PdfWriter, title: str, day: dt.date, author: str | None) -> bytes:
    """The PDF with the same fixed metadata ``certificate_pdf`` gives WeasyPrint's files."""
    stamp = f"D:{day:%Y%m%d}000000+08'00'"
    info = {"/Title": title, "/Creator": "SkillCert", "/CreationDate": stamp, "/ModDate": stamp}
    writer.add_metadata(info | ({"/Author": author} if author else {}))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
