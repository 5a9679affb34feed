"""Revocations (by the issuing station through push, by an operator) and key rotation."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select

from certs import keys as key_tools
from certs.identity import SHANGHAI
from sync import protocol_keys, tree_heads
from sync.registry import db
from sync.registry import keys as root_keys
from sync.registry.models import LogLeaf, Revocation, StationKeyRow
from sync.registry.services import records, revocations
from sync.registry.services.errors import NotFound, RevocationError
from tests.sync.registry_helpers import StationSim, results


def signed_trust(app):
    with app.app_context(), db.transaction() as session:
        public = root_keys.root_public(session)[1]
    document = app.test_client().get("/.well-known/skillcert-trust.json").get_json()
    return protocol_keys.verify_signed_trust_list(document, public)


def feed_kinds(station) -> list[tuple[str, dict]]:
    body = station.feed().get_json()
    return [(e["kind"], e["payload"]) for e in body["events"]]


def test_the_issuing_station_revokes_through_push(app, station):
    cert = station.certificate(1)
    number = station.number(1)
    request = station.revocation_request(number)
    # The certificate and its revocation in one batch (the outbox keeps their order).
    accepted, revoked = results(station.push([cert, request]))
    assert revoked["status"] == "accepted"
    assert revoked["receipt"]["kind"] == "revocation" and revoked["receipt"]["leaf_index"] == 1
    leaf = json.loads(revoked["receipt"]["leaf"])
    assert leaf["origin"] == "station" and leaf["reason"] == "以欺骗手段取得证书"
    revocation = signed_trust(app).revocation(number)
    assert revocation is not None and revocation.reason == "以欺骗手段取得证书"
    assert (
        "revocation",
        {
            "number": number,
            "reason": "以欺骗手段取得证书",
            "origin": "station",
            "revoked_at": leaf["revoked_at"],
        },
    ) in feed_kinds(station)
    # Asked again under a new record id: already done, same receipt.
    [again] = results(station.push([station.revocation_request(number)]))
    assert again["status"] == "duplicate" and again["receipt"] == revoked["receipt"]
    with app.app_context(), db.transaction() as session:
        assert records.get_certificate(session, number).to_dict()["status"] == "revoked"


def test_only_the_issuer_may_request_and_only_recorded_certificates(app, station):
    other = StationSim(app, "440302")
    other.enroll()
    results(station.push([station.certificate(1)]))
    [foreign] = results(other.push([other.revocation_request(station.number(1))]))
    assert foreign["reason"].startswith("not_issuer: ")
    [unknown] = results(station.push([station.revocation_request(station.number(9))]))
    assert unknown["reason"].startswith("unknown_certificate: ")
    with app.app_context(), db.transaction() as session:
        assert session.exec(select(Revocation)).first() is None


def test_an_operator_revokes_from_the_cli(app, station):
    results(station.push([station.certificate(1)]))
    number = station.number(1)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["revoke", number, "--reason", "证书信息有误", "--by", "sun"])
    assert out.exit_code == 0, out.output
    assert "log leaf 1" in out.output
    again = runner.invoke(args=["revoke", number, "--reason", "again"])
    assert again.exit_code == 1 and "already revoked" in again.output
    missing = runner.invoke(args=["revoke", station.number(5), "--reason", "x"])
    assert missing.exit_code == 1 and "not recorded" in missing.output
    bad = runner.invoke(args=["revoke", "S123", "--reason", "x"])
    assert bad.exit_code == 1 and "number" in bad.output
    kinds = feed_kinds(station)
    assert kinds[-1][0] == "revocation" and kinds[-1][1]["origin"] == "operator"
    assert signed_trust(app).revocation(number).reason == "证书信息有误"
    # The station asks too, later: it is a duplicate with a receipt proving the revocation.
    response = station.push([station.revocation_request(number)])
    [dup] = results(response)
    assert dup["status"] == "duplicate" and dup["receipt"]["leaf_index"] == 1
    with app.app_context(), db.transaction() as session:
        public = root_keys.root_public(session)[1]
        leaf = session.get(LogLeaf, 1)
    tree_heads.verify_certificate_inclusion(
        bytes(leaf.data),
        tree_heads.InclusionReceipt.from_dict(dup["receipt"]),
        tree_heads.SignedTreeHead.from_dict(response.get_json()["tree_head"]),
        public,
    )


def test_revoke_service_errors(app, station):
    results(station.push([station.certificate(1)]))
    with app.app_context(), db.transaction() as session:
        signer = root_keys.load_signer(session, passphrase=root_keys.passphrase_from(app.config))
        with pytest.raises(NotFound):
            revocations.revoke(
                session, number=station.number(2), reason="x", actor="sun", signer=signer
            )
        row, receipt = revocations.revoke(
            session, number=station.number(1), reason="  x  ", actor="sun", signer=signer
        )
        assert row.reason == "x" and receipt["tree_head"]["tree_size"] == 2
        with pytest.raises(RevocationError):
            revocations.revoke(
                session, number=station.number(1), reason="y", actor="sun", signer=signer
            )


def test_key_rotation_through_a_station_key_record(app, station):
    today = dt.datetime.now(SHANGHAI).date()
    old_kid, old_key = station.kid, station.private_key
    results(station.push([station.certificate(1, issue_date=today - dt.timedelta(days=1))]))
    new_key = key_tools.generate()
    new_kid = key_tools.key_id(new_key.public_key(), "st-")
    payload = protocol_keys.endorse_key(
        new_key.public_key(),
        new_kid=new_kid,
        valid_from=today,
        old_private_key=old_key,
        old_kid=old_kid,
    )
    rotation = station.record("station_key", payload)
    # In the same batch: a certificate signed with the new key, after the rotation record.
    signed, token = station.certificate_record(
        2, issue_date=today, kid=new_kid, private_key=new_key
    )
    new_cert = station.record(
        "certificate",
        {"signed_record": signed.to_dict(), "token": token},
        kid=new_kid,
        private_key=new_key,
    )
    late_old = station.certificate(3, issue_date=today + dt.timedelta(days=1))  # old key, too late
    verdicts = results(station.push([rotation, new_cert, late_old]))
    assert [v["status"] for v in verdicts] == ["accepted", "accepted", "rejected"], verdicts
    assert verdicts[2]["reason"].startswith("key_not_valid: payload.signed_record")
    with app.app_context(), db.transaction() as session:
        keys = {k.kid: k for k in session.exec(select(StationKeyRow))}
    assert keys[old_kid].valid_until == today
    assert keys[new_kid].source == "rotation" and keys[new_kid].endorsed_by == old_kid
    trust = signed_trust(app)
    assert trust.get(old_kid).valid_until == today
    assert trust.get(new_kid).valid_from == today
    assert [k for k, _ in feed_kinds(station)].count("trust_list") == 2
    # The station now signs its requests with the new key.
    station.kid, station.private_key = new_kid, new_key
    assert station.feed().status_code == 200
    # A rotation endorsed by a key the station does not have is refused.
    rogue = key_tools.generate()
    forged = protocol_keys.endorse_key(
        rogue.public_key(),
        new_kid=key_tools.key_id(rogue.public_key(), "st-"),
        valid_from=today,
        old_private_key=rogue,
        old_kid="st-notmine",
    )
    [verdict] = results(station.push([station.record("station_key", forged)]))
    assert verdict["reason"].startswith("unknown_key: payload.endorsed_by")
