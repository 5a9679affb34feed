"""The station's HTTP link to the registry: signed requests, clock offset, error classes.

Every request after enrollment is signed (RFC 9421, :class:`sync.protocol_http.StationAuth`)
with ``created`` = local clock + the offset measured from the registry's ``server_time``
(``docs/sync-protocol.md``, Signed requests). Each answer that carries ``server_time`` updates
the offset; a ``401 stale`` (our clock too far off) is retried once with the corrected offset.

Failures come in two kinds, because the station reacts differently:

* :class:`TransportError` — no answer, a timeout, a 5xx, a 429 or a body that is not JSON:
  the link is down or the registry is busy; try again later with backoff;
* :class:`RegistryRefused` — the registry answered 4xx with an error code (``unknown_key``,
  ``enrollment_refused``, ``malformed`` …): something must be fixed; the message says what.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.protocol import ProtocolError, estimate_offset, parse_time
from sync.protocol_http import StationAuth

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)
BACKOFF_BASE = dt.timedelta(seconds=15)
BACKOFF_CAP = dt.timedelta(minutes=10)


class TransportError(Exception):
    """The registry could not be reached or did not answer usefully; retry later. ``status``
    is the HTTP status when it did answer (5xx, 408, 429), else None."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RegistryRefused(Exception):
    """The registry answered with a 4xx error: ``code`` (machine) and ``message`` (people)."""

    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message
        super().__init__(f"HTTP {status} {code}: {message}")


def backoff_delay(failures: int, *, base: dt.timedelta = BACKOFF_BASE,
                  cap: dt.timedelta = BACKOFF_CAP, rng: random.Random | None = None) -> dt.timedelta:  # fmt: skip
    """Exponential backoff with jitter after ``failures`` consecutive failures (1, 2, …).

    The ceiling doubles from ``base`` up to ``cap``; the delay is drawn uniformly from the
    upper half of it, so stations that lost the link together do not return together.
    """
    ceiling = min(cap, base * (2 ** max(0, min(failures, 32) - 1)))
    return ceiling * (rng or random).uniform(0.5, 1.0)


def check_registry_url(url: str) -> str:
    """``url`` without a trailing slash, if it is an http(s) URL with a host; else ValueError."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"registry URL: 应为 https://主机[:端口] 形式的地址，而不是 {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"registry URL: 不能带查询参数或片段：{url!r}")
    return url.rstrip("/")


def same_origin(base: str, url: str) -> bool:
    a, b = urlsplit(base), urlsplit(url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


@dataclass
class Reply:
    status: int
    body: Any  # parsed JSON, or bytes for a download
    headers: Any


class RegistryClient:
    """Requests to one registry, signed as one station key (or unsigned, for enrollment)."""

    def __init__(self, base_url: str, *, station_code: str | None = None, kid: str | None = None,
                 private_key: Ed25519PrivateKey | None = None,
                 offset: dt.timedelta = dt.timedelta(0), timeout=DEFAULT_TIMEOUT,
                 http: requests.Session | None = None) -> None:  # fmt: skip
        self.base_url = check_registry_url(base_url)
        self.offset = offset
        self.offset_measured = False
        self.timeout = timeout
        self.http = http or requests.Session()
        self.http.trust_env = False  # a station's proxy settings must not reroute signed calls
        self.auth = None
        if private_key is not None:
            self.auth = StationAuth(station_code=station_code or "", kid=kid or "",
                                    private_key=private_key, clock=self.registry_now)  # fmt: skip

    def registry_now(self) -> dt.datetime:
        """Our best guess of the registry's clock: local UTC now + the measured offset."""
        return dt.datetime.now(dt.UTC) + self.offset

    def url(self, path: str) -> str:
        full = urljoin(self.base_url + "/", path)
        if not same_origin(self.base_url, full):
            raise RegistryRefused(0, "foreign_url", f"{path} 不在省级平台 {self.base_url} 上")
        return full

    def call(self, method: str, path: str, *, body: Any = None,
             params: dict[str, str] | None = None, raw: bool = False) -> Reply:  # fmt: skip
        """Send one request; on ``401 stale`` correct the offset and send it once more."""
        reply = self._send(method, path, body=body, params=params, raw=raw)
        if reply is None:  # stale: the offset was corrected from the 401's server_time
            reply = self._send(method, path, body=body, params=params, raw=raw, retried=True)
        assert reply is not None
        return reply

    def _send(self, method: str, path: str, *, body: Any, params: dict[str, str] | None,
              raw: bool, retried: bool = False) -> Reply | None:  # fmt: skip
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        sent = dt.datetime.now(dt.UTC)
        try:
            response = self.http.request(method, self.url(path), data=data, params=params,
                                         headers=headers, auth=self.auth, timeout=self.timeout,
                                         allow_redirects=False)  # fmt: skip
        except requests.RequestException as exc:
            raise TransportError(
                f"无法连接省级平台 {self.base_url}：{type(exc).__name__}: {exc}"
            ) from None
        received = dt.datetime.now(dt.UTC)
        status = response.status_code
        if raw and status == 200:
            return Reply(status, response.content, response.headers)
        parsed = _json(response)
        if isinstance(parsed, dict) and "server_time" in parsed:
            self._measure(sent, received, parsed["server_time"])
        if 200 <= status < 300:
            if parsed is None:
                raise TransportError(f"省级平台的应答不是 JSON（HTTP {status}）")
            return Reply(status, parsed, response.headers)
        code, message = _error_of(parsed, response)
        if status == 401 and code == "stale" and not retried:
            return None
        if status >= 500 or status in (408, 429):
            raise TransportError(f"省级平台暂时无法处理（HTTP {status} {code}）：{message}",
                                 status)  # fmt: skip
        raise RegistryRefused(status, code, message)

    def _measure(self, sent: dt.datetime, received: dt.datetime, server_time: object) -> None:
        try:
            when = parse_time("server_time", server_time)
            self.offset = estimate_offset(sent, received, when)
            self.offset_measured = True
        except (ProtocolError, ValueError):
            pass  # a bad server_time is ignored; the body's own parse will complain


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_of(parsed: Any, response: requests.Response) -> tuple[str, str]:
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        return parsed["error"], str(parsed.get("message", ""))
    return f"http_{response.status_code}", response.text[:200].strip()
