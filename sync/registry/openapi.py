"""The registry's HTTP API as an OpenAPI 3.1 document, built here and served by the app.

``GET /api/v1/openapi.json`` serves :func:`document`; ``docs/registry-api.yaml`` is the same
document as YAML, regenerated with ``python -m sync.registry.openapi > docs/registry-api.yaml``
(a test fails when the two drift apart). Tags: ``public`` (anyone: verification, lookups),
``log`` (anyone: the transparency log and the trust list), ``sync`` (stations; every request
signed with RFC 9421 HTTP Message Signatures, see ``docs/sync-protocol.md``).
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from sync.registry.public_api import MAX_BATCH

STR: dict = {"type": "string"}
NSTR: dict = {"type": ["string", "null"]}
INT: dict = {"type": "integer", "minimum": 0}
TIME: dict = {"type": "string", "format": "date-time"}
B64: dict = {"type": "string", "description": "base64"}
STATUSES = ["valid", "revoked", "unrecorded", "mismatch", "invalid", "not_found"]
ERRORS = ["malformed", "unknown_version", "unknown_key", "bad_signature", "key_not_valid",
          "wrong_station", "unrecognised", "empty", "too_long"]  # fmt: skip


def obj(required: list[str] | None = None, **props: Any) -> dict:
    """An object schema; every property required unless ``required`` says otherwise. Extra
    properties are allowed (clients ignore fields they do not know)."""
    schema: dict = {"type": "object", "properties": props}
    if required is None:
        required = list(props)
    if required:
        schema["required"] = required
    return schema


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(name: str) -> dict:
    return {"oneOf": [ref(name), {"type": "null"}]}


def body(schema: dict, description: str = "") -> dict:
    return {"description": description or "OK", "content": {"application/json": {"schema": schema}}}


def errors(*codes: int) -> dict:
    words = {400: "Bad input: `message` names the field and why.", 401: "Signature refused "
             "(`error`: missing, malformed, unknown_key, bad_signature, digest_mismatch, stale, "
             "replayed).", 403: "Refused.", 404: "Not found.", 409: "Conflict.",
             413: "Body too large.", 429: "Rate limit exceeded; see `Retry-After`.",
             503: "The registry is not initialised."}  # fmt: skip
    return {str(c): body(ref("Error"), words[c]) for c in codes}


def schemas() -> dict:
    station = obj(code=STR, name=STR, city=STR)
    fields = obj(
        number=STR, holder_name=STR,
        holder_name_masked={"type": "boolean", "description": "true: first character only"},
        id_type=NSTR, id_number_masked=STR, occupation=NSTR, occupation_code=STR,
        direction=NSTR, level=STR, issuer=NSTR, issue_date={"type": "string", "format": "date"},
        programme_code=NSTR, programme_name=NSTR, station=nullable("Station"),
        recorded_at={"type": ["string", "null"], "format": "date-time"},
        leaf_index={"type": ["integer", "null"], "minimum": 0},
    )  # fmt: skip
    verdict = obj(
        input=STR, kind={"enum": ["token", "number", "unknown"]}, status={"enum": STATUSES},
        error={"enum": [*ERRORS, None], "description": "why an input is `invalid`"},
        message={"type": "string", "description": "what the status means, for people"},
        detail=NSTR, number=NSTR, certificate=nullable("CertificateFields"),
        revocation=nullable("Revocation"),
        verify_url={"type": ["string", "null"], "description": "`/V/<token>` for tokens"},
    )  # fmt: skip
    recorded = obj(
        number=STR, status={"enum": ["valid", "revoked"]}, holder_name=STR, id_type=STR,
        id_number_masked=STR, occupation=STR, occupation_code=STR, direction=STR, level=STR,
        issuer=STR, issue_date={"type": "string", "format": "date"}, programme_code=STR,
        programme_name=STR, station=ref("Station"), recorded_at=TIME, leaf_index=INT,
        revocation=nullable("Revocation"), verify_url=STR,
    )  # fmt: skip
    tree_head = obj(version=INT, tree_size=INT, timestamp_ms=INT, root_hash=B64, key_id=STR,
                    signature=B64)  # fmt: skip
    record = obj(format={"const": 1}, id=STR, kind=STR, created_at=TIME, payload={"type": "object"},
                 kid=STR, signature=STR)  # fmt: skip
    return {
        "Error": obj(error=STR, message=STR, server_time=TIME),
        "Station": station,
        "CertificateFields": fields,
        "Revocation": obj(revoked_at=TIME, reason=STR, origin={"enum": ["operator", "station"]}),
        "Verdict": verdict,
        "CertificateLookup": {"allOf": [verdict, obj(
            server_time=TIME, holder_name_matches={"type": ["boolean", "null"]})]},
        "VerifyRequest": obj(items={
            "type": "array", "minItems": 1, "maxItems": MAX_BATCH,
            "items": {"type": "string", "description": "QR token, /V/ link or number"}}),
        "VerifyResponse": obj(server_time=TIME, count=INT, summary={
            "type": "object", "additionalProperties": INT}, results={
            "type": "array", "items": {"allOf": [obj(index=INT), verdict]}}),
        "HolderRequest": obj(id_number={"type": "string", "minLength": 4, "maxLength": 32}),
        "HolderResponse": obj(server_time=TIME, number=STR, match={"type": "boolean"}),
        "CandidateLookupRequest": obj(
            name={"type": "string", "minLength": 1, "maxLength": 50},
            id_number={"type": "string", "minLength": 4, "maxLength": 32}),
        "CandidateLookupResponse": obj(server_time=TIME, count=INT, certificates={
            "type": "array", "items": recorded}),
        "TreeHead": tree_head,
        "SignedTrustList": obj(format={"const": 1}, trust_list={"type": "object"}, kid=STR,
                               signature=STR),
        "SyncRecord": record,
        "PushRequest": obj(batch=STR, records={"type": "array", "minItems": 1, "maxItems": 200,
                                               "items": ref("SyncRecord")}),
        "PushResponse": obj(server_time=TIME, tree_head=ref("TreeHead"), results={
            "type": "array", "items": obj(["id", "status"], id=NSTR,
                                          status={"enum": ["accepted", "duplicate", "rejected"]},
                                          receipt={"type": "object"}, reason=STR)}),
        "FeedResponse": obj(server_time=TIME, next=STR, more={"type": "boolean"}, events={
            "type": "array", "items": obj(["seq", "kind", "payload"], seq=INT, kind={
                "enum": ["revocation", "trust_list", "message", "bank_release"]}, at=TIME,
                payload={"type": "object"})}),
        "EnrollRequest": obj(token=STR, station_code={"type": "string", "pattern": "^[0-9]{6}$"},
                             station_name=STR, keys={"type": "array", "items": {"type": "object"}},
                             proof=STR),
        "EnrollResponse": obj(server_time=TIME, station_code=STR, root_kid=STR,
                              root_public_key=STR, trust_list=ref("SignedTrustList")),
    }  # fmt: skip


EXAMPLE_NUMBER = "S000144440301264000001"
EXAMPLE_ID = "440305199003010011"  # a well-formed, made-up resident ID number
NUMBER = {"name": "number", "in": "path", "required": True, "description": "22-character "
          "certificate number (人社鉴发〔2019〕2号)", "schema": {"type": "string"},
          "example": EXAMPLE_NUMBER}  # fmt: skip
SIGNED = [{"stationSignature": []}]


def op(tag: str, summary: str, responses: dict, *, request: dict | None = None,
       example: dict | None = None, parameters: list | None = None, security: list | None = None,
       **extra) -> dict:  # fmt: skip
    operation: dict = {"tags": [tag], "summary": summary, "responses": responses, **extra}
    if request is not None:
        media: dict = {"schema": request}
        if example is not None:
            media["example"] = example
        operation["requestBody"] = {"required": True, "content": {"application/json": media}}
    if parameters:
        operation["parameters"] = parameters
    operation["security"] = security or []
    return operation


def query(name: str, schema: dict, required: bool = False, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}  # fmt: skip


def paths() -> dict:
    def page(description: str) -> dict:
        return {"description": description, "content": {"text/html": {"schema": STR}}}

    html = {"200": page("The verify page (HTML, Chinese by default, ?lang=en)"),
            "404": page("Not found"), "429": page("Rate limit exceeded")}  # fmt: skip
    token = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "the QR token (base32, any case)"}  # fmt: skip
    return {
        "/v/{token}": {"get": op("public", "Verify page a certificate's QR code opens", html,
                                 parameters=[token], operationId="verifyPage")},
        "/api/v1/certificates/{number}": {"get": op(
            "public", "Status and public fields of a recorded certificate",
            {"200": body(ref("CertificateLookup"), "Recorded; the name is masked unless `name` "
                         "matches."), **errors(400, 404, 429)},
            parameters=[NUMBER, query("name", {"type": "string", "maxLength": 50}, description=
                                      "the holder's full name: answers whether it matches")],
            operationId="getCertificate")},
        "/api/v1/certificates/{number}/holder": {"post": op(
            "public", "Confirm the holder: does this full ID number belong to the certificate?",
            {"200": body(ref("HolderResponse")), **errors(400, 404, 429, 503)},
            request=ref("HolderRequest"), example={"id_number": EXAMPLE_ID}, parameters=[NUMBER],
            operationId="confirmHolder")},
        "/api/v1/verify": {"post": op(
            "public", f"Verify up to {MAX_BATCH} tokens, /V/ links or numbers",
            {"200": body(ref("VerifyResponse")), **errors(400, 429)},
            request=ref("VerifyRequest"), operationId="verifyBatch", example={"items": [
                EXAMPLE_NUMBER, "HTTPS://VERIFY.EXAMPLE.CN/V/AEGXG5BNGNTHC5RWNBSWIZLC"]})},
        "/api/v1/candidates/lookup": {"post": op(
            "public", "A candidate's certificates by full name and full ID number",
            {"200": body(ref("CandidateLookupResponse")), **errors(400, 429, 503)},
            request=ref("CandidateLookupRequest"), operationId="candidateLookup",
            example={"name": "欧阳娜", "id_number": EXAMPLE_ID})},
        "/api/v1/openapi.json": {"get": op("public", "This document", {"200": body(
            {"type": "object"})}, operationId="openapi")},
        "/.well-known/skillcert-trust.json": {"get": op(
            "log", "The signed trust list: every station key (kid, window) and revocations",
            {"200": body(ref("SignedTrustList")), **errors(503)}, operationId="trustList")},
        "/api/v1/keys/root": {"get": op("log", "The provincial root public key", {"200": body(
            obj(server_time=TIME, kid=STR, public_key=STR)), **errors(503)},
            operationId="rootKey")},
        "/api/v1/log/sth": {"get": op("log", "The newest signed tree head", {"200": body(
            obj(server_time=TIME, tree_head=ref("TreeHead"))), **errors(404)},
            operationId="treeHead")},
        "/api/v1/log/proof": {"get": op(
            "log", "Inclusion proof of a certificate's (or its revocation's) log leaf",
            {"200": body(obj(server_time=TIME, number=STR, kind=STR, leaf=STR, receipt=obj(
                leaf_index=INT, tree_size=INT, inclusion_proof={"type": "array", "items": B64}),
                tree_head=ref("TreeHead"))), **errors(400, 404)},
            parameters=[{**query("number", STR, True), "example": EXAMPLE_NUMBER},
                        query("kind", {"enum": ["certificate", "revocation"]}),
                        query("tree_size", INT)], operationId="inclusionProof")},
        "/api/v1/log/consistency": {"get": op(
            "log", "Consistency proof between two tree sizes",
            {"200": body(obj(server_time=TIME, first=INT, second=INT, consistency_proof={
                "type": "array", "items": B64})), **errors(400)},
            parameters=[query("first", INT, True), query("second", INT, True)],
            operationId="consistencyProof")},
        "/api/v1/enroll": {"post": op(
            "sync", "Enroll a station with its one-time token and a proof by its key",
            {"200": body(ref("EnrollResponse")), **errors(400, 403)},
            request=ref("EnrollRequest"), operationId="enroll")},
        "/api/v1/sync/push": {"post": op(
            "sync", "Push a batch of signed outbox records; one result per record, in order",
            {"200": body(ref("PushResponse")), **errors(400, 401, 413)},
            request=ref("PushRequest"), security=SIGNED, operationId="push")},
        "/api/v1/sync/feed": {"get": op(
            "sync", "Events after a cursor: revocations, trust lists, messages, bank releases",
            {"200": body(ref("FeedResponse")), **errors(400, 401)},
            parameters=[query("after", {"type": "string", "pattern": "^[A-Za-z0-9._~-]{1,200}$"}),
                        query("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
            security=SIGNED, operationId="feed")},
        "/api/v1/banks/{release_id}/package": {"get": op(
            "sync", "Download a published bank package (.skb)",
            {"200": {"description": "the package", "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}, **errors(401, 404)},
            parameters=[{"name": "release_id", "in": "path", "required": True, "schema": INT}],
            security=SIGNED, operationId="bankPackage")},
    }  # fmt: skip


SIGNATURE_DOC = """RFC 9421 HTTP Message Signatures with Ed25519 (label `sig1`, `alg="ed25519"`,
`tag="skillcert-sync/1"`), over `"@method" "@authority" "@path" "@query" "content-digest"
"x-skillcert-station"`, with `created`, `keyid` (the station key id) and a 16-byte `nonce`.
Send `Signature`, `Signature-Input`, `Content-Digest` (RFC 9530, `sha-256`, also for an empty
body) and `X-SkillCert-Station`. `created` must be within 300 s before / 60 s after the
registry's clock (every answer carries `server_time`); a `(keyid, nonce)` pair is accepted once
in 10 minutes. The key must be the named station's and valid today (Asia/Shanghai)."""


@functools.cache
def document() -> dict:
    """The OpenAPI 3.1 document (built once per process)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SkillCert provincial registry API", "version": "1.0",
            "summary": "Certificate verification for anyone; sync for enrolled stations.",
            "description": (
                "Public endpoints need no account and are rate-limited per IP (429 with "
                "`Retry-After`). Personal data: responses carry ID numbers only masked; a full "
                "ID number is accepted only to compare it with the keyed hash on record. Every "
                "JSON answer has `server_time`; errors are `{error, message, server_time}`, "
                "`message` in Chinese by default (`?lang=en` for English). Sync endpoints are "
                "described in docs/sync-protocol.md."),
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": "public", "description": "Verification and lookups, for anyone"},
                 {"name": "log", "description": "Transparency log and trust list"},
                 {"name": "sync", "description": "Stations (signed requests)"}],
        "paths": paths(),
        "components": {"schemas": schemas(), "securitySchemes": {"stationSignature": {
            "type": "apiKey", "in": "header", "name": "Signature",
            "description": SIGNATURE_DOC}}},
    }  # fmt: skip


def main() -> None:
    import yaml

    sys.stdout.write("# Generated by `python -m sync.registry.openapi`; do not edit by hand.\n")
    sys.stdout.write(yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=100))


if __name__ == "__main__":
    main()
