"""``POST /api/v1/verify`` and the benchmarks' no-op, answered in front of Flask.

Batch verification is what employers' systems call, one certificate after another, and its own
work (a signature check and one indexed query) costs about what Flask's request machinery around
it does: contexts, routing, the session, the locale selector, the limiter's view wrapper, the
response object. :class:`LeanRoutes` is WSGI middleware that answers the plain case itself — no
query string, no cookie, a JSON body within :data:`MAX_BODY` — with the same functions, words
and rate-limit counters as the Flask view (:func:`sync.registry.public_api.batch_verdicts`,
:func:`sync.registry.limits.spend`), so the answer is the Flask view's byte for byte (the
tests compare them). Everything else goes on to Flask untouched.

``GET|POST /api/v1/noop`` (only with ``REGISTRY_NOOP_ENDPOINT``) is the benchmarks' baseline:
the same layer reading the body and answering, with no checks and no database.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from types import SimpleNamespace

from babel import Locale
from flask import Flask

from sync.registry import i18n, limits
from sync.registry.public import CSP
from sync.registry.public_api import batch_verdicts, server_time
from sync.registry.services.errors import RegistryError

VERIFY, NOOP = "/api/v1/verify", "/api/v1/noop"
ENDPOINT = "registry_public_api.verify_batch"
MAX_BODY = 1024 * 1024  # 100 items of 2,000 characters fit many times over
_NO_STORE = ("Cache-Control", "no-store")  # what the API's answers say (not its 429)
_HEADERS = [  # as sync.registry.public._headers adds them
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Vary", "Cookie"),  # a cookie may carry another language
]


def install(app: Flask) -> None:
    """Put :class:`LeanRoutes` in front of the app's WSGI callable (once)."""
    if not isinstance(app.wsgi_app, LeanRoutes):
        app.wsgi_app = LeanRoutes(app, app.wsgi_app)


class LeanRoutes:
    def __init__(self, app: Flask, downstream):
        self.app, self.downstream = app, downstream
        # The language Flask's locale selector picks without a query or a session.
        self.locale = Locale.parse(app.config["BABEL_DEFAULT_LOCALE"])

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == VERIFY and method == "POST" and _plain(environ):
            body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
            return self._verify(environ, body, start_response)
        if (
            path == NOOP
            and method in ("GET", "POST")
            and self.app.config.get("REGISTRY_NOOP_ENDPOINT")
        ):
            length = environ.get("CONTENT_LENGTH") or ""
            size = len(environ["wsgi.input"].read(int(length))) if length.isdigit() else 0
            return _answer(self.app, start_response, 200, {"bytes": size}, [], store=False)
        return self.downstream(environ, start_response)

    def _verify(self, environ, body: bytes, start_response):
        app = self.app
        allowed, headers = limits.spend(app, ENDPOINT, environ.get("REMOTE_ADDR"))
        with app.app_context() as ctx:
            ctx.g._flask_babel = SimpleNamespace(babel_locale=self.locale)  # Flask-Babel's place
            if not allowed:
                payload = {"error": "rate_limited", "message": str(i18n.TOO_MANY_REQUESTS),
                           "server_time": server_time()}  # fmt: skip
                return _answer(app, start_response, 429, payload, headers, store=False)
            try:
                status, payload = 200, batch_verdicts(_json(body))
            except RegistryError as exc:
                status, payload = exc.status, {"error": exc.code, "message": exc.message}
            except Exception:  # logged, a 500 (in JSON, as every other API error)
                app.logger.exception("POST %s failed", VERIFY)
                status, payload = (
                    500,
                    {"error": "server_error", "message": "服务器内部错误 (internal error)"},
                )
            payload = {"server_time": server_time(), **payload}
            return _answer(app, start_response, status, payload, headers)


def _plain(environ) -> bool:
    """No query string (``?lang=``), no cookie (a remembered language) and a JSON body of a
    stated length within :data:`MAX_BODY`: the requests whose answer depends on nothing else."""
    if environ.get("QUERY_STRING") or environ.get("HTTP_COOKIE"):
        return False
    length = environ.get("CONTENT_LENGTH") or ""
    return length.isdigit() and 0 < int(length) <= MAX_BODY


def _json(body: bytes) -> object:
    """As Flask's ``get_json(silent=True, force=True)``: ``None`` for anything but JSON."""
    try:
        return json.loads(body)
    except ValueError:
        return None


def _answer(app, start_response, status, payload, extra, *, store=True) -> list[bytes]:
    """The JSON answer as the Flask views give it (the app's JSON provider, compact, its
    trailing newline)."""
    data = (app.json.dumps(payload, separators=(",", ":")) + "\n").encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    headers += [_NO_STORE, *_HEADERS] if store else _HEADERS
    start_response(f"{status} {HTTPStatus(status).phrase}", headers + extra)
    return [data]
