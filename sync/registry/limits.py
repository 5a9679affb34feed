"""Rate limits on the registry's public endpoints (Flask-Limiter), per client IP.

Storage: ``REDIS_URL`` (app config or environment) when set, so that every gunicorn worker and
every machine behind the load balancer counts together; process memory otherwise (the demo,
tests). If Redis goes away, requests are not refused: the limiter falls back to memory
and logs it. Behind a reverse proxy the client IP must reach ``request.remote_addr``
(werkzeug's ``ProxyFix``), or every visitor shares the proxy's budget.

Budgets (fixed windows, each overridable in the instance config):

==========================  =========================  ========================================
config key                  default                    endpoints
==========================  =========================  ========================================
``REGISTRY_LIMIT_VERIFY``   120 per minute             ``GET /v/<token>``, number lookup
``REGISTRY_LIMIT_BATCH``    20 per minute              batch verify API, CSV bulk page
``REGISTRY_LIMIT_PERSONAL`` 10 per minute; 60 per hour  anything that takes a full ID number
                                                        (confirm the holder, candidate lookup):
                                                        one budget shared by page and API, so
                                                        ID numbers cannot be guessed
``REGISTRY_LIMIT_LOGIN``    10 per minute              console login attempts
``REGISTRY_LIMIT_DOCS``     60 per minute              the OpenAPI document
==========================  =========================  ========================================

A breach answers 429 with ``Retry-After``: JSON under ``/api/``, a page elsewhere.
``RATELIMIT_ENABLED = False`` turns limits off (benchmarks).
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Iterable

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter

DEFAULTS = {
    "REGISTRY_LIMIT_VERIFY": "120 per minute",
    "REGISTRY_LIMIT_BATCH": "20 per minute",
    "REGISTRY_LIMIT_PERSONAL": "10 per minute;60 per hour",
    "REGISTRY_LIMIT_LOGIN": "10 per minute",
    "REGISTRY_LIMIT_DOCS": "60 per minute",
}

#: endpoint -> (budget, shared scope or None). Endpoints of one scope share one budget.
LIMITED: dict[str, tuple[str, str | None]] = {
    "registry_public.verify_page": ("REGISTRY_LIMIT_VERIFY", None),
    "registry_public.confirm_holder_page": ("REGISTRY_LIMIT_PERSONAL", "personal"),
    "registry_public.check": ("REGISTRY_LIMIT_VERIFY", None),
    "registry_public.lookup_post": ("REGISTRY_LIMIT_PERSONAL", "personal"),
    "registry_public.bulk_post": ("REGISTRY_LIMIT_BATCH", None),
    "registry_public_api.certificate": ("REGISTRY_LIMIT_VERIFY", None),
    "registry_public_api.certificate_holder": ("REGISTRY_LIMIT_PERSONAL", "personal"),
    "registry_public_api.verify_batch": ("REGISTRY_LIMIT_BATCH", None),
    "registry_public_api.candidate_lookup": ("REGISTRY_LIMIT_PERSONAL", "personal"),
    "registry_public_api.openapi_document": ("REGISTRY_LIMIT_DOCS", None),
    "registry_console.login_post": ("REGISTRY_LIMIT_LOGIN", None),
}


def storage_uri(app: Flask) -> str:
    redis = app.config.get("REDIS_URL") or os.environ.get("REDIS_URL")
    return redis or "memory://"


def _budget_text(config, key: str) -> str:
    """A budget as configured (``REGISTRY_LIMIT_…``), else its default."""
    return config.get(key) or DEFAULTS[key]


def _budget(key: str):
    return lambda: _budget_text(current_app.config, key)


@functools.lru_cache(maxsize=32)
def _parsed_budget(text: str) -> tuple[RateLimitItem, ...]:
    """A budget's limits, parsed once per text (a verification spends one per request)."""
    return tuple(sorted(parse_many(text)))


def limiter_for(app: Flask) -> Limiter:
    """The app's limiter, made on first use (one per app: tests make many apps)."""
    limiter = app.extensions.get("registry_limiter")
    if limiter is None:
        app.config.setdefault("RATELIMIT_STORAGE_URI", storage_uri(app))
        app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
        app.config.setdefault("RATELIMIT_KEY_PREFIX", "skillcert-registry")
        app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
        app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
        limiter = Limiter(get_remote_address, app=app)
        # The prefix the limiter took, for :func:`spend` (a later config change is not seen).
        app.extensions["registry_limiter_prefix"] = app.config["RATELIMIT_KEY_PREFIX"]
        app.extensions["registry_limiter_fallback"] = _Fallback()
        # Read at every request, so that a test or a benchmark may switch limits off later.
        limiter.request_filter(lambda: not current_app.config.get("RATELIMIT_ENABLED", True))
        app.extensions["registry_limiter"] = limiter
    return limiter


def protect(app: Flask, endpoints: Iterable[str]) -> None:
    """Wrap the named endpoints' views in their limits (call after the routes are added)."""
    limiter = limiter_for(app)
    for endpoint in endpoints:
        budget, scope = LIMITED[endpoint]
        view = app.view_functions[endpoint]
        if scope:
            decorator = limiter.shared_limit(_budget(budget), scope=scope)
        else:
            decorator = limiter.limit(_budget(budget))
        app.view_functions[endpoint] = decorator(view)


def spend(app: Flask, endpoint: str, address: str | None) -> tuple[bool, list[tuple[str, str]]]:
    """Spend one request of ``endpoint``'s budget for ``address`` outside Flask (the lean WSGI
    path of :mod:`sync.registry.lean`), on the very counters Flask-Limiter keeps for that
    endpoint's view: same storage, same keys (prefix, address, endpoint or shared scope), same
    order and first-breach rule. Returns ``(allowed, headers)``, the headers being the ones
    Flask-Limiter adds (``X-RateLimit-*``, ``Retry-After``).

    If the storage fails (Redis gone), the budget is counted in process memory instead, as
    Flask-Limiter's own fallback does; the storage is tried again 10 s later, and a failure is
    logged once a minute at most."""
    if not app.config.get("RATELIMIT_ENABLED", True):
        return True, []
    budget, scope = LIMITED[endpoint]
    prefix = app.extensions["registry_limiter_prefix"]
    args = [*([prefix] if prefix else []), address or "127.0.0.1", scope or endpoint]
    items = _parsed_budget(_budget_text(app.config, budget))
    limiter, fallback = limiter_for(app), app.extensions["registry_limiter_fallback"]
    backend = fallback.limiter if fallback.in_use() else limiter.limiter
    try:
        allowed, shown, (reset_at, remaining) = _hit(backend, items, args)
    except Exception:
        if backend is fallback.limiter:
            raise
        fallback.failed(app)
        allowed, shown, (reset_at, remaining) = _hit(fallback.limiter, items, args)
    reset = int(reset_at + 1)
    return allowed, [
        ("X-RateLimit-Limit", str(shown.amount)),
        ("X-RateLimit-Remaining", str(remaining)),
        ("X-RateLimit-Reset", str(reset)),
        ("Retry-After", str(int(reset - time.time()))),
    ]


def _hit(backend: RateLimiter, items: tuple[RateLimitItem, ...], args: list[str]) -> tuple:
    """Hit each limit in turn up to the first one breached; that one (else the first) is shown."""
    shown, allowed = items[0], True
    for item in items:
        if not backend.hit(item, *args):
            shown, allowed = item, False
            break
    return allowed, shown, backend.get_window_stats(shown, *args)


class _Fallback:
    """Process-memory counters for while the configured storage fails: used for
    :data:`RETRY_SECONDS` after each failure, then the storage is tried again."""

    RETRY_SECONDS = 10.0

    def __init__(self) -> None:
        self.limiter = FixedWindowRateLimiter(MemoryStorage())
        self.failed_at = self.reported_at = -math.inf

    def in_use(self) -> bool:
        return time.monotonic() - self.failed_at < self.RETRY_SECONDS

    def failed(self, app: Flask) -> None:
        self.failed_at = now = time.monotonic()
        if now - self.reported_at >= 60:
            self.reported_at = now
            app.logger.exception("rate limit storage failed: counting in process memory")
