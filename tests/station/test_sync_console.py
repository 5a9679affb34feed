"""The console's sync page, ``station sync status``, the scheduler jobs, and key rotation as the
registry sees it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from station import db
from station.jobs import start_scheduler, sync_pull, sync_push
from station.models import OutboxStatus
from station.services import certificates, keys
from station.services.certificates import Settings
from sync import client as sync_client
from tests.station import test_sync_support as support
from tests.station.grading import SESSION, publish, run
from tests.station.test_sync_support import outbox_rows, sync_row

registry, enrolled, ctx = support.registry, support.enrolled, support.ctx  # fixtures


@pytest.fixture
def published(app, client, exam_site):
    return publish(app, client)


def park_one(app, ctx) -> str:
    """Tamper with the first queued record's inner signature and push: it gets parked."""
    row = outbox_rows(app, "certificate")[0]
    payload = json.loads(json.dumps(row.payload))
    payload["signed_record"]["record"]["holder_name"] = "冒名顶替"
    with app.app_context(), db.transaction() as s:
        s.exec(text("UPDATE sync_outbox SET payload = :p WHERE id = :i"),
               params={"p": json.dumps(payload, ensure_ascii=False), "i": row.id})  # fmt: skip
    sync_client.push(ctx)
    return row.id


def issue(app):
    return run(app, certificates.issue_session, actor="admin", session_code=SESSION,
               passphrase=app.config["KEY_PASSPHRASE"], settings=Settings.from_config(app.config))  # fmt: skip


def test_the_sync_page_shows_the_backlog_parked_records_and_retries_them(app, auth, client,
                                                                        published, enrolled,
                                                                        ctx):  # fmt: skip
    issue(app)
    parked = park_one(app, ctx)
    run(app, certificates.revoke, actor="admin", number=issue_number(app), reason="证件造假")
    auth.login()
    page = client.get("/console/sync").get_data(as_text=True)
    assert enrolled.url in page
    assert '<b id="sync-backlog">1</b>' in page  # the revocation request waits
    assert parked in page and "bad_signature: payload.signed_record" in page
    response = client.post("/console/sync/retry", data={"record_id": parked})
    assert response.status_code == 302
    assert [r.status for r in outbox_rows(app) if r.id == parked] == [OutboxStatus.PENDING]
    page = client.get("/console/sync").get_data(as_text=True)
    assert '<b id="sync-backlog">2</b>' in page
    # a retry of a record that is not parked is refused with the reason
    client.post("/console/sync/retry", data={"record_id": parked})
    assert "只有被拒收搁置的记录可以重试" in client.get("/console/sync").get_data(as_text=True)


def issue_number(app) -> str:
    return outbox_rows(app, "certificate")[0].subject.split(":")[1]


def test_the_sync_page_is_for_admins(app, auth, client):
    auth.login("sup1", roles=("supervisor",))
    assert client.get("/console/sync").status_code == 403
    assert client.post("/console/sync/retry", data={"all": "1"}).status_code == 403


def test_an_unenrolled_station_says_so(app, auth, client, runner):
    auth.login()
    assert "station enroll URL TOKEN" in client.get("/console/sync").get_data(as_text=True)
    status = runner.invoke(args=["sync", "status", "--json"])
    assert json.loads(status.output)["enrolled"] is False
    now = runner.invoke(args=["sync", "now"])
    assert now.exit_code == 1 and "尚未登记" in now.output
    assert sync_push(app) is None and sync_pull(app) is None  # the jobs do nothing


def test_sync_status_reports_backlog_age_errors_and_offset(app, runner, published, enrolled):
    status = json.loads(runner.invoke(args=["sync", "status", "--json"]).output)
    assert status["enrolled"] and status["backlog"] == 2 and status["parked"] == []
    assert status["oldest_pending_age_seconds"] >= 0 and status["last_error"] == ""
    assert abs(status["clock_offset_seconds"]) < 5  # measured at enrollment
    enrolled.stop()
    assert runner.invoke(args=["sync", "now"]).exit_code == 1
    status = json.loads(runner.invoke(args=["sync", "status", "--json"]).output)
    assert status["backlog"] == 2 and status["last_error"].startswith("pull: 无法连接")
    text_status = runner.invoke(args=["sync", "status"]).output
    assert "backlog         2 record(s) pending" in text_status and "无法连接" in text_status


def test_the_jobs_push_a_backlog_and_pull_the_feed(app, published, enrolled):
    assert sync_push(app).count("accepted") == 2
    assert sync_push(app) is None  # no backlog: nothing to do
    enrolled.cli("message", "ALL", "--title", "通知", "--body", "正文")
    assert sync_pull(app).applied == {"trust_list": 1, "message": 1}  # ours, at enrollment
    assert sync_row(app).last_pull_at is not None


def test_the_scheduler_runs_the_sync_jobs_only_when_enabled(app):
    scheduler = start_scheduler(app)
    try:
        ids = {job.id for job in scheduler.get_jobs()}
        assert {"sync-push", "sync-pull"} <= ids
        push = scheduler.get_job("sync-push")
        assert push.max_instances == 1 and push.trigger.interval.total_seconds() == 30
        assert scheduler.get_job("sync-pull").trigger.interval.total_seconds() == 60
    finally:
        scheduler.shutdown(wait=False)
    app.config["SYNC_ENABLED"] = False
    scheduler = start_scheduler(app)
    try:
        assert "sync-push" not in {job.id for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)


def test_a_rotated_key_reaches_the_registry_before_anything_it_signed(app, published, enrolled,
                                                                      ctx):  # fmt: skip
    old, new = run(app, keys.rotate, actor="admin", passphrase=app.config["KEY_PASSPHRASE"])
    issued = issue(app)
    assert {c.kid for c in issued} == {new.kid}
    assert sync_row(app).known_kids == [old.kid]
    report = sync_client.push(ctx)
    assert report.ok and {o.status for o in report.outcomes} == {"accepted"}
    kinds = [o.kind for o in report.outcomes]
    assert kinds.index("station_key") < kinds.index("certificate")
    by_kind = {r.kind: r.kid for r in outbox_rows(app)}
    assert by_kind["result_summary"] == by_kind["session_report"] == old.kid  # made before
    assert sync_row(app).known_kids == sorted([old.kid, new.kid])
    # from now on requests are signed with the new key, which the registry accepts
    run(app, certificates.revoke, actor="admin", number=issued[0].number, reason="证件造假")
    again = sync_client.push(ctx)
    assert [o.status for o in again.outcomes] == ["accepted"]
    assert sync_client.pull(ctx).ok
    assert f"{new.kid}" in enrolled.cli("stations", "list")
