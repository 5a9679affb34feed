"""The staff console: every URL of it is listed here; the handlers live in the modules below."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")

from station.views.console import account, audit_log, banks, home, staff  # noqa: E402

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
    ("/staff", staff.staff_list, ["GET", "POST"]),
    ("/audit", audit_log.audit_view, ["GET"]),
]

for rule, view, methods in ROUTES:
    bp.add_url_rule(rule, view_func=view, methods=methods)
