"""Reading an uploaded candidate roster (考生花名册): XLSX, CSV, or a ZIP of a roster plus photos.

A pure package: no Flask, no database. :func:`parse_roster` turns the uploaded bytes into
:class:`RosterRow` values or raises :class:`RosterError` listing *every* problem found, each
naming the file, the spreadsheet row, the column header and why (in Chinese, with an English
gloss). The station's roster service decides what to do with the rows (duplicates against the
session, seat allocation, saving). :func:`roster_template` builds the downloadable XLSX template.

The parts: ``columns`` (the column schema and header aliases), ``sources`` (telling the upload's
format, reading XLSX / CSV cells, opening a ZIP), ``photos`` (the photos of a ZIP upload),
``rows`` (validating records into rows), ``template`` (the XLSX template) and ``errors``.

The accepted format is documented in ``docs/roster-format.md``; keep the two in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from question_bank.errors import Problem
from station.roster_file.columns import COLUMNS, Column
from station.roster_file.errors import RosterError
from station.roster_file.photos import PhotoBundle
from station.roster_file.rows import RosterParser, RosterRow
from station.roster_file.sources import csv_records, decode_csv, open_bundle, sniff, xlsx_records
from station.roster_file.template import roster_template
from station.services.errors import DomainError as DomainError

__all__ = [
    "COLUMNS",
    "MAX_PHOTO_BYTES",
    "MAX_ROWS",
    "TEMPLATE_FILENAME",
    "Column",
    "RosterError",
    "RosterFile",
    "RosterRow",
    "parse_roster",
    "roster_template",
]

# Read through this package at call time by rows, photos and template: change them here.
MAX_ROWS = 5000  # candidates per file
MAX_PHOTO_BYTES = 2 * 1024 * 1024
TEMPLATE_FILENAME = "考生花名册模板.xlsx"


@dataclass(frozen=True)
class RosterFile:
    filename: str  # as uploaded (without directories)
    source_format: str  # "xlsx", "csv", "zip+xlsx" or "zip+csv"
    rows: list[RosterRow]
    encoding: str | None = None  # CSV only: "utf-8", "utf-8-sig", "gb18030" or "utf-16"
    roster_name: str | None = None  # the roster's path inside a zip


def parse_roster(filename: str, data: bytes) -> RosterFile:
    """Parse an uploaded roster. All-or-nothing: any problem raises :class:`RosterError`."""
    name = _basename(filename) or "花名册"
    kind = sniff(name, data)
    photos: PhotoBundle | None = None
    if kind == "zip":
        roster_name, roster_data, photos = open_bundle(name, data)
        display = f"{name}/{roster_name}"
        inner = sniff(display, roster_data)
        if inner not in ("xlsx", "csv"):  # sniff raised for anything else
            raise RosterError([Problem(display, "压缩包中的花名册不是 .xlsx 或 .csv 文件")])
        source_format = "zip+" + inner
    else:
        roster_name, roster_data, display, inner = None, data, name, kind
        source_format = kind

    if inner == "xlsx":
        records, encoding = xlsx_records(display, roster_data), None
    else:
        text, encoding = decode_csv(display, roster_data)
        records = csv_records(display, text)

    try:
        rows = RosterParser(display, photos).parse(records)
    finally:
        records.close()
        if photos is not None:
            photos.archive.close()
    return RosterFile(name, source_format, rows, encoding, roster_name)


def _basename(filename: str) -> str:
    return re.split(r"[\\/]", str(filename or "").strip())[-1]
