"""The public results page (成绩查询): a candidate enters their admission number and full ID
number and sees their current result, part by part, once the session's results are published.

Every miss — unknown admission number, wrong ID number, results not yet published — gets the
same answer, so the page tells nobody which admission numbers exist. The ID number is compared
with ``hmac.compare_digest``. Failed lookups are rate limited per client address with an
in-memory sliding window (``RESULTS_LOOKUPS`` misses per ``RESULTS_WINDOW_SECONDS``, defaults
10 per 10 minutes); once a client is over it, every lookup from it is refused until the window
moves on. Successful lookups are not counted, so a shared kiosk serving a queue of candidates is
not locked out. A station runs as one process, so memory is the right place; it resets on
restart. The address is the socket's (``request.remote_addr``): the station is served directly,
not behind a proxy.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import col, select

from certs.identity import mask_id, normalise_number
from station import db
from station.models import Certificate
from station.models.grading import Result
from station.models.scheduling import Candidate, ExamSession, Programme
from station.services import certificate_prints, certificates, results
from station.services.errors import DomainError
from station.views.console.common import PDF, download

bp = Blueprint("results", __name__, url_prefix="/results")

LOOKUPS, WINDOW_SECONDS = 10, 600
MAX_FIELD = 40  # longer input is not an admission or ID number; refuse before any query


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds for each key."""

    def __init__(self, limit: int, window: float, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= self.clock() - self.window:
            events.popleft()
        return events

    def full(self, key: str) -> bool:
        """True when ``key`` has used up its events in the current window."""
        with self._lock:
            return len(self._recent(key)) >= self.limit

    def add(self, key: str) -> None:
        """Count one event for ``key``."""
        with self._lock:
            self._recent(key).append(self.clock())
            if len(self._events) > 10_000:  # forget idle clients so memory stays bounded
                for idle in [k for k in self._events if not self._recent(k)]:
                    del self._events[idle]


def _limiter() -> SlidingWindow:
    app = current_app
    if "results_lookup_limiter" not in app.extensions:
        app.extensions["results_lookup_limiter"] = SlidingWindow(
            int(app.config.get("RESULTS_LOOKUPS", LOOKUPS)),
            float(app.config.get("RESULTS_WINDOW_SECONDS", WINDOW_SECONDS)),
        )
    return app.extensions["results_lookup_limiter"]


def _find(admission_number: str, id_number: str):
    """(candidate, session, result) when everything matches and results are published; None
    otherwise, whichever part failed."""
    s = db.get_session()
    candidate = s.exec(select(Candidate).where(Candidate.admission_number == admission_number)
                       ).first()  # fmt: skip
    stored = normalise_number(candidate.id_number) if candidate else "0" * 18
    # Compare even when there is no such candidate, so both misses take the same path.
    same = hmac.compare_digest(stored.encode(), id_number.encode())
    if candidate is None or not same:
        return None
    session = s.get(ExamSession, candidate.session_id)
    try:
        results.require_published(session)
    except DomainError:
        return None
    result = s.exec(select(Result).where(Result.candidate_id == candidate.id,
                                         col(Result.current).is_(True))).first()  # fmt: skip
    if result is None:
        return None
    return candidate, session, result


@bp.route("/", methods=["GET", "POST"])
def lookup():
    if request.method == "GET":
        return render_template("results/lookup.html", number="")
    number = request.form.get("admission_number", "").strip()
    id_number = normalise_number(request.form.get("id_number", ""))
    client = request.remote_addr or "?"
    if _limiter().full(client):
        return _no_cache(render_template(
            "results/lookup.html", number=number,
            error=_("Too many lookups from this device. Wait a few minutes and try again.")), 429)  # fmt: skip
    if not number or not id_number:
        _limiter().add(client)
        return _no_cache(render_template(
            "results/lookup.html", number=number,
            error=_("Enter your admission number and your full ID number.")), 400)  # fmt: skip
    found = None
    if len(number) <= MAX_FIELD and len(id_number) <= MAX_FIELD:
        found = _find(number, id_number)
    if found is None:
        _limiter().add(client)
        return _no_cache(render_template(
            "results/lookup.html", number=number,
            error=_("No published result matches this admission number and ID number. Check "
                    "both, or ask the station when results will be published.")), 404)  # fmt: skip
    candidate, session, result = found
    programme = db.get_session().get(Programme, session.programme_id)
    parts = [(results.PART_LABELS[p], getattr(result, p)) for p in results.PARTS
             if p != "review" or results.needs_review(programme, session.level)]  # fmt: skip
    cert = db.get_session().exec(
        select(Certificate).where(Certificate.candidate_id == candidate.id)).first()  # fmt: skip
    download = url_for("results.certificate", ref=_signer().dumps(cert.number)) if cert else None
    revoked = certificates.revocation(db.get_session(), cert.number) if cert else None
    return _no_cache(render_template(
        "results/result.html", candidate=candidate, masked_id=mask_id(candidate.id_number),
        certificate=cert, download=download, revoked=revoked,
        session=session, programme=programme, result=result, parts=parts,
        outcome=results.OUTCOME_LABELS[result.outcome],
        pass_marks={results.PART_LABELS["theory"]: programme.theory_pass,
                    results.PART_LABELS["practical"]: programme.practical_pass,
                    results.PART_LABELS["review"]: programme.review_pass}))  # fmt: skip


DOWNLOAD_SECONDS = 3600  # a download link from the result page works for an hour


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="certificate-download")


@bp.get("/certificate/<ref>.pdf")
def certificate(ref: str):
    """The candidate's certificate, through the signed link their result page gave them."""
    try:
        number = _signer().loads(ref, max_age=DOWNLOAD_SECONDS)
    except (BadSignature, SignatureExpired):
        abort(404)
    s = db.get_session()
    cert = certificates.get_certificate(s, number)
    settings = certificates.Settings.from_config(current_app.config)
    pdf = certificate_prints.pdf_for(s, cert, settings, instance=Path(current_app.instance_path))
    response = download(pdf, f"{cert.number}.pdf", PDF, inline=True)
    response.headers["Cache-Control"] = "no-store"
    return response


def _no_cache(page, status: int = 200):
    """A result page carries personal data: no cache may keep it."""
    response = current_app.make_response((page, status))
    response.headers["Cache-Control"] = "no-store"
    return response
