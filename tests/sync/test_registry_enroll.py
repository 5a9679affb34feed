"""Root key, stations, one-time enrollment tokens, enrollment and the signed trust list."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from sqlmodel import select

from certs import keys as key_tools
from certs.identity import SHANGHAI
from sync import protocol_keys
from sync.registry import db
from sync.registry import keys as root_keys
from sync.registry.models import EnrollmentToken, RootKey, Station, StationKeyRow
from tests.sync.registry_helpers import StationSim, add_station, init_registry


@pytest.fixture
def app(registry_app):
    init_registry(registry_app)
    return registry_app


def root_public(app):
    with app.app_context(), db.transaction() as session:
        return root_keys.root_public(session)


def test_init_makes_one_encrypted_root_key_and_keys_show(app):
    runner = app.test_cli_runner()
    again = runner.invoke(args=["init"])
    assert again.exit_code == 0 and "created" not in again.output.split("root key")[-1]
    with app.app_context(), db.transaction() as session:
        rows = list(session.exec(select(RootKey)))
    assert len(rows) == 1 and rows[0].kid.startswith("rg-")
    assert "ENCRYPTED PRIVATE KEY" in rows[0].private_pem
    with pytest.raises(key_tools.KeyLoadError):
        key_tools.load_private_pem(rows[0].private_pem, "not the passphrase")
    shown = runner.invoke(args=["keys", "show"])
    assert shown.exit_code == 0
    assert rows[0].kid in shown.output and "BEGIN PUBLIC KEY" in shown.output
    text = (Path(app.instance_path) / "config.py").read_text(encoding="utf-8")
    assert "ID_HASH_SECRET" in text and "ROOT_KEY_PASSPHRASE" in text


def test_wrong_passphrase_is_a_clear_error(app, monkeypatch):
    monkeypatch.setenv(root_keys.PASSPHRASE_ENV, "definitely-the-wrong-one")
    root_keys._cache.clear()
    with app.app_context(), db.transaction() as session, pytest.raises(root_keys.RootKeyError):
        root_keys.load_signer(session, passphrase=root_keys.passphrase_from(app.config))
    response = app.test_client().get("/.well-known/skillcert-trust.json")
    assert response.status_code == 503


def test_stations_add_prints_a_token_stored_only_as_a_hash(app):
    runner = app.test_cli_runner()
    out = runner.invoke(
        args=["stations", "add", "440301", "--name", "深圳示例考核站", "--city", "深圳市"]
    )
    assert out.exit_code == 0, out.output
    token = out.output.splitlines()[1].strip()
    assert len(token) == 52  # 32 bytes in base32
    with app.app_context(), db.transaction() as session:
        row = session.exec(select(EnrollmentToken)).one()
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert row.expires_at - row.created_at == dt.timedelta(days=7)
    dup = runner.invoke(args=["stations", "add", "440301", "--name", "x", "--city", "y"])
    assert dup.exit_code == 1 and "already exists" in dup.output
    bad = runner.invoke(args=["stations", "add", "44-301", "--name", "x", "--city", "y"])
    assert bad.exit_code == 1 and "station_code" in bad.output
    listed = runner.invoke(args=["stations", "list"])
    assert "440301" in listed.output and "pending" in listed.output


def test_enroll_stores_keys_and_returns_the_signed_trust_list(app):
    station = StationSim(app, "440301")
    body = station.enroll().get_json()
    kid, public = root_public(app)
    assert body["root_kid"] == kid
    assert key_tools.load_public_pem(body["root_public_key"]) == public
    trust = protocol_keys.verify_signed_trust_list(body["trust_list"], public)
    assert trust.get(station.kid).station_code == "440301"
    with app.app_context(), db.transaction() as session:
        st = session.exec(select(Station)).one()
        assert st.status == "enrolled" and st.enrolled_at is not None
        assert session.exec(select(StationKeyRow)).one().source == "enroll"
    listed = app.test_cli_runner().invoke(args=["stations", "list"])
    assert "enrolled" in listed.output and station.kid in listed.output


def test_well_known_trust_list_is_signed_by_the_root_key(app):
    first, second = StationSim(app, "440301"), StationSim(app, "440302")
    first.enroll()
    second.enroll()
    response = app.test_client().get("/.well-known/skillcert-trust.json")
    assert response.status_code == 200
    trust = protocol_keys.verify_signed_trust_list(response.get_json(), root_public(app)[1])
    assert set(trust.keys) == {first.kid, second.kid}
    assert trust.issued_at is not None
    tampered = response.get_json()
    tampered["trust_list"]["keys"][0]["valid_until"] = "2026-01-02"
    with pytest.raises(protocol_keys.ProtocolError):
        protocol_keys.verify_signed_trust_list(tampered, root_public(app)[1])


def test_a_token_works_once(app):
    station = StationSim(app, "440301")
    token = add_station(app, "440301")
    station.enroll(token)
    again = station.client.post("/api/v1/enroll", json=station.enroll_body(token))
    assert again.status_code == 403
    assert "already used" in again.get_json()["message"]


def test_expired_unknown_and_foreign_tokens_are_refused(app):
    token = add_station(app, "440301")
    other = add_station(app, "440302")
    station = StationSim(app, "440301")
    wrong_station = station.client.post("/api/v1/enroll", json=station.enroll_body(other))
    assert wrong_station.status_code == 403 and "token" in wrong_station.get_json()["message"]
    unknown = station.client.post("/api/v1/enroll", json=station.enroll_body("A" * 52))
    assert unknown.status_code == 403
    with app.app_context(), db.transaction() as session:
        for row in session.exec(select(EnrollmentToken)):
            row.expires_at = row.created_at - dt.timedelta(seconds=1)
            session.add(row)
    expired = station.client.post("/api/v1/enroll", json=station.enroll_body(token))
    assert expired.status_code == 403 and "expired" in expired.get_json()["message"]
    reissued = app.test_cli_runner().invoke(args=["stations", "token", "440301"])
    station.enroll(reissued.output.splitlines()[1].strip())


def test_a_proof_by_another_key_or_for_another_token_is_refused(app):
    token = add_station(app, "440301")
    station = StationSim(app, "440301")
    body = station.enroll_body(token)
    body["proof"] = protocol_keys.make_enrollment_proof(
        key_tools.generate(), token=token, station_code="440301"
    )
    refused = station.client.post("/api/v1/enroll", json=body)
    assert refused.status_code == 403 and refused.get_json()["error"] == "bad_signature"
    with app.app_context(), db.transaction() as session:
        assert session.exec(select(StationKeyRow)).first() is None
        assert session.exec(select(EnrollmentToken)).one().used_at is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"station_code": "44030"}, "station_code"),
        ({"keys": []}, "keys"),
        (
            {"keys": [{"kid": "st-x", "public_key": "not a pem", "valid_from": "2026-01-01"}]},
            "keys[0].public_key",
        ),
    ],
)
def test_malformed_enrollment_names_the_field(app, change, field):
    token = add_station(app, "440301")
    station = StationSim(app, "440301")
    response = station.client.post("/api/v1/enroll", json={**station.enroll_body(token), **change})
    assert response.status_code == 400
    assert response.get_json()["message"].startswith(field)
    assert "server_time" in response.get_json()


def test_re_enrollment_with_a_new_key_closes_the_old_ones(app):
    station = StationSim(app, "440301")
    station.enroll()
    old_kid = station.kid
    rebuilt = StationSim(app, "440301")  # the station PC was replaced: a new key
    reissued = app.test_cli_runner().invoke(args=["stations", "token", "440301"])
    rebuilt.enroll(reissued.output.splitlines()[1].strip())
    trust = protocol_keys.verify_signed_trust_list(
        app.test_client().get("/.well-known/skillcert-trust.json").get_json(),
        root_public(app)[1],
    )
    today = dt.datetime.now(dt.UTC).astimezone(SHANGHAI).date()
    assert trust.get(old_kid).valid_until == today
    assert trust.get(rebuilt.kid).valid_until is None
    assert rebuilt.feed().status_code == 200
