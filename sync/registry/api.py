"""The registry's JSON API for stations and auditors (docs/sync-protocol.md).

Thin views: parse, call a service inside one transaction, answer JSON. Every answer carries
``server_time``; every error is ``{"error": code, "message": …, "server_time": …}``.

Stations (signed requests, RFC 9421): ``POST /api/v1/sync/push``, ``GET /api/v1/sync/feed``,
``GET /api/v1/banks/<id>/package``. Enrollment: ``POST /api/v1/enroll`` (one-time token).
Anyone: ``GET /.well-known/skillcert-trust.json``, ``GET /api/v1/keys/root``,
``GET /api/v1/log/sth``, ``GET /api/v1/log/proof``, ``GET /api/v1/log/consistency``.
Benchmarks only: ``GET|POST /api/v1/noop`` (:mod:`sync.registry.lean`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify, request
from sqlmodel import Session

from sync.protocol_verify import wsgi_url
from sync.registry import db
from sync.registry import keys as root_keys
from sync.registry.models import Station
from sync.registry.services import auth, feed, push, revocations, stations
from sync.registry.services import log as tlog
from sync.registry.services.errors import AuthError, InvalidInput, NotFound, RegistryError
from sync.registry.services.records import find_certificate

bp = Blueprint("registry_api", __name__, url_prefix="/api/v1")
well_known = Blueprint("registry_well_known", __name__)


def server_time() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _answer(payload: dict, status: int = 200) -> Response:
    response = jsonify({"server_time": server_time(), **payload})
    response.status_code = status
    return response


def _error(exc: RegistryError) -> Response:
    body = {"error": exc.code, "message": exc.message}
    if isinstance(exc, AuthError) and exc.server_time:
        return jsonify({**body, "server_time": exc.server_time}), exc.status
    return _answer(body, exc.status)


@bp.errorhandler(RegistryError)
def _registry_error(exc: RegistryError):
    return _error(exc)


@well_known.errorhandler(RegistryError)
def _well_known_error(exc: RegistryError):
    return _error(exc)


@bp.errorhandler(root_keys.RootKeyError)
@well_known.errorhandler(root_keys.RootKeyError)
def _root_key_error(exc: root_keys.RootKeyError):
    current_app.logger.error("root key unavailable: %s", exc)
    return _answer({"error": "unavailable", "message": "登记平台尚未初始化完成 (root key)"}, 503)


def _signer(session: Session) -> root_keys.RootSigner:
    return root_keys.load_signer(session, passphrase=root_keys.passphrase_from(current_app.config))


def _secret() -> bytes:
    value = current_app.config.get("ID_HASH_SECRET")
    if not value:
        raise root_keys.RootKeyError("ID_HASH_SECRET is not configured: run `registry init`")
    return bytes.fromhex(value)


def _json_body() -> object:
    try:
        return json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"body: 不是有效的 JSON ({exc})") from None


def _authenticated(session: Session) -> Station:
    station, _ = auth.authenticate(
        session,
        method=request.method,
        url=wsgi_url(request.environ),
        headers=request.headers,
        body=request.get_data(cache=True),
    )
    return station


def _int_arg(name: str, *, required: bool = True) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        if required:
            raise InvalidInput(f"{name}: 缺少此参数 (required)")
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput(f"{name}: 应为非负整数，实际为 {raw!r} (expected an integer)")
    return int(raw)


# --------------------------------------------------------------------------- trust


@well_known.get("/.well-known/skillcert-trust.json")
def trust_list():
    with db.transaction() as session:
        document = stations.signed_trust_list(session, _signer(session))
    response = jsonify(document)
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


@bp.get("/keys/root")
def root_key():
    with db.transaction() as session:
        row = root_keys.active_root_key(session)
        return _answer({"kid": row.kid, "public_key": row.public_pem})


@bp.post("/enroll")
def enroll():
    body = _json_body()
    with db.transaction() as session:
        result = stations.enroll(session, body=body, signer=_signer(session))
    return _answer(result)


# --------------------------------------------------------------------------- sync


@bp.post("/sync/push")
def sync_push():
    with db.transaction() as session:
        station = _authenticated(session)
        result = push.ingest_push(
            session, station=station, body=_json_body(), signer=_signer(session), secret=_secret()
        )
    return _answer(result)


@bp.get("/sync/feed")
def sync_feed():
    with db.transaction() as session:
        station = _authenticated(session)
        page = feed.feed_after(
            session,
            station=station,
            after=feed.parse_cursor(request.args.get("after")),
            limit=feed.parse_limit(request.args.get("limit")),
        )
        station.last_seen_at = datetime.now(UTC)
        session.add(station)
    return _answer(page)


@bp.get("/banks/<int:release_id>/package")
def bank_package(release_id: int):
    with db.transaction() as session:
        station = _authenticated(session)
        release = feed.bank_package(session, release_id=release_id, station=station)
        data, digest, name = release.package, release.sha256, f"{release.bank}-v{release.version}"
    response = Response(bytes(data), mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.skb"'
    response.headers["X-Content-SHA256"] = digest
    return response


# --------------------------------------------------------------------------- transparency log


@bp.get("/log/sth")
def log_sth():
    with db.transaction() as session:
        sth = tlog.latest_tree_head(session)
    return _answer({"tree_head": sth.to_dict()})


@bp.get("/log/proof")
def log_proof():
    """Inclusion proof of a certificate's leaf (``kind=revocation``: its revocation's leaf),
    against the newest tree head or the stored one of ``tree_size``."""
    number = revocations.check_number(request.args.get("number"))
    kind = request.args.get("kind", "certificate")
    tree_size = _int_arg("tree_size", required=False)
    with db.transaction() as session:
        if kind == "certificate":
            found = find_certificate(session, number)
            index = found.certificate.leaf_index if found else None
        elif kind == "revocation":
            revocation = revocations.revocation_of(session, number)
            index = revocation.leaf_index if revocation else None
        else:
            raise InvalidInput(f"kind: 应为 certificate 或 revocation，实际为 {kind!r}")
        if index is None:
            raise NotFound(f"number: 日志中没有证书 {number} 的{kind}叶子 (not in the log)")
        proof = tlog.inclusion(session, index, tree_size=tree_size)
    return _answer({"number": number, "kind": kind, **proof})


@bp.get("/log/consistency")
def log_consistency():
    first, second = _int_arg("first"), _int_arg("second")
    with db.transaction() as session:
        proof = tlog.consistency(session, first, second)  # type: ignore[arg-type]
    return _answer(proof)
