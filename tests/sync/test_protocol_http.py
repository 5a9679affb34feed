"""Signed requests (RFC 9421): signing with requests, verifying on the registry side, every error
code, a real HTTP round trip on loopback, and the RFC's own Ed25519 test vector."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading

import pytest
import requests
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from flask import Flask, jsonify, request
from http_message_signatures import (
    ContentDigest,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
    algorithms,
)
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import make_server

from certs import keys
from certs.trust import StationKey, TrustList
from sync.protocol_http import (
    COVERED_COMPONENTS,
    MAX_AGE,
    STATION_HEADER,
    RequestAuthError,
    StationAuth,
    sign_request,
)
from sync.protocol_messages import parse_error_response
from sync.protocol_verify import trust_list_lookup, verify_request, verify_wsgi_request, wsgi_url

NOW = dt.datetime(2026, 12, 5, 8, 30, tzinfo=dt.UTC)
URL = "https://registry.example/api/v1/sync/push"


def kid_of(private) -> str:
    return keys.key_id(private.public_key(), "st-")


@pytest.fixture(scope="module")
def key_a():
    return keys.generate()


@pytest.fixture(scope="module")
def key_b():
    return keys.generate()


@pytest.fixture(scope="module")
def key_old():
    return keys.generate()


@pytest.fixture(scope="module")
def trust(key_a, key_b, key_old) -> TrustList:
    return TrustList(
        [
            StationKey(kid_of(key_a), "440301", key_a.public_key(), dt.date(2026, 7, 1)),
            StationKey(kid_of(key_b), "440302", key_b.public_key(), dt.date(2026, 1, 1)),
            StationKey(
                kid_of(key_old),
                "440301",
                key_old.public_key(),
                dt.date(2025, 1, 1),
                dt.date(2026, 6, 30),
            ),
        ]
    )


class Nonces:
    """What the registry keeps in its database: (kid, nonce) pairs already seen."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()
        self.calls = 0

    def __call__(self, kid: str, nonce: str, created: dt.datetime) -> bool:
        self.calls += 1
        if (kid, nonce) in self.seen:
            return True
        self.seen.add((kid, nonce))
        return False


def signed(key, *, method="POST", url=URL, json_body=None, station="440301", created=NOW, **kw):
    if method == "POST" and json_body is None and "data" not in kw:
        json_body = {"batch": "b", "records": []}
    prepared = requests.Request(method, url, json=json_body, **kw).prepare()
    return sign_request(
        prepared, station_code=station, kid=kid_of(key), private_key=key, created=created
    )


def verify(prepared, trust, *, nonces=None, now=NOW, **changes):
    parts = {
        "method": prepared.method,
        "url": prepared.url,
        "headers": dict(prepared.headers),
        "body": prepared.body or b"",
    }
    parts.update(changes)
    return verify_request(
        parts["method"],
        parts["url"],
        parts["headers"],
        parts["body"],
        key_lookup=trust_list_lookup(trust),
        seen_nonce=nonces if nonces is not None else Nonces(),
        now=now,
    )


def code_of(prepared, trust, **kw) -> str:
    with pytest.raises(RequestAuthError) as caught:
        verify(prepared, trust, **kw)
    assert caught.value.server_time is not None
    return caught.value.code


# --------------------------------------------------------------------------- signing


def test_signed_post_and_get_verify(key_a, trust):
    post = signed(key_a)
    result = verify(post, trust)
    assert (result.station_code, result.kid) == ("440301", kid_of(key_a))
    assert result.created == NOW and result.body == post.body
    get = signed(key_a, method="GET", url=URL.replace("push", "feed") + "?after=17&limit=100")
    assert get.headers["Content-Digest"] == ContentDigest.create(b"")  # bodiless: empty digest
    assert verify(get, trust).body == b""


def test_signature_headers_follow_the_profile(key_a):
    prepared = signed(key_a)
    signature_input = prepared.headers["Signature-Input"]
    covered = " ".join(f'"{c}"' for c in COVERED_COMPONENTS)
    assert signature_input.startswith(f"sig1=({covered});created={int(NOW.timestamp())};")
    assert f'keyid="{kid_of(key_a)}"' in signature_input
    assert 'alg="ed25519"' in signature_input and 'tag="skillcert-sync/1"' in signature_input
    nonce = signature_input.split('nonce="')[1].split('"')[0]
    assert len(base64.urlsafe_b64decode(nonce + "==")) == 16
    body_digest = base64.b64encode(hashlib.sha256(prepared.body).digest()).decode()
    assert prepared.headers["Content-Digest"] == f"sha-256=:{body_digest}:"
    assert prepared.headers[STATION_HEADER] == "440301"


def test_signature_base_of_our_profile_is_reproducible_without_the_library(key_a):
    """Another implementation can build the same base from the RFC's rules alone."""
    prepared = signed(key_a, url="https://Registry.Example:443/api/v1/sync/push")
    params = prepared.headers["Signature-Input"].removeprefix("sig1=")
    base = "\n".join(
        [
            '"@method": POST',
            '"@authority": registry.example',  # lower-cased, default port dropped
            '"@path": /api/v1/sync/push',
            '"@query": ?',
            f'"content-digest": {prepared.headers["Content-Digest"]}',
            '"x-skillcert-station": 440301',
            f'"@signature-params": {params}',
        ]
    )
    signature = base64.b64decode(prepared.headers["Signature"].removeprefix("sig1=:").rstrip(":"))
    assert key_a.sign(base.encode()) == signature  # Ed25519 is deterministic


def test_resigning_a_retry_replaces_signature_and_nonce(key_a, trust):
    prepared = signed(key_a)
    first = prepared.headers["Signature-Input"]
    sign_request(prepared, station_code="440301", kid=kid_of(key_a), private_key=key_a, created=NOW)
    assert prepared.headers["Signature-Input"] != first
    assert prepared.headers["Signature-Input"].count("sig1=") == 1
    nonces = Nonces()
    verify(prepared, trust, nonces=nonces)
    assert len(nonces.seen) == 1


def test_text_body_is_sent_as_utf8_and_streams_are_refused(key_a, trust):
    prepared = requests.Request("POST", URL, data="批次 ✓").prepare()
    sign_request(prepared, station_code="440301", kid=kid_of(key_a), private_key=key_a, created=NOW)
    assert prepared.body == "批次 ✓".encode() and prepared.headers["Content-Length"] == "10"
    verify(prepared, trust)
    streamed = requests.Request("POST", URL, data=iter([b"a", b"b"])).prepare()
    with pytest.raises(ValueError, match="whole body"):
        sign_request(streamed, station_code="440301", kid=kid_of(key_a), private_key=key_a)


def test_station_auth_signs_with_the_corrected_clock(key_a, trust):
    offset = dt.timedelta(seconds=-200)
    auth = StationAuth(
        station_code="440301", kid=kid_of(key_a), private_key=key_a, clock=lambda: NOW + offset
    )
    prepared = auth(requests.Request("GET", URL).prepare())
    assert verify(prepared, trust).created == NOW + offset


# --------------------------------------------------------------------------- error codes


def test_tampered_body_is_a_digest_mismatch(key_a, trust):
    prepared = signed(key_a)
    assert code_of(prepared, trust, body=prepared.body.replace(b"[]", b"[1]")) == "digest_mismatch"


@pytest.mark.parametrize(
    "changes",
    [
        {"url": URL.replace("/push", "/feed")},
        {"url": URL + "?after=1"},
        {"url": URL.replace("registry.example", "evil.example")},
        {"method": "PUT"},
    ],
    ids=["path", "query", "authority", "method"],
)
def test_tampered_request_line_is_a_bad_signature(key_a, trust, changes):
    assert code_of(signed(key_a), trust, **changes) == "bad_signature"


def test_swapped_body_and_digest_is_a_bad_signature(key_a, trust):
    prepared = signed(key_a)
    other = b'{"batch": "evil", "records": []}'
    headers = {**prepared.headers, "Content-Digest": ContentDigest.create(other)}
    assert code_of(prepared, trust, headers=headers, body=other) == "bad_signature"


def test_stale_and_future_requests(key_a, trust):
    for age, code in [(299, None), (301, "stale"), (-59, None), (-61, "stale")]:
        prepared = signed(key_a, created=NOW - dt.timedelta(seconds=age))
        if code is None:
            verify(prepared, trust)
        else:
            with pytest.raises(RequestAuthError) as caught:
                verify(prepared, trust)
            assert caught.value.code == "stale"
            assert caught.value.server_time == NOW
            assert caught.value.to_dict()["server_time"] == "2026-12-05T08:30:00Z"
            assert parse_error_response(caught.value.to_dict()).error == "stale"
    prepared = signed(key_a, created=NOW - dt.timedelta(seconds=400))
    result = verify_request(
        prepared.method, prepared.url, prepared.headers, prepared.body,
        key_lookup=trust_list_lookup(trust), seen_nonce=Nonces(), now=NOW,
        max_age=dt.timedelta(seconds=600),
    )  # fmt: skip
    assert NOW - result.created > MAX_AGE


def test_same_nonce_twice_is_replayed_and_failures_spend_no_nonce(key_a, trust):
    nonces = Nonces()
    prepared = signed(key_a)
    assert code_of(prepared, trust, nonces=nonces, url=URL + "x") == "bad_signature"
    assert nonces.calls == 0
    verify(prepared, trust, nonces=nonces)
    assert code_of(prepared, trust, nonces=nonces) == "replayed"
    verify(signed(key_a), trust, nonces=nonces)  # a fresh signature has a fresh nonce


def test_keys_that_may_not_sign(key_a, key_b, key_old, trust):
    stranger = keys.generate()
    assert code_of(signed(stranger), trust) == "unknown_key"
    # another station's key, claiming to be 440301:
    assert code_of(signed(key_b, station="440301"), trust) == "unknown_key"
    # the station header changed in transit points at a station the key is not:
    changed = signed(key_a)
    headers = {**changed.headers, STATION_HEADER: "440302"}
    assert code_of(changed, trust, headers=headers) == "unknown_key"
    # a rotated-out key (window ended 2026-06-30):
    with pytest.raises(RequestAuthError, match="valid 2025-01-01 至 2026-06-30"):
        verify(signed(key_old), trust)


@pytest.mark.parametrize(
    "header", ["Signature", "Signature-Input", "Content-Digest", STATION_HEADER]
)
def test_missing_headers(key_a, trust, header):
    prepared = signed(key_a)
    headers = {k: v for k, v in prepared.headers.items() if k.lower() != header.lower()}
    assert code_of(prepared, trust, headers=headers) == "missing"


def library_signed(key, **options):
    """Signed by the library directly, to build requests outside our profile."""
    prepared = requests.Request("POST", URL, json={}).prepare()
    prepared.headers[STATION_HEADER] = "440301"
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={kid_of(key): key}),
    )
    settings = {
        "key_id": kid_of(key), "created": NOW, "nonce": "A" * 22, "label": "sig1",
        "tag": "skillcert-sync/1", "covered_component_ids": COVERED_COMPONENTS, "body": prepared.body,
    }  # fmt: skip
    settings.update(options)
    signer.sign(prepared, **settings)
    return prepared


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"label": "pyhms"}, "labelled"),
        ({"covered_component_ids": ("@method", "@authority", "content-digest")}, "covered"),
        ({"tag": "other-app"}, "tag"),
        ({"nonce": "short"}, "nonce"),
        ({"nonce": None}, "parameters"),
        ({"include_alg": False}, "parameters"),
        ({"expires": NOW + dt.timedelta(minutes=1)}, "parameters"),
    ],
)
def test_requests_outside_the_profile_are_malformed(key_a, trust, options, words):
    assert verify(library_signed(key_a), trust)  # the helper itself makes valid requests
    with pytest.raises(RequestAuthError, match=words) as caught:
        verify(library_signed(key_a, **options), trust)
    assert caught.value.code == "malformed"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Signature-Input", "sig1=("),
        ("Signature", "sig1=:AAAA:"),
        ("Content-Digest", "sha-512=:" + base64.b64encode(bytes(64)).decode() + ":"),
        (STATION_HEADER, "44 03 01"),
        ("Signature-Input", 'sig1=(1 "@method");created=1;keyid="k";nonce="n";alg="a";tag="t"'),
    ],
)
def test_garbled_headers_are_malformed(key_a, trust, header, value):
    prepared = signed(key_a)
    assert code_of(prepared, trust, headers={**prepared.headers, header: value}) == "malformed"


def test_absurd_created_is_malformed(key_a, trust):
    prepared = signed(key_a)
    created = f"created={int(NOW.timestamp())}"
    absurd = prepared.headers["Signature-Input"].replace(created, "created=99999999999999999")
    headers = {**prepared.headers, "Signature-Input": absurd}
    assert code_of(prepared, trust, headers=headers) == "malformed"


# --------------------------------------------------------------------------- WSGI URL


def test_wsgi_url_uses_the_raw_request_line():
    environ = {
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "registry.example",
        "RAW_URI": "/api/v1/sync/feed/a%2Fb?after=x%20y",
        "PATH_INFO": "/api/v1/sync/feed/a/b",
        "QUERY_STRING": "after=x%20y",
    }
    assert wsgi_url(environ) == "http://registry.example/api/v1/sync/feed/a%2Fb?after=x%20y"
    environ.pop("RAW_URI")
    environ["PATH_INFO"] = "/站点".encode().decode("latin-1")  # WSGI: bytes as latin-1
    assert wsgi_url(environ) == "http://registry.example/%E7%AB%99%E7%82%B9?after=x%20y"
    environ["REQUEST_URI"] = "http://registry.example/api?x=1"  # absolute-form via a proxy
    assert wsgi_url(environ) == "http://registry.example/api?x=1"


# --------------------------------------------------------------------------- real HTTP


@pytest.fixture
def registry(trust):
    """A tiny Flask app on a loopback port whose view verifies like the registry will."""
    app = Flask("registry-under-test")
    nonces = Nonces()

    @app.route("/api/v1/sync/<path:rest>", methods=["GET", "POST"])
    def sync(rest):
        try:
            verified = verify_wsgi_request(
                request, key_lookup=trust_list_lookup(trust), seen_nonce=nonces
            )
        except RequestAuthError as exc:
            return jsonify(exc.to_dict()), exc.status
        return jsonify(station=verified.station_code, kid=verified.kid, rest=rest,
                       args=request.args, size=len(verified.body))  # fmt: skip

    proxied = ProxyFix(app, x_host=1)
    servers = {}
    for name, wsgi in [("direct", app), ("proxied", proxied)]:
        server = make_server("127.0.0.1", 0, wsgi)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers[name] = (server, thread)
    yield {name: f"http://127.0.0.1:{s.server_port}" for name, (s, _) in servers.items()}
    for server, thread in servers.values():
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_http_round_trip_valid_then_replayed(registry, key_a):
    session = requests.Session()
    session.auth = StationAuth(station_code="440301", kid=kid_of(key_a), private_key=key_a)
    base = registry["direct"]
    response = session.post(
        f"{base}/api/v1/sync/push", json={"batch": "b", "records": []}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.json()["station"] == "440301" and response.json()["kid"] == kid_of(key_a)

    replay = session.send(response.request, timeout=10)  # the same signed bytes again
    assert replay.status_code == 401
    assert replay.json()["error"] == "replayed"
    assert parse_error_response(replay.json()).server_time is not None

    feed = session.get(
        f"{base}/api/v1/sync/feed/a%2Fb", params={"after": "x y", "limit": 5}, timeout=10
    )
    assert feed.status_code == 200, feed.text
    assert feed.json()["rest"] == "feed/a/b" and feed.json()["args"] == {
        "after": "x y",
        "limit": "5",
    }


def test_http_tampered_body_and_stale_clock(registry, key_a):
    base = registry["direct"]
    prepared = requests.Request("POST", f"{base}/api/v1/sync/push", json={"records": []}).prepare()
    sign_request(prepared, station_code="440301", kid=kid_of(key_a), private_key=key_a)
    prepared.body = prepared.body.replace(b"[]", b"[0]")
    prepared.headers["Content-Length"] = str(len(prepared.body))
    with requests.Session() as session:
        assert session.send(prepared, timeout=10).json()["error"] == "digest_mismatch"
        late = StationAuth(
            station_code="440301", kid=kid_of(key_a), private_key=key_a,
            clock=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10),
        )  # fmt: skip
        stale = session.get(f"{base}/api/v1/sync/feed", auth=late, timeout=10)
    assert stale.status_code == 401 and stale.json()["error"] == "stale"
    assert "server_time" in stale.json()


def test_behind_a_proxy_the_original_host_must_reach_the_registry(registry, key_a):
    """The client signs https://registry.example/…; a proxy forwards to the loopback port."""

    def through_proxy(upstream):
        prepared = requests.Request(
            "POST", "https://registry.example/api/v1/sync/push", json={}
        ).prepare()
        sign_request(prepared, station_code="440301", kid=kid_of(key_a), private_key=key_a)
        prepared.url = f"{upstream}/api/v1/sync/push"  # what the proxy connects to
        prepared.headers["X-Forwarded-Host"] = "registry.example"
        with requests.Session() as session:
            return session.send(prepared, timeout=10)

    assert through_proxy(registry["proxied"]).status_code == 200  # ProxyFix(x_host=1)
    refused = through_proxy(registry["direct"])  # Host is 127.0.0.1:port: not what was signed
    assert refused.status_code == 401 and refused.json()["error"] == "bad_signature"


# --------------------------------------------------------------------------- RFC 9421 vector

# RFC 9421 Appendix B.1.4 (test-key-ed25519) and B.2.6 (the test-request signed with it).
RFC_KEY = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
"""
RFC_BODY = b'{"hello": "world"}'
RFC_HEADERS = {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
    "Content-Length": "18",
}
RFC_BASE = """\
"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@authority": example.com
"content-type": application/json
"content-length": 18
"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");\
created=1618884473;keyid="test-key-ed25519\""""
RFC_SIGNATURE = (
    "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
)


def test_rfc9421_ed25519_vector_b26():
    key = load_pem_private_key(RFC_KEY, None)
    prepared = requests.Request(
        "POST", "http://example.com/foo?param=Value&Pet=dog", headers=RFC_HEADERS, data=RFC_BODY
    ).prepare()
    ContentDigest.verify(prepared.headers["Content-Digest"], RFC_BODY)  # RFC 9530 digest holds
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={"test-key-ed25519": key}),
    )
    options = {
        "key_id": "test-key-ed25519",
        "created": dt.datetime.fromtimestamp(1618884473, dt.UTC),
        "label": "sig-b26",
        "include_alg": False,
        "use_existing_digest": True,
        "covered_component_ids": (
            "date",
            "@method",
            "@path",
            "@authority",
            "content-type",
            "content-length",
        ),
    }
    assert signer.prepare(prepared, **options).signature_base.decode() == RFC_BASE
    signer.sign(prepared, **options)
    assert prepared.headers["Signature"] == f"sig-b26=:{RFC_SIGNATURE}:"
    assert json.loads(prepared.body) == {"hello": "world"}

    # …and the RFC's headers verify with the same library, through the same kind of view.
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(
            public_keys={"test-key-ed25519": key.public_key()}, private_keys={}
        ),
    )
    results = verifier.verify(prepared, max_age=None, expect_tag=None, expect_label=None)
    assert results[0].parameters["keyid"] == "test-key-ed25519"
