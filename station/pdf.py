"""Printing station pages to PDF with WeasyPrint, with nothing fetched from anywhere."""

from __future__ import annotations

from weasyprint import HTML


def _no_fetching(url: str, *args, **kwargs):
    # A station has no internet, and a printed page must not depend on anything outside it.
    raise ValueError(f"refusing to fetch {url[:60]} while printing")


def html_to_pdf(html: str) -> bytes:
    return HTML(string=html, url_fetcher=_no_fetching).write_pdf()
