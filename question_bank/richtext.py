"""Rich text in items: sanitised HTML, converted from Markdown or plain text where needed.

Item texts end up in candidates' browsers, so everything is sanitised with an allow-list on
the way in. Images may only point into the bank's own media (``media/...``) or be inline
``data:`` images; a station has no internet to fetch anything else from.
"""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt

_TAGS = {
    "p", "br", "b", "strong", "i", "em", "u", "sub", "sup", "span", "div", "ul", "ol", "li",
    "table", "thead", "tbody", "tr", "th", "td", "img", "pre", "code", "blockquote", "hr",
}  # fmt: skip
_ATTRIBUTES = {
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "span": {"class"},
    "code": {"class"},
}
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def _allowed_src(tag: str, attr: str, value: str) -> str | None:
    if tag == "img" and attr == "src":
        if value.startswith("media/") and ".." not in value:
            return value
        if value.startswith("data:image/"):
            return value
        return None
    return value


def sanitize_html(text: str) -> str:
    """Return ``text`` with every tag, attribute and URL outside the allow-list removed."""
    return nh3.clean(
        text,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_allowed_src,
        url_schemes={"data"},
        link_rel=None,
    ).strip()


def markdown_to_html(text: str) -> str:
    return sanitize_html(_markdown.render(text))


def plain_to_html(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.strip().split("\n"))


def to_html(text: str, fmt: str = "html") -> str:
    """Convert ``text`` given in ``fmt`` (html, markdown, plain, moodle) to sanitised HTML."""
    if fmt == "markdown":
        return markdown_to_html(text)
    if fmt == "plain":
        return plain_to_html(text)
    return sanitize_html(text)  # html and moodle's own format are both HTML


def html_to_text(text: str) -> str:
    """A plain-text rendering of sanitised HTML, for search and for XLSX export."""
    cleaned = nh3.clean(text.replace("<br>", "\n").replace("</p>", "</p>\n"), tags=set())
    return html.unescape(cleaned).strip()
