"""The registry's own catalog: every UI string has a Simplified Chinese translation (the
default language), and the compiled catalog is the .po file's."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import sync.registry

REGISTRY = Path(sync.registry.__file__).parent
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
CATALOG = REGISTRY / "translations" / "zh_Hans_CN" / "LC_MESSAGES"


def _source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(REGISTRY), METHODS, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(kind: str):
    with open(CATALOG / f"messages.{kind}", "rb") as fh:
        return read_po(fh, locale="zh_CN") if kind == "po" else read_mo(fh)


def test_every_ui_string_has_a_chinese_translation():
    po = _catalog("po")
    messages = _source_messages()
    assert len(messages) > 100  # the extraction really found the registry's strings
    untranslated = sorted(m for m in messages if not (po.get(m) and po.get(m).string))
    assert untranslated == [], f"add these to {CATALOG}/messages.po"


def test_placeholders_survive_translation():
    for message in _catalog("po"):
        if message.id and "%(" in message.id:
            names = sorted(part.split(")")[0] for part in message.id.split("%(")[1:])
            translated = sorted(part.split(")")[0] for part in message.string.split("%(")[1:])
            assert names == translated, message.id


def test_compiled_catalog_matches_the_po_file():
    po, mo = _catalog("po"), _catalog("mo")
    assert {m.id: m.string for m in po if m.id} == {m.id: m.string for m in mo if m.id}
