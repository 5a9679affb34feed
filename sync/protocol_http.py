"""Signed requests (RFC 9421 HTTP Message Signatures) between a station and the registry.

Every request after enrollment carries one signature, label ``sig1``, made with the station's
Ed25519 key through the ``http-message-signatures`` library (``docs/sync-protocol.md``):

* covered components ``"@method" "@authority" "@path" "@query" "content-digest"
  "x-skillcert-station"`` — the body is covered through its RFC 9530 ``Content-Digest``
  (``sha-256``, also for an empty body);
* parameters ``created``, ``keyid``, ``nonce`` (16 random bytes, base64url), ``alg="ed25519"``,
  ``tag="skillcert-sync/1"``.

This module is the station's side and what both sides share: the station signs a
:class:`requests.PreparedRequest` (:func:`sign_request`, or :class:`StationAuth` as
``requests``' ``auth=``). The registry's side is :mod:`sync.protocol_verify`:
:func:`~sync.protocol_verify.verify_request` takes the method, the URL **as the client sent
it**, the headers and the raw body; every refusal is a :class:`RequestAuthError` with a stable
``code``.

Reverse proxies: ``@authority`` and ``@path``/``@query`` are what the *client* put on the wire,
so the registry must see the original ``Host`` (behind nginx: ``proxy_set_header Host $host`` or
``X-Forwarded-Host`` with werkzeug's ``ProxyFix(x_host=1)``) and the path unchanged (no prefix
stripping). :func:`sync.protocol_verify.wsgi_url` rebuilds the URL from the raw request line
(``RAW_URI``, set by gunicorn and werkzeug) rather than from the decoded ``PATH_INFO`` that
``request.url`` uses, which would turn ``%2F`` into ``/`` and break the signature.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import (
    HTTPMessageSigner,
    MappingKeyResolver,
    algorithms,
)

from sync.protocol import PROTOCOL, b64url_encode
from sync.protocol_messages import ErrorResponse

__all__ = [
    "AUTH_ERROR_CODES",
    "COVERED_COMPONENTS",
    "LABEL",
    "MAX_AGE",
    "MAX_FUTURE",
    "STATION_HEADER",
    "RequestAuthError",
    "StationAuth",
    "new_nonce",
    "sign_request",
]

LABEL = "sig1"
STATION_HEADER = "X-SkillCert-Station"
COVERED_COMPONENTS = (
    "@method",
    "@authority",
    "@path",
    "@query",
    "content-digest",
    "x-skillcert-station",
)
MAX_AGE = dt.timedelta(seconds=300)
MAX_FUTURE = dt.timedelta(seconds=60)
AUTH_ERROR_CODES = (
    "missing",
    "malformed",
    "unknown_key",
    "bad_signature",
    "stale",
    "replayed",
    "digest_mismatch",
)


class RequestAuthError(Exception):
    """A signed request was refused (HTTP 401). ``code`` is one of :data:`AUTH_ERROR_CODES`."""

    status = 401

    def __init__(self, code: str, message: str, *, server_time: dt.datetime | None = None):
        if code not in AUTH_ERROR_CODES:
            raise ValueError(f"unknown auth error code {code!r}")
        self.code = code
        self.message = message
        self.server_time = server_time
        super().__init__(f"{code}: {message}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of the 401: ``{"error", "message", "server_time"}``."""
        return ErrorResponse(self.code, self.message, self.server_time).to_dict()


def new_nonce() -> str:
    """16 random bytes, base64url: the ``nonce`` parameter."""
    return b64url_encode(secrets.token_bytes(16))


# --------------------------------------------------------------------------- client side


def sign_request(
    request: requests.PreparedRequest,
    *,
    station_code: str,
    kid: str,
    private_key: Ed25519PrivateKey,
    created: dt.datetime | None = None,
    nonce: str | None = None,
) -> requests.PreparedRequest:
    """Sign ``request`` in place (and return it): station header, Content-Digest, signature.

    ``created`` is the registry's time as the station best knows it (local clock + measured
    offset); it defaults to the local clock. Signing again (a retry) replaces the old
    signature with a fresh nonce. A streamed body (file, generator) is refused: its digest
    cannot be known before it is sent.
    """
    body = request.body
    if body is None:
        raw = b""
    elif isinstance(body, bytes):
        raw = body
    elif isinstance(body, str):
        raw = body.encode("utf-8")
        request.body = raw
        request.headers["Content-Length"] = str(len(raw))
    else:
        raise ValueError("signed requests need the whole body in memory (bytes or str)")
    for name in ("Signature", "Signature-Input", "Content-Digest"):
        request.headers.pop(name, None)
    request.headers[STATION_HEADER] = station_code
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={kid: private_key}),
    )
    signer.sign(
        request,
        key_id=kid,
        created=created or dt.datetime.now(dt.UTC),
        nonce=nonce or new_nonce(),
        label=LABEL,
        tag=PROTOCOL,
        include_alg=True,
        covered_component_ids=COVERED_COMPONENTS,
        body=raw,
    )
    return request


class StationAuth(requests.auth.AuthBase):
    """``requests`` auth that signs every request: ``session.auth = StationAuth(...)``.

    ``clock`` returns the time to put in ``created``: pass ``lambda: now() + offset`` once the
    station has measured its offset from the registry (:func:`sync.protocol.estimate_offset`).
    """

    def __init__(
        self,
        *,
        station_code: str,
        kid: str,
        private_key: Ed25519PrivateKey,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.station_code = station_code
        self.kid = kid
        self.private_key = private_key
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return sign_request(
            request,
            station_code=self.station_code,
            kid=self.kid,
            private_key=self.private_key,
            created=self.clock(),
        )
