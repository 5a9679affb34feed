"""The candidates' pages on exam terminals: login, then the exam itself (a client of the API)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("exam", __name__, url_prefix="/exam")


@bp.get("/")
def login():
    return render_template("exam/login.html")


@bp.get("/take")
def take():
    return render_template("exam/take.html")
