"""Every UI string has a Simplified Chinese translation, and the compiled catalog is current."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import station

STATION = Path(station.__file__).parent
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def _source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(STATION), METHODS, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(kind: str):
    path = STATION / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / f"messages.{kind}"
    with open(path, "rb") as fh:
        return read_po(fh, locale="zh_CN") if kind == "po" else read_mo(fh)


def test_every_ui_string_has_a_chinese_translation():
    po = _catalog("po")
    untranslated = sorted(m for m in _source_messages() if not (po.get(m) and po.get(m).string))
    assert untranslated == [], "add these to station/translations/zh_Hans_CN/.../messages.po"


def test_compiled_catalog_matches_the_po_file():
    po, mo = _catalog("po"), _catalog("mo")
    assert {m.id: m.string for m in po if m.id} == {m.id: m.string for m in mo if m.id}
