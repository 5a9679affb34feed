"""The transactional outbox: every change that must reach the province writes its record in
the same transaction, with a payload the protocol accepts; nothing is written when the change
fails, and nothing is ever deleted."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from certs import keys as key_tools
from certs.record import SignedRecord
from certs.trust import StationKey as TrustKey
from station import db
from station.models import Candidate, Certificate, OutboxRecord, OutboxStatus, SyncState
from station.services import appeals, certificates, keys
from station.services.certificates import CertificateError, Settings, local_date
from sync import outbox, protocol
from sync.protocol_keys import verify_key_endorsement
from tests.station.grading import SESSION, issue_certificates, publish, run
from tests.station.test_sync_support import outbox_rows


@pytest.fixture
def settings(app):
    return Settings.from_config(app.config)


@pytest.fixture
def published(app, client, exam_site):
    return publish(app, client)


def test_sign_off_queues_the_result_summary_and_the_session_report(app, published):
    summary, report = outbox_rows(app)
    assert (summary.kind, report.kind) == ("result_summary", "session_report")
    assert summary.subject == report.subject == f"session:{SESSION}"
    p = summary.payload
    assert (p["session"], p["programme"], p["level"]) == (SESSION, "IRAP", "中级")
    assert p["candidates"] == 5 and p["by_outcome"]["absent"] == 1
    assert p["passed"] == p["by_outcome"].get("passed", 0) >= 1
    assert report.payload["attendance"]["registered"] == 5
    assert report.payload["attendance"]["absent"] == 1
    assert len(report.payload["timeline_digest"]) == 64
    assert summary.status == OutboxStatus.PENDING and summary.created_at.microsecond == 0


def test_each_certificate_is_queued_with_its_signed_record_and_token(app, published, settings):
    issued = issue_certificates(app)
    rows = outbox_rows(app, "certificate")
    assert [r.subject for r in rows] == [f"certificate:{c.number}" for c in issued]
    for cert, row in zip(issued, rows, strict=True):
        signed = SignedRecord.from_dict(row.payload["signed_record"])
        assert signed.to_dict() == certificates.signed_record(cert).to_dict()
        assert row.payload["token"] == cert.token
        assert len(row.id) == 36 and row.attempts == 0 and row.receipt is None


def test_a_failing_issue_writes_no_outbox_row(app, published, settings):
    # Two candidates pass (the fourth after an upheld appeal); the second one's record cannot
    # be made (wrong ID check character): the batch stops, and the certificate already made
    # for the first goes with it, outbox row included.
    people, _ = published
    appeal = run(app, appeals.lodge, actor="sup", admission_number=people[3][0], part="theory",
                 statement="复核")  # fmt: skip
    run(app, appeals.resolve, actor="sup", appeal_id=appeal.id, upheld=True, reason="复核改分",
        score=75)  # fmt: skip
    with app.app_context(), db.transaction() as s:
        last = s.exec(select(Candidate).where(Candidate.admission_number == people[3][0])).one()
        s.exec(text("UPDATE candidate SET id_number = :n WHERE id = :i"),
               params={"n": last.id_number[:-1] + ("0" if last.id_number[-1] != "0" else "1"),
                       "i": last.id})  # fmt: skip
    before = len(outbox_rows(app))
    with pytest.raises(CertificateError, match="无法发证"):
        issue_certificates(app)
    assert len(outbox_rows(app)) == before
    # And a transaction that fails after a successful issue takes its outbox rows along.
    with app.app_context(), db.transaction() as s:
        s.exec(text("UPDATE candidate SET id_number = :n WHERE id = :i"),
               params={"n": last.id_number, "i": last.id})  # fmt: skip
    with pytest.raises(RuntimeError), app.app_context(), db.transaction() as s:
        made = certificates.issue_session(s, actor="admin", session_code=SESSION,
                                          passphrase=app.config["KEY_PASSPHRASE"],
                                          settings=settings)  # fmt: skip
        assert len(made) == 2 and len(s.exec(select(OutboxRecord)).all()) == before + 2
        raise RuntimeError("power cut before commit")
    assert len(outbox_rows(app)) == before
    with app.app_context(), db.transaction() as s:
        assert s.exec(select(Certificate)).all() == []


def test_a_revocation_request_is_queued_with_the_revocation(app, published, settings):
    cert = issue_certificates(app)[0]
    row = run(app, certificates.revoke, actor="admin", number=cert.number, reason="证件造假")
    [queued] = outbox_rows(app, "revocation_request")
    assert queued.payload == {"number": cert.number, "reason": "证件造假",
                              "requested_at": protocol.format_time(row.requested_at)}  # fmt: skip
    with pytest.raises(CertificateError):  # a second request fails and queues nothing
        run(app, certificates.revoke, actor="admin", number=cert.number, reason="again")
    assert len(outbox_rows(app, "revocation_request")) == 1


def test_key_rotation_queues_the_new_key_endorsed_by_the_old_one(app):
    old, new = run(app, keys.rotate, actor="admin", passphrase=app.config["KEY_PASSPHRASE"])
    [row] = outbox_rows(app, "station_key")
    old_key = TrustKey(kid=old.kid, station_code="110101",
                       public_key=key_tools.load_public_pem(old.public_pem),
                       valid_from=local_date(old.not_before))  # fmt: skip
    announced = verify_key_endorsement(row.payload, old_key)
    assert announced.kid == new.kid and announced.valid_from == local_date(new.not_before)
    assert key_tools.public_bytes(announced.public_key) == key_tools.public_bytes(
        key_tools.load_public_pem(new.public_pem))  # fmt: skip
    with pytest.raises(Exception, match="无法解锁"):  # a wrong passphrase rotates nothing
        run(app, keys.rotate, actor="admin", passphrase="wrong passphrase")
    assert len(outbox_rows(app, "station_key")) == 1


def test_a_payload_the_protocol_refuses_fails_the_change(app):
    with (pytest.raises(outbox.OutboxError, match="payload.passed"), app.app_context(),
          db.transaction() as s):  # fmt: skip
        outbox.add(s, kind="result_summary", payload={
                "session": "G1", "programme": "IRAP", "level": "中级",
                "signed_off_at": "2026-12-05T08:00:00Z", "candidates": 1, "passed": 2,
                "by_outcome": {}, "city": ""})  # fmt: skip
    assert outbox_rows(app) == []


def test_outbox_rows_are_never_deleted(app):
    with app.app_context(), db.transaction() as s:
        outbox.add(s, kind="revocation_request", payload={
            "number": "S00014411010126400000" + "1", "reason": "测试",
            "requested_at": "2026-12-05T08:00:00Z"})  # fmt: skip
    with (pytest.raises(IntegrityError, match="never deleted"), app.app_context(),
          db.transaction() as s):  # fmt: skip
        s.exec(text("DELETE FROM sync_outbox"))
    assert len(outbox_rows(app)) == 1


def test_records_are_signed_with_the_key_that_was_signing_when_they_were_made(app):
    from sync.client_station import KeyRing

    at = dt.datetime(2026, 12, 5, 2, 0, 0, 300_000, tzinfo=dt.UTC)  # 10:00:00.3 in Shanghai
    passphrase = app.config["KEY_PASSPHRASE"]
    old, new = run(app, keys.rotate, actor="admin", passphrase=passphrase, now=at)
    with app.app_context(), db.transaction(write=False) as s:
        ring = KeyRing(keys.all_keys(s), passphrase)
    second = at.replace(microsecond=0)
    assert ring.for_record(second - dt.timedelta(days=1)).kid == old.kid
    assert ring.for_record(second).kid == old.kid  # same second as the rotation: the old key
    assert ring.for_record(second + dt.timedelta(seconds=1)).kid == new.kid
    [row] = outbox_rows(app, "station_key")
    assert ring.for_record(row.created_at).kid == old.kid  # the announcement: the known key
    state = SyncState(id=1, known_kids=[old.kid])
    assert ring.for_requests(state).kid == old.kid
    state.known_kids = [old.kid, new.kid]
    assert ring.for_requests(state).kid == new.kid
