"""Server side of signed requests: the registry verifies what :mod:`sync.protocol_http` signed.

:func:`verify_request` is framework-free (method, URL, headers, body); :func:`verify_wsgi_request`
feeds it from a werkzeug/Flask request, rebuilding the URL the client signed with
:func:`wsgi_url`. Replay protection is the caller's ``seen_nonce`` callback: the registry keeps
``(kid, nonce)`` pairs in its database for at least ``MAX_AGE + MAX_FUTURE`` (10 minutes is
plenty), so every worker sees every nonce.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import http_sf
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageVerifier,
    HTTPSignatureComponentResolver,
    MappingKeyResolver,
    algorithms,
)

from certs.identity import SHANGHAI
from certs.trust import StationKey, TrustList, TrustListError, check_kid
from sync.protocol import PROTOCOL, b64url_decode
from sync.protocol_http import (
    COVERED_COMPONENTS,
    LABEL,
    MAX_AGE,
    MAX_FUTURE,
    STATION_HEADER,
    RequestAuthError,
)

__all__ = [
    "KeyLookup",
    "SeenNonce",
    "VerifiedRequest",
    "trust_list_lookup",
    "verify_request",
    "verify_wsgi_request",
    "wsgi_url",
]

_PARAMS = {"created", "keyid", "nonce", "alg", "tag"}
_YEAR_10000 = 253402300800


# --------------------------------------------------------------------------- server side


@dataclass
class _Message:
    """The request view the signature library reads: method, absolute URL, header lines."""

    method: str
    url: str
    headers: Any


@dataclass(frozen=True)
class VerifiedRequest:
    """A request that passed every check: who sent it, with which key, when."""

    station_code: str
    kid: str
    key: StationKey
    created: dt.datetime
    nonce: str
    body: bytes


#: ``key_lookup(kid, station_code)``: the key with that id, or None when unknown.
KeyLookup = Callable[[str, str], StationKey | None]
#: ``seen_nonce(kid, nonce, created)``: record the pair; True if it was already there.
SeenNonce = Callable[[str, str, dt.datetime], bool]


def trust_list_lookup(trust_list: TrustList) -> KeyLookup:
    """A :data:`KeyLookup` over a trust list (the station code is checked by the verifier)."""
    return lambda kid, _station: trust_list.get(kid)


class _WindowlessVerifier(HTTPMessageVerifier):
    """The library's verifier minus its own clock check: ours has an injectable ``now``."""

    def validate_created_and_expires(self, sig_input, max_age=None):  # noqa: ARG002
        return None


def _header_fields(headers: Mapping[str, str] | Any) -> dict[str, str]:
    """Lower-cased name -> value, repeated lines joined with ``", "`` (RFC 9110)."""
    out: dict[str, str] = {}
    items: Iterable[tuple[str, str]] = headers.items()
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value.strip()}" if key in out else value.strip()
    return out


def _parse_dict(fields: dict[str, str], name: str) -> dict[str, Any]:
    try:
        parsed = http_sf.parse(fields[name].encode("latin-1"), tltype="dictionary")
    except (ValueError, UnicodeEncodeError):
        raise RequestAuthError("malformed", f"{name}: not a structured-field dictionary") from None
    return parsed  # type: ignore[return-value]


def _check_profile(fields: dict[str, str]) -> tuple[str, str, int]:
    """Our profile of RFC 9421: (keyid, nonce, created) of ``sig1``, else RequestAuthError."""
    inputs = _parse_dict(fields, "signature-input")
    signatures = _parse_dict(fields, "signature")
    if LABEL not in inputs or LABEL not in signatures:
        raise RequestAuthError("malformed", f"no signature labelled {LABEL!r}")
    member, params = inputs[LABEL]
    if not isinstance(member, list) or any(p for _, p in member):
        raise RequestAuthError("malformed", "Signature-Input: expected an inner list of names")
    covered = [value for value, _ in member]
    if any(not isinstance(c, str) for c in covered) or sorted(covered) != sorted(
        COVERED_COMPONENTS
    ):
        raise RequestAuthError(
            "malformed", f"covered components {covered} != {list(COVERED_COMPONENTS)}"
        )
    if set(params) != _PARAMS:
        raise RequestAuthError(
            "malformed", f"signature parameters {sorted(params)} != {sorted(_PARAMS)}"
        )
    created, kid, nonce = params["created"], params["keyid"], params["nonce"]
    if isinstance(created, bool) or not isinstance(created, int) or not 0 < created < _YEAR_10000:
        raise RequestAuthError("malformed", "created: expected Unix seconds")
    if params["alg"] != "ed25519" or params["tag"] != PROTOCOL:
        raise RequestAuthError("malformed", f"expected alg=ed25519 and tag={PROTOCOL!r}")
    try:
        check_kid(kid, label="keyid")
        b64url_decode("nonce", nonce, size=16)
    except (TrustListError, ValueError) as exc:
        raise RequestAuthError("malformed", str(exc)) from None
    signature, _ = signatures[LABEL]
    if not isinstance(signature, bytes) or len(signature) != 64:
        raise RequestAuthError("malformed", "Signature: expected 64 bytes")
    digest = _parse_dict(fields, "content-digest")
    value = digest.get("sha-256", (None,))[0]
    if not isinstance(value, bytes) or len(value) != 32:
        raise RequestAuthError("malformed", "Content-Digest: expected a sha-256 digest")
    return kid, nonce, created


def verify_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | Any,
    body: bytes,
    *,
    key_lookup: KeyLookup,
    seen_nonce: SeenNonce,
    now: dt.datetime | None = None,
    max_age: dt.timedelta = MAX_AGE,
    max_future: dt.timedelta = MAX_FUTURE,
) -> VerifiedRequest:
    """Check a signed request, in this order, or raise :class:`RequestAuthError`:

    1. ``missing`` — no Signature / Signature-Input / Content-Digest / station header;
    2. ``malformed`` — not our profile (label, components, parameters, sizes) or a bad URL;
    3. ``unknown_key`` — ``key_lookup`` knows no such kid, the key is another station's, or
       today (Asia/Shanghai) is outside its validity window;
    4. ``bad_signature`` — the signature does not verify over what was received;
    5. ``digest_mismatch`` — the body is not the one the signed Content-Digest names;
    6. ``stale`` — ``created`` older than ``max_age`` or more than ``max_future`` ahead of
       ``now`` (the error carries ``server_time`` so the station can fix its offset);
    7. ``replayed`` — ``seen_nonce`` has seen the ``(kid, nonce)`` pair before. It is called
       last, so only fully valid requests spend nonces.

    ``headers`` is anything with ``items()`` (a dict, werkzeug ``Headers``); ``url`` is the
    absolute URL the client used (see :func:`wsgi_url`).
    """
    if not isinstance(body, bytes):
        raise TypeError("body: the raw request body as bytes")
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    try:
        return _verify(method, url, headers, body, key_lookup, seen_nonce, now, max_age, max_future)
    except RequestAuthError as exc:
        exc.server_time = exc.server_time or now  # every 401 tells the station the time
        raise


def _verify(
    method: str,
    url: str,
    headers: Any,
    body: bytes,
    key_lookup: KeyLookup,
    seen_nonce: SeenNonce,
    now: dt.datetime,
    max_age: dt.timedelta,
    max_future: dt.timedelta,
) -> VerifiedRequest:
    fields = _header_fields(headers)
    for name in ("signature-input", "signature", "content-digest", STATION_HEADER.lower()):
        if not fields.get(name):
            raise RequestAuthError("missing", f"the {name} header is missing")
    station = fields[STATION_HEADER.lower()]
    try:
        check_kid(station, label=STATION_HEADER)  # same alphabet: printable ASCII, no spaces
    except TrustListError:
        raise RequestAuthError("malformed", f"{STATION_HEADER}: not a station code") from None
    kid, nonce, created_ts = _check_profile(fields)
    message = _Message(method, url, headers)
    try:
        HTTPSignatureComponentResolver(message)
    except HTTPMessageSignaturesException as exc:
        raise RequestAuthError("malformed", f"request line: {exc}") from None

    key = key_lookup(kid, station)
    if key is None:
        raise RequestAuthError("unknown_key", f"unknown key {kid} for station {station}")
    if key.station_code != station:
        raise RequestAuthError("unknown_key", f"key {kid} is not station {station}'s")
    today = now.astimezone(SHANGHAI).date()
    if not key.valid_on(today):
        raise RequestAuthError(
            "unknown_key", f"key {kid} is valid {key.describe_window()}, not on {today}"
        )

    verifier = _WindowlessVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={kid: key.public_key}, private_keys={}),
    )
    try:
        results = verifier.verify(
            message,
            max_age=None,
            expect_tag=PROTOCOL,
            expect_label=LABEL,
            require_components=COVERED_COMPONENTS,
        )
    except HTTPMessageSignaturesException as exc:
        detail = f" ({exc})" if str(exc) else ""
        raise RequestAuthError(
            "bad_signature", f"the signature does not verify over the request received{detail}"
        ) from None
    try:
        verifier.verify_body(message, results, body)
    except HTTPMessageSignaturesException:
        raise RequestAuthError(
            "digest_mismatch", "the body does not match Content-Digest"
        ) from None

    created = dt.datetime.fromtimestamp(created_ts, dt.UTC)
    if created < now - max_age or created > now + max_future:
        skew = int((created - now).total_seconds())
        raise RequestAuthError(
            "stale",
            f"created is {skew:+d} s from the registry's clock (allowed "
            f"-{int(max_age.total_seconds())}..+{int(max_future.total_seconds())} s)",
        )
    if seen_nonce(kid, nonce, created):
        raise RequestAuthError("replayed", f"nonce {nonce} of key {kid} was already used")
    return VerifiedRequest(station, kid, key, created, nonce, body)


# --------------------------------------------------------------------------- WSGI adapters


class _WsgiRequest(Protocol):
    method: str
    environ: Mapping[str, Any]
    headers: Any

    def get_data(self, cache: bool = True) -> bytes: ...


def wsgi_url(environ: Mapping[str, Any]) -> str:
    """The absolute URL as the client sent it: scheme, ``Host``, then the raw request target.

    Prefers ``RAW_URI``/``REQUEST_URI`` (gunicorn, werkzeug) over ``PATH_INFO``, which WSGI
    has already percent-decoded.
    """
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw and "://" in raw.split("?", 1)[0]:  # absolute-form request target (via a proxy)
        parts = urlsplit(raw)
        raw = parts.path + (f"?{parts.query}" if parts.query else "")
    if not raw or not raw.startswith("/"):
        path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
        query = environ.get("QUERY_STRING", "")
        raw = quote(path, safe="/!$&'()*+,;=:@~-._") + (f"?{query}" if query else "")
    return f"{scheme}://{host}{raw}"


def verify_wsgi_request(request: _WsgiRequest, **options: Any) -> VerifiedRequest:
    """:func:`verify_request` for a werkzeug/Flask request (``options``: its keywords)."""
    return verify_request(
        request.method,
        wsgi_url(request.environ),
        request.headers,
        request.get_data(cache=True),
        **options,
    )
