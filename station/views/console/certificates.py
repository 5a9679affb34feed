"""Certificates in the console: issue a signed-off session's, print them with progress, download,
revoke; and the offline verifier (paste, upload or scan a certificate's QR code)."""

from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from station import config as station_config
from station import db
from station.auth import actor, roles_required
from station.models import ExamSession, Role
from station.services import certificate_prints, certificates, print_jobs, sessions, verification
from station.services.errors import NotFound
from station.views.console.common import PDF, attempt, download, session_or_404

STAFF = (Role.ADMIN, Role.EXAMINER, Role.CHIEF_EXAMINER, Role.SUPERVISOR)


def _settings() -> certificates.Settings:
    return certificates.Settings.from_config(current_app.config)


def _instance() -> Path:
    return Path(current_app.instance_path)


@roles_required(*STAFF)
def session_certificates(code: str):
    s, row = session_or_404(code)
    certs = certificates.session_certificates(s, row)
    revoked = {c.number: certificates.revocation(s, c.number) for c in certs}
    printed = print_jobs.combined_path(_instance(), code).exists()
    return render_template("console/certificates/session.html", session=row, certs=certs,
                           revoked=revoked, missing=certificates.missing_certificates(s, row),
                           job=print_jobs.job(code), printed=printed,
                           issuable=row.state in certificates.ISSUABLE,
                           state_label=sessions.STATE_LABELS[row.state])  # fmt: skip


@roles_required(Role.ADMIN)
def certificates_issue(code: str):
    s, row = session_or_404(code)
    passphrase = station_config.key_passphrase(current_app.config)
    done = attempt(s, lambda: certificates.issue_session(s, actor=actor(), session_code=code,
                                                         passphrase=passphrase,
                                                         settings=_settings()),
                   success=_("Certificates issued; printing has started."))  # fmt: skip
    if done:
        print_jobs.start(current_app._get_current_object(), code)
    return redirect(url_for("console.session_certificates", code=code))


@roles_required(Role.ADMIN)
def certificates_reprint(code: str):
    session_or_404(code)
    print_jobs.start(current_app._get_current_object(), code)
    return redirect(url_for("console.session_certificates", code=code))


@roles_required(*STAFF)
def certificates_progress(code: str):
    session_or_404(code)
    current = print_jobs.job(code)
    printed = print_jobs.combined_path(_instance(), code).exists()
    return jsonify(job=current.to_dict() if current else None, printed=printed)


@roles_required(*STAFF)
def certificates_combined(code: str):
    session_or_404(code)
    path = print_jobs.combined_path(_instance(), code)
    if not path.exists():
        abort(404, _("The print file is not ready yet."))
    return download(path.read_bytes(), path.name, PDF)


@roles_required(*STAFF)
def certificate_pdf(number: str):
    s = db.get_session()
    try:
        cert = certificates.get_certificate(s, number)
    except NotFound as exc:
        abort(404, exc.message)
    pdf = certificate_prints.pdf_for(s, cert, _settings(), instance=_instance())
    return download(pdf, f"{cert.number}.pdf", PDF, inline=True)


@roles_required(Role.ADMIN)
def certificate_revoke(number: str):
    s = db.get_session()
    reason = request.form.get("reason", "")
    try:
        cert = certificates.get_certificate(s, number)
    except NotFound as exc:
        abort(404, exc.message)
    code = s.get(ExamSession, cert.session_id).code
    attempt(s, lambda: certificates.revoke(s, actor=actor(), number=number, reason=reason),
            success=_("Revocation recorded. It is honoured here at once and sent to the registry "
                      "with the next sync."))  # fmt: skip
    return redirect(url_for("console.session_certificates", code=code))


@roles_required(*STAFF)
def certificate_verify():
    verdicts = []
    text = ""
    if request.method == "POST":
        s = db.get_session()
        upload = request.files.get("file")
        text = request.form.get("text", "").strip()
        if upload and upload.filename:
            verdicts = verification.verify(s, _settings(), upload.read())
        elif text:
            verdicts = verification.verify(s, _settings(), text)
    return render_template("console/certificates/verify.html", verdicts=verdicts, text=text)
