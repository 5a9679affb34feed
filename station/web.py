"""Web plumbing shared by every blueprint: CSRF, template filters, error pages, headers."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask, render_template, request
from flask_babel import get_locale
from flask_wtf.csrf import CSRFError, CSRFProtect

csrf = CSRFProtect()
SHANGHAI = ZoneInfo("Asia/Shanghai")


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Show a stored UTC time in Asia/Shanghai."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI).strftime(fmt)


def media_urls(html: str, base: str) -> str:
    """Point an item's ``media/...`` images at the URL the bank's media are served from."""
    return html.replace('src="media/', f'src="{base}')


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["media_urls"] = media_urls
    app.jinja_env.globals["current_locale"] = lambda: (
        "zh_CN" if get_locale().language == "zh" else "en"
    )

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        return render_template("error.html", code=400, message=exc.description), 400

    for code in (403, 404, 413):

        @app.errorhandler(code)
        def _error(exc, code=code):
            return render_template("error.html", code=code, message=exc.description), code

    @app.after_request
    def _headers(response):
        # Everything is served locally; no page may pull a script from anywhere else.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.path.startswith("/console"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
