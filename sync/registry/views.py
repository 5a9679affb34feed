"""Registry pages. Certificate verification (``/v/<token>``) arrives with certificate sync."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text

from sync.registry import db

bp = Blueprint("registry", __name__)


@bp.get("/")
def home():
    return render_template("registry/home.html")


@bp.get("/healthz")
def healthz():
    """For load balancers: the database answers and is at the latest migration."""
    session = db.get_session()
    session.exec(text("SELECT 1"))
    revision = db.current_revision(db.engine())
    return jsonify(status="ok" if revision else "uninitialised", revision=revision), (
        200 if revision else 503
    )
