from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from station import db
from station.auth import actor, roles_required
from station.models import Role
from station.services import users
from station.services.errors import DomainError
from station.views.console.common import flash_error


@roles_required(Role.ADMIN)
def staff_list():
    session = db.get_session()
    if request.method == "POST":
        try:
            user = users.add_user(
                session, actor=actor(), username=request.form.get("username", "").strip(),
                display_name=request.form.get("display_name", ""),
                password=request.form.get("password", ""),
                roles=request.form.getlist("roles"),
                organisation=request.form.get("organisation", ""),
            )  # fmt: skip
        except DomainError as exc:
            session.rollback()
            flash_error(exc)
            return render_template("console/staff.html", users=users.list_users(session),
                                   roles=list(Role), form=request.form), 400  # fmt: skip
        session.commit()
        flash(_("Account %(name)s added.", name=user.username), "info")
        return redirect(url_for("console.staff_list"))
    return render_template("console/staff.html", users=users.list_users(session),
                           roles=list(Role), form={})  # fmt: skip
