"""Small helpers shared by console views."""

from __future__ import annotations

from flask import flash

from station.services.errors import DomainError


def flash_error(exc: DomainError) -> None:
    flash(exc.message, "error")
    for detail in exc.details:
        flash(detail, "error-detail")
