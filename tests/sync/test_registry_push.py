"""Push ingestion: per-record verdicts, store-once semantics, receipts, personal data."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import json

from sqlalchemy import select as sa_select
from sqlmodel import select

from certs import cert_token, jcs
from certs import keys as key_tools
from certs.record import SignedRecord, canonical_bytes, sign_record
from sync import protocol, tree_heads
from sync.registry import db
from sync.registry import keys as root_keys
from sync.registry.models import Certificate, ResultSummary, SyncRecord
from sync.registry.models_common import RegistryModel
from sync.registry.services import push_checks, records
from tests.sync.registry_helpers import StationSim, id_number, results


def root_public(app):
    with app.app_context(), db.transaction() as session:
        return root_keys.root_public(session)[1]


def check_receipt(app, receipt: dict, tree_head: dict) -> dict:
    """Verify a receipt the way a station would: offline, from the tree head and the proof."""
    tree_heads.verify_certificate_inclusion(
        receipt["leaf"].encode(),
        tree_heads.InclusionReceipt.from_dict(receipt),
        tree_heads.SignedTreeHead.from_dict(tree_head),
        root_public(app),
    )
    return json.loads(receipt["leaf"])


def test_a_certificate_is_accepted_with_a_verifiable_receipt(app, station):
    record = station.certificate()
    response = station.push([record])
    body = response.get_json()
    [result] = results(response)
    assert result["status"] == "accepted" and result["id"] == record["id"]
    leaf = check_receipt(app, result["receipt"], body["tree_head"])
    signed = SignedRecord.from_dict(record["payload"]["signed_record"])
    assert leaf == {
        "kind": "certificate",
        "number": signed.record.number,
        "station": "440301",
        "record_sha256": hashlib.sha256(canonical_bytes(signed.record)).hexdigest(),
        "accepted_at": result["receipt"]["accepted_at"],
    }
    assert body["server_time"].endswith("Z")
    with app.app_context(), db.transaction() as session:
        cert = session.exec(select(Certificate)).one()
        assert cert.number == signed.record.number and cert.leaf_index == 0
        assert cert.token == record["payload"]["token"]


def test_resends_are_duplicates_with_the_original_receipt(app, station):
    first = station.certificate()
    original = results(station.push([first]))[0]["receipt"]
    assert results(station.push([first]))[0] == {
        "id": first["id"],
        "status": "duplicate",
        "receipt": original,
    }
    station.push([station.certificate() for _ in range(3)])  # the log grows
    later = station.push([first]).get_json()
    [again] = later["results"]
    assert again["status"] == "duplicate"
    assert again["receipt"]["tree_head"]["tree_size"] == 1  # the head it was proven against
    check_receipt(app, again["receipt"], again["receipt"]["tree_head"])
    # The same certificate under a new record id (e.g. the station lost its outbox row).
    renamed = station.record("certificate", first["payload"])
    [dup] = results(station.push([renamed]))
    assert dup["status"] == "duplicate" and dup["receipt"]["leaf_index"] == 0
    with app.app_context(), db.transaction() as session:
        assert len(session.exec(select(Certificate)).all()) == 4


def test_a_duplicate_inside_one_batch(app, station):
    record = station.certificate()
    first, second = results(station.push([record, record]))
    assert first["status"] == "accepted" and second["status"] == "duplicate"
    assert first["receipt"] == second["receipt"]


def test_conflicts_are_rejected_and_change_nothing(app, station):
    record = station.certificate(1)
    results(station.push([record]))
    other = station.certificate(1, theory=61, record_id=record["id"])
    [same_id] = results(station.push([other]))
    assert same_id["status"] == "rejected" and same_id["reason"].startswith("conflict: id")
    [same_number] = results(station.push([station.certificate(1, theory=61)]))
    assert same_number["status"] == "rejected"
    assert same_number["reason"].startswith("conflict: payload.signed_record")
    with app.app_context(), db.transaction() as session:
        assert session.exec(select(Certificate)).one().theory_score == 87.5


def test_bad_records_are_rejected_one_by_one(app, station):
    good = station.certificate()
    tampered = copy.deepcopy(station.certificate())
    tampered["payload"]["token"] = good["payload"]["token"]  # sync signature now wrong
    stranger = key_tools.generate()
    stranger_kid = key_tools.key_id(stranger.public_key(), "st-")
    unknown = station.record(
        "session_report",
        {"session": "S1", "attendance": {}, "irregularities": 0, "timeline_digest": "0" * 64},
        kid=stranger_kid,
        private_key=stranger,
    )
    mismatched = station.certificate()
    mismatched["payload"]["token"] = good["payload"]["token"]
    mismatched = station.record("certificate", mismatched["payload"])  # re-signed, token wrong
    forged_signed, token = station.certificate_record(kid=stranger_kid, private_key=stranger)
    forged = station.record(
        "certificate", {"signed_record": forged_signed.to_dict(), "token": token}
    )
    early = station.certificate(issue_date=dt.date(2025, 12, 31))  # before the key's window
    broken = {**station.certificate(), "kind": "diploma"}
    batch = [good, tampered, unknown, mismatched, forged, early, broken]
    verdicts = results(station.push(batch))
    assert [v["id"] for v in verdicts] == [r["id"] for r in batch]
    assert [v["status"] for v in verdicts] == ["accepted"] + ["rejected"] * 6
    reasons = [v.get("reason", "").split(":")[0] for v in verdicts[1:]]
    assert reasons == [
        "bad_signature",
        "unknown_key",
        "token_mismatch",
        "unknown_key",
        "key_not_valid",
        "malformed",
    ]
    assert "kind" in verdicts[-1]["reason"]
    with app.app_context(), db.transaction() as session:
        assert len(session.exec(select(SyncRecord)).all()) == 1


def test_another_stations_certificate_is_refused(app, station):
    other = StationSim(app, "440302")
    other.enroll()
    signed, token = other.certificate_record()
    # Station 440301 tries to push 440302's genuine certificate as its own.
    record = station.record("certificate", {"signed_record": signed.to_dict(), "token": token})
    [verdict] = results(station.push([record]))
    assert verdict["reason"].startswith("unknown_key: payload.signed_record")
    [own] = results(other.push([other.record("certificate", record["payload"])]))
    assert own["status"] == "accepted"
    # Signed with 440301's own key but claiming to be 440302's certificate.
    signed, _ = station.certificate_record()
    claimed = dataclasses.replace(signed.record, station_code="440302")
    token = cert_token.sign_token(
        cert_token.claims_from_record(claimed), private_key=station.private_key, kid=station.kid
    )
    resigned = sign_record(claimed, station.private_key)
    record = station.record("certificate", {"signed_record": resigned.to_dict(), "token": token})
    [verdict] = results(station.push([record]))
    assert verdict["reason"].startswith("wrong_station: ")


def test_the_registry_keeps_no_full_id_number(app, station):
    pushed = [station.certificate(id_seq=seq) for seq in (7, 8)]
    results(station.push(pushed))
    full = [id_number(7), id_number(8)]
    with app.app_context(), db.transaction() as session:
        for table in RegistryModel.metadata.sorted_tables:
            for row in session.execute(sa_select(table)):
                text = repr(tuple(row))
                assert not any(n in text for n in full), table.name
        cert = session.exec(
            select(Certificate).where(Certificate.id_masked.startswith("440"))
        ).first()
        assert cert.id_masked == "440***********" + full[0][-4:]
        assert cert.record["record"]["id_number"] == cert.id_masked
        secret = bytes.fromhex(app.config["ID_HASH_SECRET"])
        found = records.find_by_holder(
            session, name="欧阳娜", id_number=full[1].lower(), secret=secret
        )
        assert [f.certificate.number for f in found] == [station.number(2)]
        assert records.confirm_holder(found[0].certificate, id_number=full[1], secret=secret)
        assert not records.confirm_holder(found[0].certificate, id_number=full[0], secret=secret)
        assert records.find_by_holder(session, name="别人", id_number=full[1], secret=secret) == []
        view = records.get_certificate(session, station.number(1)).to_dict()
        assert view["status"] == "valid" and view["id_number_masked"] == cert.id_masked


def test_summaries_and_session_reports_are_stored(app, station):
    summary = station.record(
        "result_summary",
        {
            "session": "S20261205-03",
            "programme": "IRAP",
            "level": "四级/中级工",
            "signed_off_at": "2026-12-05T09:00:00Z",
            "candidates": 30,
            "passed": 24,
            "by_outcome": {"pass": 24, "fail": 5, "absent": 1},
            "city": "",
        },
    )
    report = station.record(
        "session_report",
        {
            "session": "S20261205-03",
            "attendance": {"x": 1},
            "irregularities": 2,
            "timeline_digest": "a" * 64,
        },
    )
    verdicts = results(station.push([summary, report]))
    assert [v["status"] for v in verdicts] == ["accepted", "accepted"]
    assert "leaf_index" not in verdicts[0]["receipt"]
    with app.app_context(), db.transaction() as session:
        row = session.exec(select(ResultSummary)).one()
        assert (row.candidates, row.passed, row.city) == (30, 24, "深圳市")
        assert session.get(SyncRecord, report["id"]).kind == "session_report"


def test_a_malformed_envelope_is_refused_whole(app, station):
    response = station.signed("POST", "/api/v1/sync/push", body={"records": []})
    assert response.status_code == 400 and response.get_json()["message"].startswith("batch")
    too_many = {
        "batch": "00000000-0000-4000-8000-000000000000",
        "records": [station.certificate() for _ in range(201)],
    }
    response = station.signed("POST", "/api/v1/sync/push", body=too_many)
    assert response.status_code == 400 and "records" in response.get_json()["message"]
    response = station.signed("POST", "/api/v1/sync/push", raw=b"{not json")
    assert response.status_code == 400 and response.get_json()["message"].startswith("body")


def test_the_content_digest_is_the_jcs_of_the_content(app, station):
    """The digest a resend must match is cut out of the signed bytes; it must equal the JCS
    definition for any payload, escapes, non-ASCII and characters beyond the BMP included."""
    odd = station.record(
        "session_report",
        {
            "session": "S1",
            "attendance": {"张三": 1, 'a"b\\c': 2, "\U0001f600": 3, "e\u0301": 4, "z\n": 0},
            "irregularities": 0,
            "timeline_digest": "0" * 64,
        },
    )
    for raw in (station.certificate(), odd):
        parsed = protocol.SyncRecord.from_dict(raw)
        content = {k: raw[k] for k in ("id", "kind", "created_at", "payload")}
        expected = hashlib.sha256(jcs.canonical(content)).hexdigest()
        assert push_checks.content_sha256(parsed) == expected
    verdicts = results(station.push([odd]))
    assert verdicts[0]["status"] == "accepted"
    [resent] = results(station.push([odd]))
    assert resent["status"] == "duplicate"
    with app.app_context(), db.transaction() as session:  # stored verbatim (COPY on PostgreSQL)
        assert session.get(SyncRecord, odd["id"]).payload == odd["payload"]


def test_a_full_mixed_batch_is_stored_in_one_go(app, station):
    """200 records of every outcome in one push: each verdict right, each row written once,
    every receipt verifiable against the one tree head the push signed."""
    stored = [station.certificate() for _ in range(3)]
    results(station.push(stored))
    conflicting = station.certificate(1, theory=61)  # number 1 again, other content
    fresh = [station.certificate() for _ in range(190)]
    batch = [
        *fresh[:100],
        stored[1],  # already stored: duplicate
        conflicting,
        fresh[0],  # repeated inside the batch: duplicate
        station.revocation_request(station.number(50)),  # a certificate of this very batch
        station.revocation_request(station.number(999)),  # never recorded
        *fresh[100:],
        station.record(
            "result_summary",
            {
                "session": "S1",
                "programme": "IRAP",
                "level": 4,
                "signed_off_at": "2026-12-05T09:00:00Z",
                "candidates": 3,
                "passed": 2,
                "by_outcome": {},
                "city": "",
            },
        ),  # fmt: skip
    ]
    assert len(batch) <= 200
    body = station.push(batch).get_json()
    verdicts = body["results"]
    assert [v["id"] for v in verdicts] == [r["id"] for r in batch]
    statuses = [v["status"] for v in verdicts]
    assert statuses[100:105] == ["duplicate", "rejected", "duplicate", "accepted", "rejected"]
    assert statuses.count("accepted") == 190 + 2 and statuses.count("rejected") == 2
    assert verdicts[101]["reason"].startswith("conflict: payload.signed_record")
    assert verdicts[104]["reason"].startswith("unknown_certificate")
    assert verdicts[102]["receipt"] == verdicts[0]["receipt"]
    head = body["tree_head"]
    assert head["tree_size"] == 3 + 190 + 1
    for verdict in verdicts:
        if verdict["status"] == "accepted" and "leaf" in verdict["receipt"]:
            assert verdict["receipt"]["tree_size"] == head["tree_size"]
            check_receipt(app, verdict["receipt"], head)
    with app.app_context(), db.transaction() as session:
        numbers = session.exec(sa_select(Certificate.number)).scalars().all()
        assert len(numbers) == len(set(numbers)) == 193
        assert len(session.exec(select(SyncRecord)).all()) == 3 + 190 + 2
        cert = records.get_certificate(session, station.number(50))
        assert cert.to_dict()["status"] == "revoked"
        assert cert.revocation.certificate_id == cert.certificate.id
        stored_row = session.get(SyncRecord, fresh[5]["id"])
        assert stored_row.receipt == verdicts[5]["receipt"]
        assert session.exec(select(ResultSummary)).one().level == "4"
    assert app.test_cli_runner().invoke(args=["log", "verify"]).exit_code == 0


def test_the_noop_baseline_is_off_unless_configured(app, station):
    assert app.test_client().post("/api/v1/noop", data=b"x" * 10).status_code == 404
    app.config["REGISTRY_NOOP_ENDPOINT"] = True
    response = app.test_client().post("/api/v1/noop", data=b"x" * 10)
    assert response.status_code == 200 and response.get_json()["bytes"] == 10
