from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from question_bank.items import ITEM_TYPE_LABELS, ItemType
from station import db
from station.auth import actor, roles_required
from station.models import Role
from station.services import banks
from station.services.errors import DomainError, NotFound
from station.views.console.common import XLSX, attempt, download, flash_error, image_response

STAFF = (Role.ADMIN, Role.EXAMINER, Role.CHIEF_EXAMINER, Role.SUPERVISOR)
# Items carry their answer keys: invigilators and examiners at large do not need to read them.
ANSWER_READERS = (Role.ADMIN, Role.CHIEF_EXAMINER, Role.SUPERVISOR)
TYPE_LABELS = {t.value: label for t, label in ITEM_TYPE_LABELS.items()}


def _version_or_404(code: str, version: str | None = None):
    session = db.get_session()
    try:
        bank = banks.get_bank(session, code)
        return session, bank, banks.get_version(session, bank, version)
    except NotFound as exc:
        abort(404, exc.message)


@roles_required(*STAFF)
def bank_list():
    return render_template("console/banks/list.html", overviews=banks.list_banks(db.get_session()),
                           types=banks.ITEM_TYPES, labels=TYPE_LABELS)  # fmt: skip


@roles_required(Role.ADMIN)
def bank_import():
    if request.method == "GET":
        return render_template("console/banks/import.html")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a file to import."), "error")
        return render_template("console/banks/import.html"), 400
    session = db.get_session()
    try:
        summary = banks.import_bank(session, actor=actor(), filename=upload.filename,
                                    data=upload.read(),
                                    bank_name=request.form.get("bank", "").strip() or None)  # fmt: skip
    except DomainError as exc:
        session.rollback()
        return render_template("console/banks/import.html", error=exc,
                               filename=upload.filename), 400  # fmt: skip
    session.commit()
    return render_template("console/banks/import.html", summary=summary, labels=TYPE_LABELS)


@roles_required(*STAFF)
def template():
    from question_bank.importers.xlsx import xlsx_template

    return download(xlsx_template(), "bank-template.xlsx", XLSX)


@roles_required(*STAFF)
def bank_detail(code: str):
    session = db.get_session()
    try:
        bank = banks.get_bank(session, code)
    except NotFound as exc:
        abort(404, exc.message)
    rows = banks.versions(session, bank)
    counts = {row.id: banks.item_counts(session, row.id) for row in rows}
    blueprints = banks.load_blueprints(session, rows[0]) if rows else []
    return render_template("console/banks/detail.html", bank=bank, versions=rows, counts=counts,
                           blueprints=blueprints, types=banks.ITEM_TYPES,
                           labels=TYPE_LABELS)  # fmt: skip


@roles_required(Role.ADMIN)
def bank_unlock(code: str):
    session, bank, row = _version_or_404(code, request.form.get("version"))
    attempt(session, lambda: banks.unlock(session, actor=actor(), bank_version_id=row.id,
                                          release_code=request.form.get("release_code", "")),
            success=_("Bank %(code)s version %(version)s unlocked.", code=code,
                      version=row.version))  # fmt: skip
    return redirect(url_for("console.bank_detail", code=code))


@roles_required(*ANSWER_READERS)
def item_browser(code: str):
    session, bank, row = _version_or_404(code, request.args.get("version"))
    filters = {k: request.args.get(k, "").strip() for k in ("q", "type", "kp", "status")}
    page = max(request.args.get("page", 1, type=int), 1)
    try:
        items, total = banks.search_items(session, row, query=filters["q"],
                                          item_type=filters["type"],
                                          knowledge_point=filters["kp"],
                                          status=filters["status"], page=page)  # fmt: skip
    except DomainError as exc:
        flash_error(exc)
        return redirect(url_for("console.bank_detail", code=code))
    return render_template("console/banks/items.html", bank=bank, version=row, items=items,
                           total=total, page=page, pages=max((total + 49) // 50, 1),
                           filters=filters, types=banks.ITEM_TYPES, labels=TYPE_LABELS)  # fmt: skip


@roles_required(*ANSWER_READERS)
def item_preview(code: str, uid: str):
    session, bank, row = _version_or_404(code, request.args.get("version"))
    try:
        item = banks.get_item(session, row, uid)
    except NotFound as exc:
        abort(404, exc.message)
    except DomainError as exc:
        flash_error(exc)
        return redirect(url_for("console.bank_detail", code=code))
    return render_template("console/banks/item.html", bank=bank, version=row, item=item,
                           labels=TYPE_LABELS, true_false=ItemType.TRUE_FALSE)  # fmt: skip


@roles_required(*STAFF)
def coverage_view(code: str):
    session, bank, row = _version_or_404(code, request.args.get("version"))
    try:
        blueprint, report = banks.blueprint_coverage(session, row, request.args.get("blueprint"))
    except DomainError as exc:
        flash_error(exc)
        return redirect(url_for("console.bank_detail", code=code))
    return render_template("console/banks/coverage.html", bank=bank, version=row,
                           blueprint=blueprint, report=report,
                           blueprints=banks.load_blueprints(session, row),
                           labels=TYPE_LABELS)  # fmt: skip


@roles_required(*ANSWER_READERS)
def assemble_view(code: str):
    session, bank, row = _version_or_404(code, request.args.get("version"))
    seed = request.args.get("seed", 1, type=int)
    try:
        form = banks.assemble(session, bank_code=code, blueprint=request.args.get("blueprint"),
                              seed=seed, version=row.version)  # fmt: skip
        items = {e.uid: banks.get_item(session, row, e.uid) for e in form.entries}
    except DomainError as exc:
        flash_error(exc)
        return redirect(url_for("console.bank_detail", code=code))
    return render_template("console/banks/assemble.html", bank=bank, version=row, form=form,
                           items=items, labels=TYPE_LABELS, seed=seed)  # fmt: skip


@roles_required(Role.ADMIN, Role.SUPERVISOR)
def export_xlsx_view(code: str):
    from question_bank.exporters.xlsx import export_xlsx

    session, bank, row = _version_or_404(code, request.args.get("version"))
    try:
        content = banks.load_content(session, row)
    except DomainError as exc:
        flash_error(exc)
        return redirect(url_for("console.bank_detail", code=code))
    name = f"{bank.code}-v{row.version}.xlsx"
    return download(export_xlsx(content), name, XLSX)


@roles_required(*ANSWER_READERS)
def media(code: str, version: str, name: str):
    session, bank, row = _version_or_404(code, version)
    try:
        blob = banks.get_media(session, row, f"media/{name}")
    except NotFound:
        abort(404)
    except DomainError:
        abort(403)
    return image_response(blob, name)
