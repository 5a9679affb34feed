"""Certificate (职业技能等级证书) PDFs: one A4 portrait page per certificate, rendered by WeasyPrint.

The page carries what 人社鉴发〔2021〕1号 asks of the paper certificate (name, gender, ID type and
full ID number, occupation and code, direction, level, issuing body, date, number), the photo
(25 × 35 mm) and a QR code (36 mm symbol plus its 4-module quiet zone), and also the programme,
session, scores and station. The layout is ``certificate.html`` (Jinja2, ONE certificate) +
``certificate.css``, from ``template_dir`` when it has them, else built in; photo and QR are
``data:`` URIs, any other URL is refused. docs/certificate-templates.md has the details.

Speed: a PDF costs a fixed overhead (document set-up, fonts, subsetting) plus its layout, so
:func:`render_batch` lays out chunks of certificates as ONE document each, with the font
configuration and the parsed stylesheet cached per process, in a process pool, and joins the
chunks' print files with pypdf. Singles are either written page by page with their own font
subset (same bytes in any batch and from :func:`render_certificate`) or split from the chunk's
file sharing its subset (faster; the default only where WeasyPrint must subset with fontTools,
which takes seconds). Output is deterministic: dates come from the issue date, the PDF
identifier is the certificate number, nothing depends on the clock or the process.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import jinja2
import qrcode.exceptions
import weasyprint
from PIL import Image
from weasyprint.pdf.metadata import DocumentMetadata
from weasyprint.text.fonts import FontConfiguration

from certs import pdf_pages
from certs.certificate_print import (
    CertificatePrint,
    CertificateRenderError,
    Scores,
    TemplateError,
    check_print,
    who,
)
from certs.qr import QUIET_ZONE, qr_matrix
from certs.ticket_pdf import _IMAGE_TYPES, _fetcher, _RemoteResourceRefused

__all__ = [
    "CHUNK_SIZE",
    "Batch",
    "CertificatePrint",
    "CertificateRenderError",
    "Scores",
    "TemplateError",
    "load_template",
    "render_batch",
    "render_certificate",
    "template_context",
]

BUILTIN_TEMPLATES = Path(__file__).resolve().parent / "templates"
HTML_NAME, CSS_NAME = "certificate.html", "certificate.css"
CHUNK_SIZE = 16  # certificates per WeasyPrint document (one task of the process pool)
SLOW_SUBSET_CHUNK_SIZE = 64  # ... where every subset takes seconds (fontTools)
QR_ERROR = "M"
QR_SYMBOL_MM = 36.0  # the symbol without its quiet zone; the printed image adds 2 × 4 modules
A4_PX = (210 / 25.4 * 96, 297 / 25.4 * 96)  # WeasyPrint page sizes are CSS px (96 per inch)
OPTIONS = {"hinting": False, "full_fonts": False, "optimize_images": False}

# Not overridable by a template: one certificate per page, in order, each findable by its id.
_BASE_CSS = """
.certificate { break-after: page; }
.certificate:last-child { break-after: auto; }
h1, h2, h3, h4, h5, h6 { bookmark-level: none; }
"""
_WRAPPER = jinja2.Template(
    '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
    "<title>职业技能等级证书</title></head><body>"
    "{% for body in bodies %}"
    '<section class="certificate" id="cert-{{ loop.index0 }}">{{ body | safe }}</section>'
    "{% endfor %}</body></html>",
    autoescape=True,
)


@dataclass(frozen=True, slots=True)
class Batch:
    """``combined``: one print file, all pages in order; ``singles``: one PDF per certificate."""

    combined: bytes
    singles: list[bytes]


@dataclass(frozen=True, slots=True)
class Template:
    """A template's source text (read once, in the calling process) and where it came from."""

    html: str
    css: str
    origin: str


def render_certificate(p: CertificatePrint, *, template_dir: str | Path | None = None) -> bytes:
    """One certificate's PDF: the same bytes as its single in a batch with own font subsets."""
    template = load_template(template_dir)
    check_print(p)
    with _LOCK:
        return _render_chunk(template, [p], False, None)[1][0]


def render_batch(
    prints: Sequence[CertificatePrint],
    *,
    template_dir: str | Path | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    shared_fonts: bool | None = None,
) -> Batch:
    """All certificates as one print file plus one PDF each, in the order given.

    Every certificate is checked before anything is rendered (all or nothing). Up to ``workers``
    processes (default: the usable CPUs; 1 renders in this process) render the chunks;
    ``progress(done, total)`` is called in this process, first with 0, then as chunks finish.
    ``shared_fonts``: singles share their chunk's font subset (True: ~30 % less CPU, but a
    single's bytes then depend on its chunk) or get their own (False); None chooses True only
    where WeasyPrint has no HarfBuzz subsetting.
    """
    prints = list(prints)
    if not prints:
        raise CertificateRenderError("没有要打印的证书 (no certificates)")
    template = load_template(template_dir)
    _compiled(template)  # a syntax error is reported before any process starts
    for p in prints:
        check_print(p)
    workers = _usable_cpus() if workers is None else workers
    if not isinstance(workers, int) or workers < 1:
        raise CertificateRenderError(f"workers 必须是不小于 1 的整数，收到 {workers!r} (workers)")
    fast = _harfbuzz_subsetting()
    shared = not fast if shared_fonts is None else bool(shared_fonts)
    size = CHUNK_SIZE if fast else SLOW_SUBSET_CHUNK_SIZE
    chunks = [prints[i : i + size] for i in range(0, len(prints), size)]
    title = f"职业技能等级证书（{len(prints)} 份）"
    results: list[tuple[bytes, list[bytes]]] = [(b"", [])] * len(chunks)
    done = 0
    if progress:
        progress(0, len(prints))
    for index, result in _run(template, chunks, shared, title, workers):
        results[index] = result
        done += len(chunks[index])
        if progress:
            progress(done, len(prints))
    combined = pdf_pages.join([r[0] for r in results], title, max(p.issue_date for p in prints))
    return Batch(combined, [single for r in results for single in r[1]])


def _run(
    template: Template, chunks: list[list[CertificatePrint]], shared: bool, title: str, workers: int
) -> Iterator[tuple[int, tuple[bytes, list[bytes]]]]:
    """(chunk index, result) as chunks finish, here or in a pool of spawned processes."""
    if workers == 1 or len(chunks) <= 2:  # starting processes costs about one chunk's time
        for index, chunk in enumerate(chunks):
            with _LOCK:
                yield index, _render_chunk(template, chunk, shared, title)
        return
    # spawn, not fork: the station process runs scheduler and server threads.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(min(workers, len(chunks)), mp_context=context)
    try:
        futures = {
            pool.submit(_render_chunk, template, chunk, shared, title): index
            for index, chunk in enumerate(chunks)
        }
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def load_template(template_dir: str | Path | None) -> Template:
    """The HTML and CSS to use: each from ``template_dir`` if it has that file, else built in.

    A directory that does not exist means "no custom template" (programmes without one); a path
    that exists but is not a directory is an error.
    """
    html_path, css_path = BUILTIN_TEMPLATES / HTML_NAME, BUILTIN_TEMPLATES / CSS_NAME
    origin = "内置证书模板"
    if template_dir is not None:
        folder = Path(template_dir)
        if folder.exists() and not folder.is_dir():
            raise TemplateError(f"证书模板目录 {folder} 不是目录 (template_dir is not a directory)")
        if (folder / HTML_NAME).is_file():
            html_path, origin = folder / HTML_NAME, f"证书模板 {folder}"
        if (folder / CSS_NAME).is_file():
            css_path, origin = folder / CSS_NAME, f"证书模板 {folder}"
    try:
        html, css = html_path.read_text(encoding="utf-8"), css_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"无法读取证书模板：{exc} (template file unreadable)") from None
    return Template(html, css, origin)


# --------------------------------------------------------------------------- rendering

_LOCK = threading.Lock()  # one in-process rendering at a time: the caches are shared
_FONTS: FontConfiguration | None = None
_CSS: dict[str, weasyprint.CSS] = {}
_JINJA: dict[str, jinja2.Template] = {}
_JINJA_ENV = jinja2.Environment(
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
)


def _font_config() -> FontConfiguration:
    global _FONTS
    if _FONTS is None:
        _FONTS = FontConfiguration()
    return _FONTS


def _stylesheet(template: Template) -> weasyprint.CSS:
    """The parsed CSS, once per process and text (parsing it also loads the fonts it names)."""
    css = _CSS.get(template.css)
    if css is None:
        try:
            css = weasyprint.CSS(
                string=_BASE_CSS + "\n" + template.css,
                font_config=_font_config(),
                url_fetcher=_fetcher(),
            )
        except _RemoteResourceRefused as exc:
            raise TemplateError(
                f"{template.origin} 的 {CSS_NAME} 引用了外部资源，已拒绝：{exc} (remote resource)"
            ) from None
        if len(_CSS) >= 32:
            _CSS.clear()
        _CSS[template.css] = css
    return css


def _compiled(template: Template) -> jinja2.Template:
    compiled = _JINJA.get(template.html)
    if compiled is None:
        try:
            compiled = _JINJA_ENV.from_string(template.html)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"{template.origin} 的 {HTML_NAME} 第 {exc.lineno} 行有语法错误：{exc.message} "
                "(template syntax)"
            ) from None
        if len(_JINJA) >= 32:
            _JINJA.clear()
        _JINJA[template.html] = compiled
    return compiled


def template_context(p: CertificatePrint) -> dict[str, object]:
    """The template's variables for ``p``: ``c`` itself plus display strings and data URIs."""
    try:
        matrix = qr_matrix(p.qr_url, error=QR_ERROR)  # quiet zone included
    except (qrcode.exceptions.DataOverflowError, ValueError):  # qrcode raises either
        raise CertificateRenderError(
            f"{who(p)}：二维码内容过长，无法编码 (qr_url, {len(p.qr_url)} characters)"
        ) from None
    modules = len(matrix)
    scores = []
    if p.scores is not None:
        labels = ("理论知识", "操作技能", "综合评审")
        values = (p.scores.theory, p.scores.practical, p.scores.review)
        for label, value in zip(labels, values, strict=True):
            if value is not None:
                scores.append((label, f"{Decimal(str(value)).normalize():f}"))
    photo_uri = None
    if p.photo:
        mime = next(m for magic, m in _IMAGE_TYPES if p.photo.startswith(magic))
        photo_uri = f"data:{mime};base64," + base64.b64encode(p.photo).decode("ascii")
    return {
        "c": p,
        "direction": p.direction or "—",
        "issue_date": f"{p.issue_date.year}年{p.issue_date.month}月{p.issue_date.day}日",
        "scores": scores,
        "photo_uri": photo_uri,
        "qr_uri": "data:image/png;base64," + base64.b64encode(_png(matrix)).decode("ascii"),
        "qr_size": f"{QR_SYMBOL_MM * modules / (modules - 2 * QUIET_ZONE):.2f}mm",
    }


def _png(matrix: list[list[bool]]) -> bytes:
    """A 1-bit PNG, one pixel per module; the CSS scales it up without smoothing (pixelated)."""
    image = Image.new("1", (len(matrix), len(matrix)))
    image.putdata([0 if dark else 1 for row in matrix for dark in row])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _metadata(title: str, day: dt.date, author: str | None) -> DocumentMetadata:
    stamp = f"{day.isoformat()}T00:00:00+08:00"
    return DocumentMetadata(
        title=title,
        authors=[author] if author else [],
        generator="SkillCert",
        created=stamp,
        modified=stamp,
        lang="zh-CN",
    )


def _render_chunk(
    template: Template, prints: list[CertificatePrint], shared: bool, combined_title: str | None
) -> tuple[bytes, list[bytes]]:
    """Lay out ``prints`` as one document; return (the chunk's print file, one PDF each).

    Runs in a pool process or, under ``_LOCK``, in the caller's. No print file when
    ``combined_title`` is None.
    """
    # fontTools (the fallback subsetter) stamps fonts with the time unless this is set.
    day = max(p.issue_date for p in prints)
    epoch = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(int(epoch.timestamp()))
    try:
        return _render_pages(template, prints, shared, combined_title)
    finally:
        if saved is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved


def _render_pages(
    template: Template, prints: list[CertificatePrint], shared: bool, combined_title: str | None
) -> tuple[bytes, list[bytes]]:
    compiled = _compiled(template)
    bodies = []
    for p in prints:
        try:
            bodies.append(compiled.render(template_context(p)))
        except jinja2.TemplateError as exc:
            raise TemplateError(
                f"{template.origin} 的 {HTML_NAME} 无法渲染 {who(p)}：{exc.message} "
                "(template variable)"
            ) from None
    html = weasyprint.HTML(
        string=_WRAPPER.render(bodies=bodies), base_url=None, url_fetcher=_fetcher()
    )
    try:
        document = html.render(
            font_config=_font_config(), stylesheets=[_stylesheet(template)], **OPTIONS
        )
    except _RemoteResourceRefused as exc:
        raise TemplateError(
            f"{template.origin} 引用了外部资源，已拒绝：{exc} (remote resource)"
        ) from None
    _check_pages(template, document, len(prints))
    for page in document.pages:  # the ids name chunk positions: keep them out of the PDFs
        page.anchors.clear()
    chunk = b""
    if combined_title is not None:
        document.metadata = _metadata(combined_title, max(p.issue_date for p in prints), None)
        chunk = document.write_pdf(**OPTIONS)
    if shared and chunk:
        return chunk, pdf_pages.split(chunk, prints)
    singles = []
    for p, page in zip(prints, document.pages, strict=True):
        single = document.copy([page])
        single.metadata = _metadata(f"职业技能等级证书 {p.number}", p.issue_date, p.issuing_body)
        singles.append(single.write_pdf(pdf_identifier=p.number.encode(), **OPTIONS))
    return chunk, singles


def _check_pages(template: Template, document: weasyprint.Document, count: int) -> None:
    """A4 portrait pages, exactly one per certificate, each certificate starting its own."""
    pages = document.pages
    for page in pages:
        if abs(page.width - A4_PX[0]) > 1 or abs(page.height - A4_PX[1]) > 1:
            raise TemplateError(
                f"{template.origin} 的页面为 {page.width * 25.4 / 96:.0f} × "
                f"{page.height * 25.4 / 96:.0f} mm，应为 A4 纵向 210 × 297 mm (page size)"
            )
    if len(pages) != count or any(f"cert-{i}" not in pages[i].anchors for i in range(count)):
        raise TemplateError(
            f"{template.origin} 把 {count} 份证书排成了 {len(pages)} 页；"
            "每份证书必须恰好占一页 A4，内容过多时请缩小字号或间距 (one page per certificate)"
        )


def _harfbuzz_subsetting() -> bool:
    """Whether WeasyPrint subsets fonts with HarfBuzz (fast enough for one subset per page)."""
    try:
        from weasyprint.text.ffi import harfbuzz, harfbuzz_subset

        return bool(harfbuzz_subset) and bool(harfbuzz.hb_version_atleast(4, 1, 0))
    except (ImportError, AttributeError):  # an older or newer WeasyPrint: assume the slow path
        return False


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # Windows, macOS
        return os.cpu_count() or 1
