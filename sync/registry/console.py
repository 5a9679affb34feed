"""The provincial operator's console (``/console``): stations, revocations, audit, statistics.

Operators log in with the accounts ``registry operators add`` makes (``Operator``, werkzeug
password hashes). The session holds the operator's id and is dropped after
``REGISTRY_CONSOLE_IDLE_MINUTES`` (30) without a request, when the account is deactivated or its
password changes. Every POST carries a CSRF token (Flask-WTF's, checked here for this blueprint
only: the station-facing sync API is authenticated by signatures, not cookies). Views are thin:
the work is done by the registry's services (``stations``, ``revocations``) and by
:mod:`sync.registry.stats`; each POST is one transaction.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import func
from sqlmodel import Session, col, or_, select
from werkzeug.security import check_password_hash, generate_password_hash

from sync.registry import db, keys, limits, public, stats
from sync.registry.models import AuditEntry as RegistryAuditEntry
from sync.registry.models import Certificate, Operator
from sync.registry.services import audit as audit_log
from sync.registry.services import revocations, stations
from sync.registry.services.errors import RegistryError
from sync.registry.services.records import recorded_by_number

bp = Blueprint("registry_console", __name__, url_prefix="/console")

IDLE_MINUTES = 30
AUDIT_AREAS = ("station", "certificate", "bank", "operator", "root_key")  # action prefixes
_DUMMY_HASH = generate_password_hash("not-a-real-password-for-timing")


# --------------------------------------------------------------------------- sessions


def _fingerprint(operator: Operator) -> str:
    """Changes when the password does: a new password ends every old session."""
    return hashlib.sha256(operator.password_hash.encode()).hexdigest()[:16]


@bp.before_request
def _guard():
    if request.method == "POST" and current_app.config.get("WTF_CSRF_ENABLED", True):
        try:
            validate_csrf(request.form.get("csrf_token"))
        except Exception as exc:  # ValidationError: missing, expired or forged
            raise CSRFError(str(exc)) from None
    if request.endpoint in ("registry_console.login", "registry_console.login_post"):
        return None
    operator = _current_operator()
    if operator is None:
        return redirect(url_for("registry_console.login", next=request.full_path))
    g.operator = operator
    return None


def _current_operator() -> Operator | None:
    op_id, seen = session.get("operator_id"), session.get("operator_seen", 0)
    idle = current_app.config.get("REGISTRY_CONSOLE_IDLE_MINUTES", IDLE_MINUTES) * 60
    if op_id is None or time.time() - seen > idle:
        session.pop("operator_id", None)
        return None
    operator = db.get_session().get(Operator, op_id)
    if operator is None or not operator.active or \
            session.get("operator_fp") != _fingerprint(operator):  # fmt: skip
        session.clear()
        return None
    session["operator_seen"] = int(time.time())
    return operator


@bp.errorhandler(CSRFError)
def _csrf_error(exc):
    message = _("The form has expired or did not come from this site. Please try again.")
    return render_template("registry/error.html", code=400, message=message), 400


@bp.get("/login")
def login():
    return render_template("registry/console/login.html", next=request.args.get("next", ""))


@bp.post("/login")
def login_post():
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    operator = db.get_session().exec(select(Operator).where(Operator.username == username)).first()
    # Hash even for unknown names, so the answer time does not tell which names exist.
    ok = check_password_hash(operator.password_hash if operator else _DUMMY_HASH, password)
    if not (operator and operator.active and ok):
        flash(_("Wrong user name or password."), "error")
        return render_template("registry/console/login.html", next=request.form.get("next", ""),
                               username=username[:64]), 401  # fmt: skip
    session.clear()  # no session fixation
    session.update(operator_id=operator.id, operator_fp=_fingerprint(operator),
                   operator_seen=int(time.time()))  # fmt: skip
    target = request.form.get("next", "")
    if not target.startswith("/console/") or target.startswith("//"):
        target = url_for("registry_console.stations_list")
    return redirect(target)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("registry_console.login"))


def _actor() -> str:
    return g.operator.username


def _run(action, success: str | None = None):
    """One transaction; a domain error is flashed and answers None."""
    try:
        with db.transaction() as s:
            result = action(s)
    except (RegistryError, keys.RootKeyError) as exc:
        flash(str(exc), "error")
        return None
    if success:
        flash(success, "success")
    return result


# --------------------------------------------------------------------------- stations


@bp.get("/")
@bp.get("/stations")
def stations_list():
    summaries = stations.list_stations(db.get_session())
    counts = dict(db.get_session().exec(select(Certificate.station_id, func.count(Certificate.id))
                                        .group_by(Certificate.station_id)).all())  # fmt: skip
    return render_template("registry/console/stations.html", summaries=summaries, counts=counts,
                           token=session.pop("new_token", None))  # fmt: skip


@bp.post("/stations")
def station_add():
    form = request.form
    result = _run(lambda s: stations.add_station(s, code=form.get("code", "").strip(),
                                                 name=form.get("name", ""),
                                                 city=form.get("city", ""), actor=_actor()),
                  _("Station added. Give it the enrollment token below (shown once)."))  # fmt: skip
    if result:
        session["new_token"] = {"code": result[0].code, "token": result[1]}
    return redirect(url_for("registry_console.stations_list"))


@bp.post("/stations/<code>/token")
def station_token(code: str):
    token = _run(lambda s: stations.issue_enrollment_token(s, code=code, actor=_actor()),
                 _("New enrollment token issued; earlier unused tokens no longer work."))  # fmt: skip
    if token:
        session["new_token"] = {"code": code, "token": token}
    return redirect(url_for("registry_console.stations_list"))


# --------------------------------------------------------------------------- certificates


@bp.get("/certificates")
def certificates():
    """Search by certificate number (exact) or holder name (exact, newest first)."""
    q = request.args.get("q", "").strip()[:64]
    found = []
    if q:
        s = db.get_session()
        numbers = s.exec(select(Certificate.number).where(or_(
            Certificate.number == q.upper(), Certificate.holder_name == q))
            .order_by(col(Certificate.issue_date).desc()).limit(50)).all()  # fmt: skip
        by_number = recorded_by_number(s, set(numbers))
        found = [by_number[n] for n in numbers if n in by_number]
        if len(found) == 1:
            return redirect(url_for("registry_console.certificate", number=found[0].
                                    certificate.number))  # fmt: skip
    return render_template("registry/console/certificates.html", q=q, found=found)


@bp.get("/certificates/<number>")
def certificate(number: str):
    found = recorded_by_number(db.get_session(), {number})
    if number not in found:
        abort(404)
    return render_template("registry/console/certificate.html", rc=found[number])


@bp.post("/certificates/<number>/revoke")
def revoke(number: str):
    if request.form.get("confirm") != "yes":
        flash(_("Tick the box to confirm: a revocation cannot be undone."), "error")
    else:

        def act(s: Session):
            signer = keys.load_signer(s, passphrase=keys.passphrase_from(current_app.config))
            return revocations.revoke(s, number=number, reason=request.form.get("reason", ""),
                                      actor=_actor(), signer=signer)  # fmt: skip

        _run(act, _("Certificate %(number)s revoked. Every station receives the revocation "
                    "with its next sync.", number=number))  # fmt: skip
    return redirect(url_for("registry_console.certificate", number=number))


# --------------------------------------------------------------------------- audit


def _after(subject: str) -> str:
    return subject.split(":", 1)[-1]


def audit_summary(e: RegistryAuditEntry) -> str:
    """One line for people: what the entry records."""
    d, what = e.data, _after(e.subject)
    if e.action == "certificate.revoke":
        return _("Revoked %(number)s: %(reason)s", number=what, reason=e.reason)
    if e.action == "station.message":
        return _("Message: %(title)s", title=d.get("title"))
    if e.action == "bank.publish":
        bank, _at, version = what.rpartition("@")
        return _("Bank release %(bank)s v%(version)s", bank=bank, version=version)
    if e.action == "station.enroll":
        return _("Station %(code)s enrolled", code=what)
    if e.action == "station.enrollment_token":
        return _("Enrollment token issued for station %(code)s", code=what)
    if e.action == "station.add":
        return _("Station %(code)s added: %(name)s, %(city)s", code=what, name=d.get("name"),
                 city=d.get("city"))  # fmt: skip
    if e.action == "station.key_rotate":
        return _("Station %(code)s rotated to key %(kid)s", code=what, kid=d.get("kid"))
    if e.action == "operator.add":
        return _("Operator %(username)s added", username=what)
    if e.action == "root_key.create":
        return _("Root key %(kid)s created", kid=what)
    return e.action


@bp.get("/audit")
def audit():
    area = request.args.get("kind") or None
    if area is not None and area not in AUDIT_AREAS:
        abort(400, _("kind: unknown"))
    session = db.get_session()
    entries = audit_log.entries(session, action_prefix=f"{area}." if area else None)
    return render_template("registry/console/audit.html", kind=area, kinds=AUDIT_AREAS,
                           entries=entries, summary=audit_summary,
                           chain=audit_log.verify(session))  # fmt: skip


# --------------------------------------------------------------------------- statistics


def _report() -> stats.YearReport:
    raw = request.args.get("year") or datetime.now(stats.SHANGHAI).year
    try:
        year = stats.check_year(raw)
    except ValueError as exc:
        abort(400, str(exc))
    return stats.year_report(db.get_session(), year)


def report_charts(report: stats.YearReport) -> list[tuple[str, object]]:
    """The dashboard's (and the PDF's) charts as (title, SVG), labels in the current language."""
    months = report.by_month
    cities = report.by_city[:12]
    rated = [b for b in report.by_programme if b.candidates][:12]
    levels = [b for b in report.by_level if b.candidates]
    titles = (_("Certificates issued per month"), _("Certificates by city"),
              _("Pass rate by programme"), _("Pass rate by level"))  # fmt: skip
    return list(zip(titles, (
        stats.column_chart(
            [b.label for b in months], [b.certificates for b in months], title=titles[0],
            chart_id="chart-months",
            desc=_("Certificates issued in %(year)d, by month of issue", year=report.year)),
        stats.bar_chart(
            [b.label for b in cities], [b.certificates for b in cities], title=titles[1],
            chart_id="chart-cities",
            desc=_("Certificates issued in %(year)d, by the city of the station", year=report.year)),
        stats.bar_chart(
            [b.label for b in rated], [b.pass_rate or 0 for b in rated], percent_axis=True,
            title=titles[2], chart_id="chart-programmes",
            desc=_("Passed candidates as a share of all candidates, by programme")),
        stats.bar_chart(
            [b.label for b in levels], [b.pass_rate or 0 for b in levels], percent_axis=True,
            title=titles[3], chart_id="chart-levels",
            desc=_("Passed candidates as a share of all candidates, by level")),
    ), strict=True))  # fmt: skip


@bp.get("/stats")
def statistics():
    report = _report()
    years = stats.years_with_data(db.get_session())
    if report.year not in years:
        years = sorted({*years, report.year}, reverse=True)
    return render_template("registry/console/stats.html", report=report, years=years,
                           charts=report_charts(report), percent=stats.percent)  # fmt: skip


def _no_fetching(url: str, *args, **kwargs):
    raise ValueError(f"refusing to fetch {url[:60]} while printing the report")


@bp.get("/stats/report.pdf")
def statistics_pdf():
    """The yearly performance report as an A4 PDF (WeasyPrint, WenQuanYi Micro Hei)."""
    from weasyprint import HTML

    report = _report()
    html = render_template("registry/console/report_pdf.html", report=report,
                           charts=report_charts(report), percent=stats.percent,
                           generated=datetime.now(UTC))  # fmt: skip
    pdf = HTML(string=html, url_fetcher=_no_fetching).write_pdf()
    name = f"performance-report-{report.year}.pdf"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


def _on_register(state) -> None:
    public.setup(state.app)
    limits.protect(state.app, ["registry_console.login_post"])


bp.record_once(_on_register)
