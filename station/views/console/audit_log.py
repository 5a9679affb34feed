from flask import render_template, request
from sqlmodel import col, func, select

from station import db
from station.auth import roles_required
from station.models import AuditEntry, Role
from station.services import audit

PER_PAGE = 100


@roles_required(Role.ADMIN, Role.SUPERVISOR)
def audit_view():
    session = db.get_session()
    page = max(request.args.get("page", 1, type=int), 1)
    total = session.exec(select(func.count()).select_from(AuditEntry)).one()
    entries = session.exec(
        select(AuditEntry)
        .order_by(col(AuditEntry.seq).desc())
        .offset((page - 1) * PER_PAGE)
        .limit(PER_PAGE)
    ).all()
    report = audit.verify(session) if request.args.get("verify") else None
    return render_template("console/audit.html", entries=entries, report=report, page=page,
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1))  # fmt: skip
