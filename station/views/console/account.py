from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from station import db
from station.auth import roles_required
from station.services import users
from station.services.errors import AuthError


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never bounce a login to another host."""
    target = "".join(ch for ch in (target or "") if ch.isprintable() and not ch.isspace())
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith(("//", "/\\")) and not parts.scheme \
            and not parts.netloc and "\\" not in target:  # fmt: skip
        return target
    return url_for("console.home")


def login():
    if request.method == "POST":
        session = db.get_session()
        try:
            user = users.authenticate(session, username=request.form.get("username", "").strip(),
                                      password=request.form.get("password", ""))  # fmt: skip
        except AuthError as exc:
            session.commit()
            flash(exc.message, "error")
            return render_template("console/login.html"), 401
        session.commit()
        login_user(user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("console/login.html")


@roles_required()
def logout():
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("console.login"))
