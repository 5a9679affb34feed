"""Small helpers shared by console views: loading or 404, and running one service call as the
request's transaction (commit on success, roll back and explain on a domain error)."""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import Response, abort, flash, jsonify, send_file

from question_bank.media import image_mimetype
from station import db
from station.services import sessions
from station.services.errors import DomainError, NotFound


def flash_error(exc: DomainError) -> None:
    flash(exc.message, "error")
    for detail in exc.details:
        flash(detail, "error-detail")


def session_or_404(code: str):
    """The request's database session and the exam session ``code``."""
    s = db.get_session()
    try:
        return s, sessions.get_session(s, code)
    except NotFound as exc:
        abort(404, exc.message)


def attempt(s, action: Callable[[], object], *, success: str | None = None) -> bool:
    """Run ``action`` as the request's transaction; flash the outcome. True when it committed."""
    try:
        action()
    except DomainError as exc:
        s.rollback()
        flash_error(exc)
        return False
    s.commit()
    if success:
        flash(success, "info")
    return True


def json_attempt(s, action: Callable[[], dict]):
    """Like :func:`attempt` for the JSON endpoints: the action returns the success payload."""
    try:
        payload = action()
    except DomainError as exc:
        s.rollback()
        return jsonify(ok=False, error=exc.message, details=exc.details), 400
    s.commit()
    return jsonify(ok=True, **payload)


def image_response(blob: bytes, name: str):
    """A bank picture; only pictures are bank media, never anything a browser would run."""
    mimetype = image_mimetype(name)
    if mimetype is None:
        abort(404)
    return Response(blob, mimetype=mimetype, headers={"Content-Security-Policy": "sandbox",
                                                      "Cache-Control": "private, max-age=3600"})  # fmt: skip


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"


def download(data: bytes, name: str, mimetype: str, *, inline: bool = False):
    """A file response; the name may be Chinese (send_file encodes it per RFC 6266)."""
    return send_file(io.BytesIO(data), mimetype=mimetype, download_name=name,
                     as_attachment=not inline)  # fmt: skip
