"""Staff login (Flask-Login) and the role check every console view uses."""

from __future__ import annotations

import functools

from flask import Flask, abort
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user

from station import db
from station.models import Role, StaffUser

login_manager = LoginManager()
login_manager.login_view = "console.login"
login_manager.login_message = _l("Please log in to continue.")


@login_manager.user_loader
def _load_user(user_id: str) -> StaffUser | None:
    user = db.get_session().get(StaffUser, int(user_id))
    return user if user is not None and user.active else None


def roles_required(*roles: Role):
    """Login required, and (when ``roles`` are given) at least one of them."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def actor() -> str:
    """The acting user's name, as services and the audit log record it."""
    return current_user.username if current_user.is_authenticated else "anonymous"


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
