"""``POST /api/v1/verify`` answered in front of Flask (``sync.registry.lean``): the same answer
as the Flask view, one rate-limit budget for both, and everything unusual left to Flask."""

from __future__ import annotations

import json

import pytest

from sync.registry import create_app, lean
from tests.sync.registry_helpers import init_registry
from tests.sync.test_public_verify import Seeded, register_public

VARYING = {"Date", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"}


@pytest.fixture
def seeded(registry_app) -> Seeded:
    registry_app.config["REGISTRY_LIMIT_BATCH"] = "1000 per minute"
    register_public(registry_app)
    init_registry(registry_app)
    return Seeded(registry_app)


@pytest.fixture
def flask_calls(seeded) -> list[int]:
    """Counts the requests that reach the Flask view."""
    calls: list[int] = []
    view = seeded.app.view_functions[lean.ENDPOINT]

    def counted(*args, **kwargs):
        calls.append(1)
        return view(*args, **kwargs)

    seeded.app.view_functions[lean.ENDPOINT] = counted
    return calls


def _post(client, body: bytes, query: str = "", address: str = "10.0.0.1", **environ):
    return client.post(f"/api/v1/verify{query}", data=body, content_type="application/json",
                       environ_overrides={"REMOTE_ADDR": address, **environ})  # fmt: skip


def _comparable(response) -> tuple:
    data = response.get_json(silent=True)
    if isinstance(data, dict):
        data.pop("server_time", None)
    headers = sorted((k, v) for k, v in response.headers.items() if k not in VARYING)
    return response.status_code, data, headers, sorted(VARYING & set(response.headers.keys()))


def test_lean_answers_are_the_flask_views_answers(seeded, flask_calls):
    valid, revoked = seeded.issue(1), seeded.issue(2)
    seeded.revoke(seeded.number(2))
    offline = seeded.issue(3, push=False)
    bodies = [
        {"items": [valid, revoked, offline, seeded.number(1), seeded.number(9),
                   valid[:-5] + "AAAAA", "not a certificate", "  ", "https://x.cn/V/" + valid]},
        {"items": []},
        {"items": ["a", 7]},
        {"tokens": [valid]},
        [1],
    ]  # fmt: skip
    raw = [json.dumps(b, ensure_ascii=False).encode() for b in bodies] + [b"{not json", b"\xff"]
    client = seeded.app.test_client(use_cookies=False)
    for body in raw:
        before = len(flask_calls)
        lean_answer = _post(client, body)
        assert len(flask_calls) == before, body  # answered in front of Flask
        flask_answer = _post(client, body, "?via=flask")  # a query string: Flask's view
        assert len(flask_calls) == before + 1, body
        assert _comparable(lean_answer) == _comparable(flask_answer), body
        assert lean_answer.headers["X-RateLimit-Limit"] == "1000"
    statuses = [r["status"] for r in _post(client, raw[0]).get_json()["results"]]
    assert statuses == ["valid", "revoked", "unrecorded", "valid", "not_found", "invalid",
                        "invalid", "invalid", "valid"]  # fmt: skip
    assert _post(client, raw[1]).get_json()["message"] == "items: 应为包含 1–100 个文本的数组"


def test_unusual_requests_go_on_to_flask(seeded, flask_calls):
    token = seeded.issue(1)
    body = json.dumps({"items": [token]}).encode()
    client = seeded.app.test_client()
    english = _post(client, json.dumps({"items": []}).encode(), "?lang=en")
    assert english.get_json()["message"] == "items: expected a list of 1 to 100 texts"
    assert len(flask_calls) == 1
    # The language is remembered in the session cookie: Flask reads it, in English.
    remembered = _post(client, body)
    assert len(flask_calls) == 2
    assert remembered.get_json()["results"][0]["message"].startswith("Genuine")
    # No length stated, or too long for the lean path.
    bare = seeded.app.test_client(use_cookies=False)
    unstated = _post(bare, body, CONTENT_LENGTH="")
    assert len(flask_calls) == 3 and unstated.get_json()["error"] == "malformed"
    big = json.dumps({"items": [token], "pad": "x" * lean.MAX_BODY}).encode()
    assert _post(bare, big).get_json()["summary"] == {"valid": 1}
    assert len(flask_calls) == 4
    assert _post(bare, body).get_json()["summary"] == {"valid": 1}
    assert len(flask_calls) == 4


def test_one_budget_for_both_paths(seeded, flask_calls):
    seeded.app.config["REGISTRY_LIMIT_BATCH"] = "3 per minute"
    token = seeded.issue(1)
    body = json.dumps({"items": [token]}).encode()
    client = seeded.app.test_client(use_cookies=False)
    assert _post(client, body).status_code == 200
    assert _post(client, body, "?via=flask").status_code == 200
    last = _post(client, body)
    assert last.status_code == 200 and last.headers["X-RateLimit-Remaining"] == "0"
    refused = _post(client, body)
    assert refused.status_code == 429 and refused.get_json()["error"] == "rate_limited"
    assert "请求过于频繁" in refused.get_json()["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    via_flask = _post(client, body, "?via=flask")
    assert via_flask.status_code == 429 and len(flask_calls) == 2
    assert _comparable(refused) == _comparable(via_flask)
    assert _post(client, body, address="192.0.2.1").status_code == 200  # another address


def test_a_failing_storage_still_counts_the_budget_in_memory(registry_url, tmp_path, caplog):
    app = create_app({"TESTING": True, "DATABASE_URL": registry_url,
                      "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:9/0",  # nothing listens
                      "REGISTRY_LIMIT_BATCH": "2 per minute"},
                     instance_path=str(tmp_path / "registry-instance"))  # fmt: skip
    try:
        init_registry(app)
        client = app.test_client(use_cookies=False)
        body = json.dumps({"items": ["not a certificate"]}).encode()
        answers = [_post(client, body) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[0].get_json()["summary"] == {"invalid": 1}
        assert answers[1].headers["X-RateLimit-Remaining"] == "0"
        logged = [r for r in caplog.records if "counting in process memory" in r.getMessage()]
        assert len(logged) == 1  # once a minute at most, not once a request
        # Ten seconds after a failure the storage is tried again (and fails again here).
        fallback = app.extensions["registry_limiter_fallback"]
        fallback.failed_at -= fallback.RETRY_SECONDS
        retried_from = fallback.failed_at
        assert _post(client, body).status_code == 429  # still counted, in memory
        assert fallback.failed_at > retried_from
    finally:
        app.extensions["registry_engine"].dispose()
