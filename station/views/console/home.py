from flask import current_app, render_template
from sqlmodel import func, select

from station import db
from station.auth import roles_required
from station.models import AuditEntry, Bank, StaffUser
from station.services import keys


@roles_required()
def home():
    session = db.get_session()
    stats = {
        "banks": session.exec(select(func.count()).select_from(Bank)).one(),
        "staff": session.exec(select(func.count()).select_from(StaffUser)).one(),
        "audit": session.exec(select(func.count()).select_from(AuditEntry)).one(),
    }
    return render_template(
        "console/home.html",
        stats=stats,
        key=keys.active_key(session),
        station_code=current_app.config["STATION_CODE"],
    )
