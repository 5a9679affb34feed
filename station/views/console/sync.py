"""The console's sync page: how the link to the provincial registry is doing, parked records
(with a retry button), and the registry's messages to this station."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from station import db
from station.auth import actor, roles_required
from station.models import Role
from station.models.common import utcnow
from station.services import sync_state
from station.views.console.common import attempt
from sync import outbox


@roles_required(Role.ADMIN)
def sync_view():
    now = utcnow()
    status = sync_state.status(db.get_session(), now=now)
    return render_template("console/sync.html", st=status, now=now)


@roles_required(Role.ADMIN)
def sync_retry():
    """Re-queue one parked record (``record_id``) or all of them (``all=1``)."""
    s = db.get_session()
    every = request.form.get("all") == "1"
    record_id = None if every else (request.form.get("record_id") or "")
    attempt(s, lambda: outbox.retry(s, actor=actor(), record_id=record_id, all_parked=every),
            success=_("Queued again: it goes out with the next push."))  # fmt: skip
    return redirect(url_for("console.sync_view"))
