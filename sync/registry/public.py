"""The registry's public pages: what a phone camera opens, and what employers and candidates use.

- ``GET /v/<token>`` (and ``/V/<token>``, any case, an optional trailing ``/``): the verify
  page a certificate's QR code opens — valid, revoked (when and why), genuine signature not yet
  recorded, or invalid (which check failed, in plain words) — with the certificate's fields
  (ID number masked). ``POST`` to the same URL: "confirm the holder", the visitor types the
  full ID number and learns only whether it matches (keyed hash, compared in constant time).
- ``GET /check?q=…``: a pasted token, link or number (links go to their verify page).
- ``/lookup``: a candidate finds their own certificates by name and full ID number.
- ``/bulk``: CSV upload (or pasted lines) of tokens, links or numbers → a result table and a
  CSV download.

:func:`setup` is the web plumbing the registry's pages share (languages, rate limits, security
headers, error pages, template helpers). It runs once per app, when the first of this module's,
:mod:`.public_api`'s or :mod:`.console`'s blueprints is registered.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import HTTPException

from certs import cert_token
from sync.registry import db, i18n, limits
from sync.registry.i18n import local_time
from sync.registry.public_api import (
    Verdict,
    check_id_number,
    check_text,
    id_hash_secret,
    trust_cache,
    verify_inputs,
    verify_one,
)
from sync.registry.services.errors import InvalidInput, RegistryError
from sync.registry.services.records import confirm_holder, find_by_holder

bp = Blueprint("registry_public", __name__)

MAX_BULK_ROWS = 500  # config REGISTRY_BULK_MAX_ROWS
MAX_UPLOAD = 1024 * 1024
HEADER_NAMES = {"token", "url", "link", "number", "certificate", "certificate number",
                "qr", "二维码", "链接", "核验链接", "证书编号", "编号"}  # fmt: skip
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")  # fmt: skip


# --------------------------------------------------------------------------- plumbing


def setup(app: Flask) -> None:
    """Languages, limits, headers, error pages, template helpers: once per app."""
    if app.extensions.get("registry_public_setup"):
        return
    app.extensions["registry_public_setup"] = True
    i18n.init_app(app)
    limits.limiter_for(app)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.jinja_env.filters.setdefault("localtime", lambda v: local_time(v) if v else "")
    app.jinja_env.globals.setdefault("csrf_token", generate_csrf)
    app.after_request(_headers)
    for code in (400, 404, 405, 413, 429):
        app.register_error_handler(code, _http_error)


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # A verify URL carries the holder's name: never send it on as a referrer.
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path[:3] in ("/v/", "/V/") or request.path.startswith("/console"):
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Robots-Tag", "noindex")
    return response


def _http_error(exc: HTTPException):
    """JSON under ``/api/`` (like every API answer), a page elsewhere; 429 says when to retry."""
    message = {
        429: str(i18n.TOO_MANY_REQUESTS),
        404: _("There is no such page."),
        413: _("The upload is too large."),
    }.get(exc.code or 400, exc.description or "")
    if request.path.startswith("/api/"):
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        code = {429: "rate_limited", 404: "not_found", 405: "method_not_allowed",
                413: "too_large"}.get(exc.code or 400, "bad_request")  # fmt: skip
        response = current_app.json.response(
            {"error": code, "message": message, "server_time": now}
        )
    else:
        response = Response(render_template("registry/error.html", code=exc.code,
                                            message=message))  # fmt: skip
    response.status_code = exc.code or 400
    return response


@bp.errorhandler(RegistryError)
def _registry_error(exc: RegistryError):
    return render_template("registry/error.html", code=exc.status, message=exc.message), exc.status


# --------------------------------------------------------------------------- verify page


def _verdict_page(verdict: Verdict, *, holder: bool | None = None,
                  holder_error: str | None = None) -> str:  # fmt: skip
    return render_template("registry/verify.html", v=verdict, holder=holder,
                           holder_error=holder_error,
                           certificate=verdict.certificate_dict())  # fmt: skip


@bp.get("/v/<token>", strict_slashes=False)
@bp.get("/V/<token>", strict_slashes=False)
def verify_page(token: str):
    return _verdict_page(verify_one(token, cache=trust_cache()))


@bp.post("/v/<token>", strict_slashes=False)
@bp.post("/V/<token>", strict_slashes=False)
def confirm_holder_page(token: str):
    """Confirm the holder: match or no match, nothing else (the page never echoes the number)."""
    holder, error = None, None
    verdict = verify_one(token, cache=trust_cache())
    try:
        id_number = check_id_number(request.form.get("id_number"), _("ID number"))
        if verdict.recorded is None:
            raise InvalidInput(_("Only a certificate recorded by the registry can be "
                                 "checked against an ID number."))  # fmt: skip
        holder = confirm_holder(verdict.recorded.certificate, id_number=id_number,
                                secret=id_hash_secret())  # fmt: skip
    except InvalidInput as exc:
        error = exc.message
    return _verdict_page(verdict, holder=holder, holder_error=error), 400 if error else 200


@bp.get("/check")
def check():
    """One pasted token, link or number: tokens and links go to their verify page."""
    text = request.args.get("q", "")
    token = cert_token.extract_token(text)
    if token:
        return redirect(f"/V/{token}", code=303)
    return _verdict_page(verify_one(text, cache=trust_cache()))


# --------------------------------------------------------------------------- candidates


@bp.get("/lookup")
def lookup():
    return render_template("registry/lookup.html", found=None, name="")


@bp.post("/lookup")
def lookup_post():
    """A candidate's certificates by full name + full ID number (the number is never echoed)."""
    name = request.form.get("name", "")
    try:
        name = check_text(_("Name"), name, limit=50)
        id_number = check_id_number(request.form.get("id_number"), _("ID number"))
    except InvalidInput as exc:
        return render_template("registry/lookup.html", found=None, name=name[:50],
                               error=exc.message), 400  # fmt: skip
    with db.transaction() as session:
        found = find_by_holder(session, name=name, id_number=id_number, secret=id_hash_secret())
    return render_template("registry/lookup.html", found=found, name=name)


# --------------------------------------------------------------------------- bulk (CSV)


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) or GB 18030, which is what Excel saves in China."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(_("file: not UTF-8 or GB18030 text"))


def _looks_checkable(cell: str) -> bool:
    return bool(cell) and (cert_token.extract_token(cell) is not None or
                           (len(cell.strip()) == 22 and cell.strip()[1:].isdigit()))  # fmt: skip


def inputs_from_csv(text: str, *, max_rows: int) -> list[str]:
    """The column to check: the one headed token/URL/number/证书编号…, else the first column
    whose first cell looks like a token, link or number, else the first. Blank rows skipped."""
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise InvalidInput(_("file: not a readable CSV file (%(why)s)", why=str(exc))) from None
    if not rows:
        raise InvalidInput(_("file: no rows to check"))
    header = [c.strip().lower() for c in rows[0]]
    column = next((i for i, c in enumerate(header) if c in HEADER_NAMES), None)
    if column is not None:
        rows = rows[1:]
    else:
        column = next((i for i, c in enumerate(rows[0]) if _looks_checkable(c)), 0)
    values = [row[column].strip() if column < len(row) else "" for row in rows]
    if len(values) > max_rows:
        raise InvalidInput(_("file: %(n)d rows, at most %(max)d per upload",
                             n=len(values), max=max_rows))  # fmt: skip
    if not values:
        raise InvalidInput(_("file: no rows to check"))
    return values


def _bulk_inputs() -> list[str]:
    max_rows = current_app.config.get("REGISTRY_BULK_MAX_ROWS", MAX_BULK_ROWS)
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        data = upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise InvalidInput(_("file: larger than 1 MB"))
        return inputs_from_csv(_decode(data), max_rows=max_rows)
    lines = [line.strip() for line in request.form.get("items", "").splitlines() if line.strip()]
    if not lines:
        raise InvalidInput(_("file: choose a CSV file or paste at least one line"))
    if len(lines) > max_rows:
        raise InvalidInput(_("file: %(n)d rows, at most %(max)d per upload",
                             n=len(lines), max=max_rows))  # fmt: skip
    return lines


def _safe_cell(value: object) -> str:
    """No spreadsheet formulas from uploaded text (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def status_label(status: str) -> str:
    return {
        "valid": _("Valid"), "revoked": _("Revoked"),
        "unrecorded": _("Genuine signature, not yet recorded"),
        "mismatch": _("Differs from the record"), "invalid": _("Invalid"),
        "not_found": _("Not recorded"),
    }.get(status, status)  # fmt: skip


def verdicts_csv(verdicts: list[Verdict]) -> bytes:
    """The result table as CSV (UTF-8 with BOM, so Excel shows the Chinese text)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Row"), _("Input"), _("Status"), _("Result"), _("Certificate number"),
                     _("Holder"), _("Occupation"), _("Level"), _("Issue date"), _("Station"),
                     _("Revoked at"), _("Revocation reason"), _("Details")])  # fmt: skip
    for i, v in enumerate(verdicts, start=1):
        c = v.certificate_dict() or {}
        r = v.recorded.revocation if v.recorded else None
        station = c.get("station") or {}
        writer.writerow([_safe_cell(x) for x in (
            i, v.input, v.status, status_label(v.status), v.number or "", c.get("holder_name"),
            c.get("occupation"), c.get("level"), c.get("issue_date"), station.get("name"),
            local_time(r.revoked_at) if r else "", r.reason if r else "", v.message)])  # fmt: skip
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@bp.get("/bulk")
def bulk():
    return render_template("registry/bulk.html", verdicts=None)


@bp.post("/bulk")
def bulk_post():
    try:
        inputs = _bulk_inputs()
    except InvalidInput as exc:
        return render_template("registry/bulk.html", verdicts=None, error=exc.message), 400
    verdicts = verify_inputs(inputs, cache=trust_cache())
    if request.form.get("format") == "csv":
        stamp = datetime.now(UTC).astimezone(cert_token.SHANGHAI).strftime("%Y%m%d-%H%M")
        return Response(verdicts_csv(verdicts), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="verify-{stamp}.csv"'})  # fmt: skip
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    return render_template("registry/bulk.html", verdicts=verdicts, counts=counts,
                           items="\n".join(v.input.strip() for v in verdicts),
                           status_label=status_label)  # fmt: skip


def _on_register(state) -> None:
    setup(state.app)
    limits.protect(state.app, ["registry_public.verify_page", "registry_public.confirm_holder_page",
                               "registry_public.check", "registry_public.lookup_post",
                               "registry_public.bulk_post"])  # fmt: skip


bp.record_once(_on_register)
