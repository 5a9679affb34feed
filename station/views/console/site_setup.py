from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from station import db
from station.auth import actor, roles_required
from station.models import Role
from station.services import site
from station.services.errors import DomainError
from station.views.console.common import flash_error


@roles_required(Role.ADMIN)
def site_view():
    s = db.get_session()
    if request.method == "POST":
        form = request.form
        try:
            if form.get("what") == "room":
                site.add_room(s, actor=actor(), code=form.get("code", ""), name=form.get("name", ""),
                              kind=form.get("kind", ""), seats=int(form.get("seats") or 0))  # fmt: skip
            else:
                site.add_programme(s, actor=actor(), code=form.get("code", ""),
                                   name=form.get("name", ""),
                                   levels=form.get("levels", "").replace("，", ",").split(","),
                                   occupation_code=form.get("occupation_code", ""),
                                   occupation=form.get("occupation", ""),
                                   direction=form.get("direction", ""),
                                   issuer_name=form.get("issuer", ""))  # fmt: skip
        except ValueError:
            flash(_("Seats must be a whole number."), "error")
        except DomainError as exc:
            s.rollback()
            flash_error(exc)
        else:
            s.commit()
            flash(_("Saved."), "info")
        return redirect(url_for("console.site_view"))
    return render_template("console/site.html", programmes=site.list_programmes(s),
                           rooms=site.list_rooms(s))  # fmt: skip
