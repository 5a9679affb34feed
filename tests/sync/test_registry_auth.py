"""Signed requests (RFC 9421): who may push and pull, replays, stale clocks, nonce storage."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from certs import keys as key_tools
from sync.registry import db
from sync.registry.models import RequestNonce, SyncRecord
from sync.registry.services import auth
from tests.sync.registry_helpers import StationSim, add_station


def error(response) -> str:
    assert response.status_code == 401, response.get_json()
    body = response.get_json()
    assert body["server_time"].endswith("Z")
    return body["error"]


def test_unsigned_requests_are_refused(app, station):
    client = app.test_client()
    assert error(client.post("/api/v1/sync/push", json={"batch": "x", "records": []})) == "missing"
    assert error(client.get("/api/v1/sync/feed")) == "missing"
    assert error(client.get("/api/v1/banks/1/package")) == "missing"


def test_a_replayed_request_is_refused_and_stores_nothing(app, station):
    prepared = station.prepare(
        "POST",
        "/api/v1/sync/push",
        body={"batch": "00000000-0000-4000-8000-000000000001", "records": [station.certificate()]},
    )
    assert station.send(prepared).status_code == 200
    assert error(station.send(prepared)) == "replayed"
    with app.app_context(), db.transaction() as session:
        assert len(session.exec(select(SyncRecord)).all()) == 1
        assert len(session.exec(select(RequestNonce)).all()) == 1


def test_stale_and_future_requests_tell_the_station_the_time(app, station):
    now = dt.datetime.now(dt.UTC)
    response = station.signed("GET", "/api/v1/sync/feed", created=now - dt.timedelta(minutes=6))
    assert error(response) == "stale"
    server_time = dt.datetime.fromisoformat(response.get_json()["server_time"])
    assert abs(server_time - now) < dt.timedelta(minutes=1)
    ahead = station.signed("GET", "/api/v1/sync/feed", created=now + dt.timedelta(minutes=2))
    assert error(ahead) == "stale"
    assert (
        station.signed(
            "GET", "/api/v1/sync/feed", created=now - dt.timedelta(minutes=4)
        ).status_code
        == 200
    )


def test_keys_must_be_the_named_stations_and_enrolled(app, station):
    stranger = key_tools.generate()
    kid = key_tools.key_id(stranger.public_key(), "st-")
    assert error(station.signed("GET", "/api/v1/sync/feed", kid=kid, private_key=stranger)) == (
        "unknown_key"
    )
    other = StationSim(app, "440302")
    other.enroll()
    impostor = StationSim(app, "440301")
    impostor.kid, impostor.private_key = other.kid, other.private_key  # 440302's key as 440301
    assert error(impostor.feed()) == "unknown_key"
    pending = StationSim(app, "440303")
    add_station(app, "440303")  # recorded, never enrolled
    assert error(pending.feed()) == "unknown_key"
    # Signed by the right key id but with another private key.
    assert error(station.signed("GET", "/api/v1/sync/feed", private_key=stranger)) == (
        "bad_signature"
    )


def test_a_changed_body_or_query_breaks_the_signature(app, station):
    prepared = station.prepare(
        "POST",
        "/api/v1/sync/push",
        body={"batch": "00000000-0000-4000-8000-000000000002", "records": [station.certificate()]},
    )
    changed = prepared.body.replace(b"0002", b"0003")
    assert error(station.send(prepared, body=changed)) == "digest_mismatch"
    feed = station.prepare("GET", "/api/v1/sync/feed?after=0")
    feed.url = feed.url.replace("after=0", "after=5")
    assert error(station.send(feed)) == "bad_signature"


def test_nonces_are_purged_after_the_replay_window(app, station):
    for _ in range(3):
        assert station.feed().status_code == 200
    with app.app_context(), db.transaction() as session:
        assert auth.purge_nonces(session) == 0
        later = dt.datetime.now(dt.UTC) + auth.NONCE_TTL + dt.timedelta(seconds=1)
        assert auth.purge_nonces(session, now=later) == 3
        assert session.exec(select(RequestNonce)).first() is None
        assert not auth.remember_nonce(session, "st-a", "n1", later)
        assert auth.remember_nonce(session, "st-a", "n1", later)
        assert not auth.remember_nonce(session, "st-b", "n1", later)
