"""What anyone can ask the registry about a certificate, and the JSON API for employers.

The verification core, shared by the pages (:mod:`sync.registry.public`) and this API:
:func:`verify_inputs` takes what a person scanned, pasted or uploaded — a QR token, a
``…/V/<TOKEN>`` link or a bare certificate number — and answers a :class:`Verdict` per input,
honest in every case:

- a token is checked first on its own (its Ed25519 signature against every enrolled station's
  keys and their validity windows, :func:`certs.cert_token.decode_token`), then against what
  the registry recorded: ``valid``, ``revoked`` (when and why), ``unrecorded`` (a genuine
  signature the issuing station has not synced yet), ``mismatch`` (genuine, but not what the
  registry recorded under that number) or ``invalid`` (``error`` says which check failed);
- a bare number can only be looked up: ``valid``, ``revoked`` or ``not_found``. Numbers run
  in sequence, so a lookup by number alone shows the holder's name masked (``欧**``); whoever
  also gives the name (``?name=``) learns whether it matches.

Routes (blueprint ``registry_public_api``, no cookies needed, rate-limited per IP):
``GET /api/v1/certificates/<number>``, ``POST /api/v1/certificates/<number>/holder``,
``POST /api/v1/verify``, ``POST /api/v1/candidates/lookup``. Errors are
``{"error": code, "message": …, "server_time": …}`` like the sync API's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import Engine

from certs import cert_token
from certs.identity import normalise_number
from certs.numbers import CertificateNumberError, parse_number
from certs.trust import TrustList
from sync.registry import db, i18n
from sync.registry.models import Certificate, Station
from sync.registry.services.errors import InvalidInput, NotFound, RegistryError
from sync.registry.services.log import iso_utc
from sync.registry.services.records import RecordedCertificate, confirm_holder, find_by_holder
from sync.registry.services.verification import TRUST_MAX_AGE, TrustCache, recorded_certificates

bp = Blueprint("registry_public_api", __name__, url_prefix="/api/v1")

MAX_BATCH = 100  # items per POST /api/v1/verify (config REGISTRY_BATCH_MAX)
MAX_INPUT = 2000  # characters of one item: a token URL is about 250
_TOKENISH = re.compile(r"[A-Za-z2-7]+")


# --------------------------------------------------------------------------- verdicts


@dataclass
class Verdict:
    """The answer for one input. ``certificate`` is the registry's record when there is one."""

    input: str
    kind: str  # token | number | unknown
    status: str  # valid | revoked | unrecorded | mismatch | invalid | not_found
    error: str | None = None  # for invalid: malformed, bad_signature, unknown_key, …
    detail: str = ""  # the library's own (bilingual) explanation of an error
    number: str | None = None
    token: str | None = None
    claims: cert_token.TokenClaims | None = None
    station_code: str | None = None  # the signing key's station (tokens)
    station: Station | None = None
    recorded: RecordedCertificate | None = None

    @property
    def name_visible(self) -> bool:
        """A token carries the holder's name itself; a bare number does not reveal it."""
        return self.kind == "token"

    @property
    def message(self) -> str:
        return i18n.verdict_message(self)

    def certificate_dict(self, *, show_name: bool | None = None) -> dict | None:
        show = self.name_visible if show_name is None else show_name
        if self.recorded is not None:
            data = self.recorded.to_dict()
            data.pop("status", None)
            data.pop("revocation", None)
        elif self.claims is not None:
            c, s = self.claims, self.station
            data = {
                "number": c.number, "holder_name": c.holder_name, "id_type": None,
                "id_number_masked": c.masked_id, "occupation": None,
                "occupation_code": c.occupation_code, "direction": None, "level": c.level_name,
                "issuer": None, "issue_date": c.issue_date.isoformat(), "programme_code": None,
                "programme_name": None, "recorded_at": None, "leaf_index": None,
                "station": None if s is None else {"code": s.code, "name": s.name,
                                                   "city": s.city},
            }  # fmt: skip
        else:
            return None
        if not show:
            data["holder_name"] = mask_name(data["holder_name"])
        data["holder_name_masked"] = not show
        return data

    def to_dict(self, *, show_name: bool | None = None) -> dict:
        revocation = self.recorded.revocation if self.recorded else None
        return {
            "input": self.input[:300], "kind": self.kind, "status": self.status,
            "error": self.error, "message": self.message, "detail": self.detail or None,
            "number": self.number,
            "certificate": self.certificate_dict(show_name=show_name),
            "revocation": None if revocation is None else {
                "revoked_at": iso_utc(revocation.revoked_at), "reason": revocation.reason,
                "origin": revocation.origin},
            "verify_url": f"/V/{self.token}" if self.token else None,
        }  # fmt: skip


def mask_name(name: str) -> str:
    """``欧阳娜`` → ``欧**``; ``John Smith`` → ``J*** *****``: first character only."""
    return name[:1] + "".join(" " if ch.isspace() else "*" for ch in name[1:])


# --------------------------------------------------------------------------- verification


def _parse(text: object, trust: TrustList) -> Verdict:
    """Classify and check one input on its own (no record lookups yet)."""
    raw = text if isinstance(text, str) else ""
    compact = "".join(raw.split())
    if not compact:
        return Verdict(raw, "unknown", "invalid", "empty")
    if len(compact) > MAX_INPUT:
        return Verdict(raw, "unknown", "invalid", "too_long")
    # Certificate numbers hold 0, 1, 8 or 9, which base32 has not: anything longer that is all
    # base32 is a token, perhaps a cut-off one (then decoding says what is wrong with it).
    looks_like_token = "/" in compact or (len(compact) > 22 and _TOKENISH.fullmatch(compact))
    if not looks_like_token:
        try:
            number = str(parse_number(normalise_number(compact)))
        except CertificateNumberError as exc:
            return Verdict(raw, "unknown", "invalid", "unrecognised", detail=str(exc))
        return Verdict(raw, "number", "pending", number=number)
    try:
        token = cert_token.parse_token_url(compact) if "/" in compact else compact.upper()
        verified = cert_token.decode_token(token, trust)
    except cert_token.TokenError as exc:
        return Verdict(raw, "token", "invalid", exc.code, detail=str(exc))
    claims = verified.claims
    if claims.parsed_number.site_code != verified.station_code:
        return Verdict(raw, "token", "invalid", "wrong_station", number=claims.number,
                       detail=f"{verified.kid} → {verified.station_code}")  # fmt: skip
    return Verdict(
        raw,
        "token",
        "pending",
        number=claims.number,
        token=token,
        claims=claims,
        station_code=verified.station_code,
    )


def _matches(claims: cert_token.TokenClaims, c: Certificate) -> bool:
    return (claims.holder_name, claims.masked_id, claims.issue_date, claims.occupation_code) == (
        c.holder_name, c.id_masked, c.issue_date, c.occupation_code)  # fmt: skip


def verify_inputs(
    inputs: Sequence[object], *, cache: TrustCache | None = None, eng: Engine | None = None
) -> list[Verdict]:
    """A verdict per input, in order. Read-only: one query for the records, however many
    inputs, and the trust list from ``cache`` (:mod:`sync.registry.services.verification`)."""
    cache = cache if cache is not None else TrustCache(0)
    eng = eng or db.engine()
    with db.read_cursor(eng) as cursor:
        snap = cache.current(cursor, eng.dialect)
        verdicts = [_parse(text, snap.trust) for text in inputs]
        if any(v.error == "unknown_key" for v in verdicts):  # enrolled since the list was read?
            fresh = cache.current(cursor, eng.dialect, recheck=True)
            if fresh.fingerprint != snap.fingerprint:
                snap = fresh
                verdicts = [_parse(t, snap.trust) if v.error == "unknown_key" else v
                            for t, v in zip(inputs, verdicts, strict=True)]  # fmt: skip
        pending = [v for v in verdicts if v.status == "pending"]
        recorded = recorded_certificates(cursor, eng.dialect,
                                         [v.number for v in pending if v.number])  # fmt: skip
    for v in pending:
        v.station = snap.stations.get(v.station_code or "")
        found = recorded.get(v.number or "")
        v.recorded = found
        if found is None:
            v.status = "unrecorded" if v.kind == "token" else "not_found"
        elif v.claims is not None and not _matches(v.claims, found.certificate):
            v.status, v.recorded = "mismatch", None
        else:
            v.status = "revoked" if found.revocation else "valid"
    return verdicts


def verify_one(text: str, *, cache: TrustCache | None = None) -> Verdict:
    return verify_inputs([text], cache=cache)[0]


def trust_cache() -> TrustCache:
    """The app's trust-list cache (``REGISTRY_TRUST_MAX_AGE`` seconds between re-checks)."""
    cache = current_app.extensions.get("registry_public_trust")
    if cache is None:
        max_age = current_app.config.get("REGISTRY_TRUST_MAX_AGE", TRUST_MAX_AGE)
        cache = current_app.extensions.setdefault("registry_public_trust", TrustCache(max_age))
    return cache


def id_hash_secret() -> bytes:
    value = current_app.config.get("ID_HASH_SECRET")
    if not value:
        raise RegistryError(_("The registry is not set up yet."), code="unavailable", status=503)
    return bytes.fromhex(value)


# --------------------------------------------------------------------------- input checks


def check_text(field: str, value: object, *, limit: int, minimum: int = 1) -> str:
    """A trimmed, NFKC-normalised text field, or :class:`InvalidInput` naming the field."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(_("%(field)s: required", field=field))
    value = unicodedata.normalize("NFKC", value).strip()
    if len(value) > limit or len(value) < minimum:
        raise InvalidInput(_("%(field)s: must be %(low)d to %(high)d characters",
                             field=field, low=minimum, high=limit))  # fmt: skip
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InvalidInput(_("%(field)s: contains a control character", field=field))
    return value


def check_id_number(value: object, field: str = "id_number") -> str:
    return normalise_number(check_text(field, value, limit=32, minimum=4))


def check_number(value: object) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidInput(_("number: not a certificate number"))
    try:
        return str(parse_number(normalise_number(value)))
    except CertificateNumberError as exc:
        raise InvalidInput(f"number: {exc}") from None


def json_object() -> dict:
    return as_object(request.get_json(silent=True, force=True))


def as_object(data: object) -> dict:
    if not isinstance(data, dict):
        raise InvalidInput(_("body: expected a JSON object"))
    return data


def batch_items(data: Mapping) -> list[str]:
    limit = current_app.config.get("REGISTRY_BATCH_MAX", MAX_BATCH)
    items = data.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= limit:
        raise InvalidInput(_("items: expected a list of 1 to %(max)d texts", max=limit))
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidInput(_("items[%(i)d]: expected a text (token, link or number)", i=i))
    return items


# --------------------------------------------------------------------------- routes


def server_time() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def answer(payload: dict, status: int = 200):
    response = jsonify({"server_time": server_time(), **payload})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(RegistryError)
def _registry_error(exc: RegistryError):
    return answer({"error": exc.code, "message": exc.message}, exc.status)


@bp.get("/certificates/<number>")
def certificate(number: str):
    """Status and public fields of a recorded certificate (name masked unless ``?name=``)."""
    number = check_number(number)
    name = request.args.get("name")
    if name is not None:
        name = check_text("name", name, limit=50)
    verdict = verify_one(number, cache=trust_cache())
    if verdict.recorded is None:
        raise NotFound(_("number: certificate %(number)s is not recorded", number=number))
    matches = None if name is None else name == verdict.recorded.certificate.holder_name
    return answer({**verdict.to_dict(show_name=bool(matches)), "holder_name_matches": matches})


@bp.post("/certificates/<number>/holder")
def certificate_holder(number: str):
    """Confirm the holder: does this full ID number belong to the certificate? Yes or no only."""
    number = check_number(number)
    id_number = check_id_number(json_object().get("id_number"))
    verdict = verify_one(number, cache=trust_cache())
    if verdict.recorded is None:
        raise NotFound(_("number: certificate %(number)s is not recorded", number=number))
    match = confirm_holder(verdict.recorded.certificate, id_number=id_number,
                           secret=id_hash_secret())  # fmt: skip
    return answer({"number": number, "match": match})


@bp.post("/verify")
def verify_batch():
    """Verify up to ``REGISTRY_BATCH_MAX`` tokens, links or numbers; one verdict each.

    Most requests never get here: :mod:`sync.registry.lean` answers them in front of Flask with
    :func:`batch_verdicts` too. This view takes the rest (a ``?lang=``, a session cookie …)."""
    return answer(batch_verdicts(request.get_json(silent=True, force=True)))


def batch_verdicts(data: object) -> dict:
    """The answer to a batch verification request's JSON (without ``server_time``)."""
    verdicts = verify_inputs(batch_items(as_object(data)), cache=trust_cache())
    results = [{"index": i, **v.to_dict()} for i, v in enumerate(verdicts)]
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    return {"count": len(results), "summary": counts, "results": results}


@bp.post("/candidates/lookup")
def candidate_lookup():
    """A candidate's own certificates, found by full name and full ID number together."""
    data = json_object()
    name = check_text("name", data.get("name"), limit=50)
    id_number = check_id_number(data.get("id_number"))
    with db.transaction() as session:
        found = find_by_holder(session, name=name, id_number=id_number, secret=id_hash_secret())
    certificates = [{**rc.to_dict(), "verify_url": f"/V/{rc.certificate.token}"} for rc in found]
    return answer({"count": len(certificates), "certificates": certificates})


@bp.get("/openapi.json")
def openapi_document():
    """This API (public and sync) as an OpenAPI 3.1 document."""
    from sync.registry import openapi

    response = jsonify(openapi.document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _on_register(state) -> None:
    from sync.registry import lean, limits, public

    public.setup(state.app)
    lean.install(state.app)
    limits.protect(state.app, [f"{bp.name}.{name}" for name in (
        "certificate", "certificate_holder", "verify_batch", "candidate_lookup",
        "openapi_document")])  # fmt: skip


bp.record_once(_on_register)
