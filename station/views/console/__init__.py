"""The staff console: every URL of it is listed here; the handlers live in the modules below."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")

from station.views.console import (  # noqa: E402
    account,
    audit_log,
    banks,
    checkin_desk,
    home,
    proctor,
    sessions,
    site_setup,
    staff,
)

ROUTES = [
    ("/login", account.login, ["GET", "POST"]),
    ("/logout", account.logout, ["POST"]),
    ("/", home.home, ["GET"]),
    ("/banks", banks.bank_list, ["GET"]),
    ("/banks/import", banks.bank_import, ["GET", "POST"]),
    ("/banks/template.xlsx", banks.template, ["GET"]),
    ("/banks/<code>", banks.bank_detail, ["GET"]),
    ("/banks/<code>/unlock", banks.bank_unlock, ["POST"]),
    ("/banks/<code>/items", banks.item_browser, ["GET"]),
    ("/banks/<code>/items/<uid>", banks.item_preview, ["GET"]),
    ("/banks/<code>/coverage", banks.coverage_view, ["GET"]),
    ("/banks/<code>/assemble", banks.assemble_view, ["GET"]),
    ("/banks/<code>/export.xlsx", banks.export_xlsx_view, ["GET"]),
    ("/banks/<code>/<version>/media/<path:name>", banks.media, ["GET"]),
    ("/site", site_setup.site_view, ["GET", "POST"]),
    ("/sessions", sessions.session_list, ["GET"]),
    ("/sessions/new", sessions.session_new, ["GET", "POST"]),
    ("/sessions/roster-template.xlsx", sessions.roster_template, ["GET"]),
    ("/sessions/<code>", sessions.session_detail, ["GET"]),
    ("/sessions/<code>/assign", sessions.session_assign, ["POST"]),
    ("/sessions/<code>/unassign/<int:assignment_id>", sessions.session_unassign, ["POST"]),
    ("/sessions/<code>/transition", sessions.session_transition, ["POST"]),
    ("/sessions/<code>/recusals", sessions.session_recuse, ["POST"]),
    ("/sessions/<code>/roster", sessions.roster_upload, ["POST"]),
    ("/sessions/<code>/candidates/<admission_number>/seat", sessions.candidate_seat, ["POST"]),
    ("/sessions/<code>/tickets.pdf", sessions.session_tickets, ["GET"]),
    ("/sessions/<code>/checkin", checkin_desk.desk, ["GET"]),
    ("/sessions/<code>/checkin/scan", checkin_desk.scan, ["POST"]),
    ("/sessions/<code>/checkin/confirm", checkin_desk.confirm, ["POST"]),
    ("/sessions/<code>/checkin/find", checkin_desk.find, ["GET"]),
    ("/sessions/<code>/checkin/counts", checkin_desk.counts, ["GET"]),
    ("/sessions/<code>/checkin/absentees", checkin_desk.absentees, ["POST"]),
    ("/candidates/<admission_number>/photo", sessions.candidate_photo, ["GET"]),
    ("/sessions/<code>/live", proctor.live, ["GET"]),
    ("/sessions/<code>/live.json", proctor.live_json, ["GET"]),
    ("/sessions/<code>/attempts/<admission_number>/act", proctor.act_on_attempt, ["POST"]),
    ("/sessions/<code>/rooms/<room>/act", proctor.act_on_room, ["POST"]),
    ("/sessions/<code>/report", proctor.report_view, ["GET"]),
    ("/sessions/<code>/report.pdf", proctor.report_pdf, ["GET"]),
    ("/staff", staff.staff_list, ["GET", "POST"]),
    ("/audit", audit_log.audit_view, ["GET"]),
]

for rule, view, methods in ROUTES:
    bp.add_url_rule(rule, view_func=view, methods=methods)
