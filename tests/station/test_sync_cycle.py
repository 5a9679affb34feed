"""The station against a real registry on a loopback port: enrollment, push, receipts, pull,
revocations reaching the offline verifier, duplicates, parking, backoff, clock offset."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text

from certs import keys as key_tools
from station import db
from station.models import OutboxStatus
from station.services import certificates, keys, sync_state
from station.services.certificates import Settings
from station.services.verification import check_token
from sync import client, tree_heads
from sync.client_push import check_receipt
from tests.station import test_sync_support as support
from tests.station.grading import SESSION, publish, run
from tests.station.test_sync_support import outbox_rows, sync_row

registry, enrolled, ctx = support.registry, support.enrolled, support.ctx  # fixtures


@pytest.fixture
def settings(app):
    return Settings.from_config(app.config)


@pytest.fixture
def issued(app, client, exam_site, settings):
    """G1 published and its certificates issued: the outbox holds a summary, a report and one
    certificate per passing candidate."""
    publish(app, client)
    return run(app, certificates.issue_session, actor="admin", session_code=SESSION,
               passphrase=app.config["KEY_PASSPHRASE"], settings=settings)  # fmt: skip


def test_enroll_stores_the_registry_root_key_and_trust_list(app, runner, registry):
    result = runner.invoke(args=["enroll", registry.url, registry.token])
    assert result.exit_code == 0, result.output
    assert f"enrolled with {registry.url}" in result.output
    row = sync_row(app)
    assert row.registry_url == registry.url and row.station_code == "110101"
    assert row.root_public_pem.strip() == registry.root_public_pem().strip()
    with app.app_context(), db.transaction(write=False) as s:
        listed = sync_state.registry_trust_list(s)
        mine = {k.kid for k in keys.all_keys(s)}
    assert {k.kid for k in listed.keys_of("110101")} == mine == set(row.known_kids)
    assert "110101  enrolled" in registry.cli("stations", "list")
    # the token was single use: a second enrollment is refused with the registry's reason
    again = runner.invoke(args=["enroll", registry.url, registry.token])
    assert again.exit_code == 1 and "已使用" in again.output


def test_a_bad_token_stores_nothing(app, runner, registry):
    result = runner.invoke(args=["enroll", registry.url, "A" * 52])
    assert result.exit_code == 1 and "省级平台拒绝登记" in result.output
    assert sync_row(app) is None
    bad_url = runner.invoke(args=["enroll", "ftp://example.org", registry.token])
    assert bad_url.exit_code == 1 and "registry URL" in bad_url.output


def test_issue_push_receipt_revoke_pull_verifier_says_revoked(app, runner, issued, enrolled,
                                                             settings):  # fmt: skip
    registry = enrolled
    result = runner.invoke(args=["sync", "now"])
    assert result.exit_code == 0, result.output
    rows = outbox_rows(app)
    assert {r.status for r in rows} == {OutboxStatus.ACCEPTED}
    assert f"push: {len(rows)} sent" in result.output
    assert registry.log_counts() == (len(issued), 0)
    # the receipt's inclusion proof verifies, offline, against the tree head signed by the
    # registry's root key; the leaf is this certificate's record
    root = key_tools.load_public_pem(registry.root_public_pem())
    for row in outbox_rows(app, "certificate"):
        receipt = row.receipt
        tree_heads.verify_certificate_inclusion(
            receipt["leaf"].encode(), tree_heads.InclusionReceipt.from_dict(receipt),
            tree_heads.SignedTreeHead.from_dict(receipt["tree_head"]), root)  # fmt: skip
        assert receipt["station_check"] == "ok"
        assert json.loads(receipt["leaf"])["number"] == row.subject.split(":")[1]
    # the province revokes one; the station's next pull brings it to the offline verifier
    cert = issued[0]
    with app.app_context(), db.transaction(write=False) as s:
        assert check_token(s, settings, cert.token).code == "valid"
    registry.cli("revoke", cert.number, "--reason", "以欺骗手段取得证书", "--by", "ops")
    report = client.pull(client.StationContext.from_app(app))
    assert report.ok and report.applied.get("revocation") == 1
    with app.app_context(), db.transaction(write=False) as s:
        verdict = check_token(s, settings, cert.token)
        assert (
            verdict.code == "revoked" and verdict.fields["revoked_reason"] == "以欺骗手段取得证书"
        )
        assert check_token(s, settings, issued[-1].token).code == ("revoked" if len(issued) == 1
                                                                   else "valid")  # fmt: skip
    assert registry.log_counts() == (len(issued), 1)
    # pulling again replays nothing and keeps the verdict
    again = client.pull(client.StationContext.from_app(app))
    assert again.ok and again.applied == {}


def test_a_station_revocation_is_pushed_and_comes_back_in_the_feed(app, issued, enrolled, ctx,
                                                                   settings):  # fmt: skip
    client.push(ctx)
    cert = issued[0]
    run(app, certificates.revoke, actor="admin", number=cert.number, reason="证件造假")
    report = client.push(ctx)
    assert [o.status for o in report.outcomes] == ["accepted"]
    [row] = outbox_rows(app, "revocation_request")
    root = key_tools.load_public_pem(enrolled.root_public_pem())
    assert check_receipt(row.kind, row.payload, row.receipt, root) == "ok"
    with app.app_context(), db.transaction(write=False) as s:
        assert certificates.revocation(s, cert.number).synced_at is not None
    assert client.pull(ctx).applied.get("revocation") == 1
    assert enrolled.log_counts() == (len(issued), 1)


def test_a_duplicate_push_is_harmless(app, issued, enrolled, ctx):
    first = client.push(ctx)
    assert first.ok and first.count("accepted") == len(outbox_rows(app))
    receipts = {r.id: r.receipt for r in outbox_rows(app)}
    # the station crashed after sending, before it wrote the answers: everything goes again
    with app.app_context(), db.transaction() as s:
        s.exec(text("UPDATE sync_outbox SET status = 'PENDING', receipt = NULL"))
    second = client.push(ctx)
    assert second.ok and second.count("duplicate") == len(receipts)
    for row in outbox_rows(app):
        assert row.status == OutboxStatus.DUPLICATE and row.attempts == 2
        kept = {k: v for k, v in row.receipt.items() if k not in ("tree_head", "station_check")}
        assert kept == {k: v for k, v in receipts[row.id].items()
                        if k not in ("tree_head", "station_check")}  # fmt: skip
    assert enrolled.log_counts() == (len(issued), 0)  # recorded exactly once


def test_a_tampered_record_is_parked_with_its_reason_and_can_be_retried(app, runner, issued,
                                                                         enrolled, ctx):  # fmt: skip
    cert_row = outbox_rows(app, "certificate")[0]
    original = cert_row.payload
    tampered = json.loads(json.dumps(original))
    tampered["signed_record"]["record"]["holder_name"] = "冒名顶替"
    with app.app_context(), db.transaction() as s:
        s.exec(text("UPDATE sync_outbox SET payload = :p WHERE id = :i"),
               params={"p": json.dumps(tampered, ensure_ascii=False), "i": cert_row.id})  # fmt: skip
    report = client.push(ctx)
    rejected = [o for o in report.outcomes if o.status == "rejected"]
    assert [o.id for o in rejected] == [cert_row.id]
    assert rejected[0].reason.startswith("bad_signature: payload.signed_record")
    assert report.count("accepted") == len(outbox_rows(app)) - 1  # the rest went through
    status = runner.invoke(args=["sync", "status"])
    assert "parked          1" in status.output and "bad_signature" in status.output
    # parked is not dropped: it stays, with its reason, until someone re-queues it
    assert client.push(ctx).sent == 0
    with app.app_context(), db.transaction() as s:
        s.exec(text("UPDATE sync_outbox SET payload = :p WHERE id = :i"),
               params={"p": json.dumps(original, ensure_ascii=False), "i": cert_row.id})  # fmt: skip
    retried = runner.invoke(args=["sync", "retry", cert_row.id])
    assert retried.exit_code == 0 and f"re-queued {cert_row.id}" in retried.output
    assert [o.status for o in client.push(ctx).outcomes] == ["accepted"]
    assert enrolled.log_counts() == (len(issued), 0)
    nothing = runner.invoke(args=["sync", "retry", cert_row.id])
    assert nothing.exit_code == 1 and "只有被拒收搁置的记录可以重试" in nothing.output


@pytest.mark.parametrize("status", [500, 413])  # it breaks the registry / the batch is refused
def test_a_record_the_registry_cannot_process_is_isolated_and_parked(app, runner, issued,
                                                                       enrolled, ctx, status):  # fmt: skip
    rows = outbox_rows(app)
    poison = rows[1]  # in the middle of the queue
    enrolled.fail_pushes_with([poison.id], status)  # every push carrying it fails
    report = client.push(ctx)
    assert report.ok, report.error
    by_id = {o.id: o for o in report.outcomes}
    assert by_id[poison.id].status == "rejected"
    assert "连续 3 次出错" in by_id[poison.id].reason
    assert f"HTTP {status}" in by_id[poison.id].reason
    assert {r.id for r in rows} - {poison.id} == {i for i, o in by_id.items()
                                                  if o.status == "accepted"}  # fmt: skip
    parked = {r.id: r for r in outbox_rows(app)}[poison.id]
    assert parked.status == OutboxStatus.REJECTED and f"HTTP {status}" in parked.reason
    # [r0, P, r2] fails; its first half [r0] goes through; [P, r2] fails; its first half [P]
    # fails, and twice more alone; then [r2] without it goes through, and P is parked
    assert len(rows) == 3 and enrolled.push_sizes() == [3, 1, 2, 1, 1, 1, 1]
    assert sync_row(app).push_failures == 0  # not a registry outage: no backoff
    status = runner.invoke(args=["sync", "status"])
    assert "parked          1" in status.output
    # once the registry is fixed, a retry sends it
    enrolled.fail_pushes_with([])
    assert runner.invoke(args=["sync", "retry", poison.id]).exit_code == 0
    assert [o.status for o in client.push(ctx).outcomes] == ["accepted"]
    assert enrolled.log_counts() == (len(issued), 0)


def test_a_registry_failing_every_push_parks_nothing(app, issued, enrolled, ctx):
    rows = outbox_rows(app)
    enrolled.fail_pushes_with([r.id for r in rows])  # a registry that is broken for all
    report = client.push(ctx)
    assert not report.ok and "HTTP 500" in report.error
    assert all(r.status == OutboxStatus.PENDING for r in outbox_rows(app))
    assert sync_row(app).push_failures == 1 and report.retry_at is not None
    # a lone record cannot be told apart from an outage either: it stays queued
    enrolled.fail_pushes_with([])
    with app.app_context(), db.transaction() as s:
        s.exec(text("UPDATE sync_outbox SET status = 'ACCEPTED' WHERE id != :i"),
               params={"i": rows[0].id})  # fmt: skip
    enrolled.fail_pushes_with([rows[0].id])
    lone = client.push(ctx, force=True)
    assert not lone.ok and {r.id: r for r in outbox_rows(app)}[rows[0].id].status == (
        OutboxStatus.PENDING)  # fmt: skip


def test_pushes_back_off_while_the_registry_is_down(app, issued, enrolled, ctx):
    from station.jobs import sync_push

    enrolled.stop()
    backlog = len(outbox_rows(app))
    failed = client.push(ctx)
    assert not failed.ok and "无法连接省级平台" in failed.error
    row = sync_row(app)
    assert row.push_failures == 1 and row.last_error.startswith("push: 无法连接")
    first_wait = row.push_backoff_until - row.last_error_at
    assert dt.timedelta(seconds=7) <= first_wait <= dt.timedelta(seconds=15)
    for r in outbox_rows(app):  # nothing lost, nothing parked: still queued, with the error
        assert r.status == OutboxStatus.PENDING and r.attempts == 1 and "无法连接" in r.last_error
    assert sync_push(app) is not None and sync_push(app).skipped.startswith("backing off")
    assert sync_row(app).push_failures == 1  # the job did not knock while backing off
    for _ in range(6):
        client.push(ctx, force=True)
    row = sync_row(app)
    assert row.push_failures == 7
    assert row.push_backoff_until - row.last_error_at <= dt.timedelta(minutes=10)  # the cap
    enrolled.start()
    report = sync_push(app, now=row.push_backoff_until + dt.timedelta(seconds=1))
    assert report.ok and report.count("accepted") == backlog
    row = sync_row(app)
    assert row.push_failures == 0 and row.push_backoff_until is None
    assert row.last_success_at is not None


def test_a_stale_clock_is_corrected_from_server_time(app, issued, enrolled, ctx):
    with app.app_context(), db.transaction() as s:
        state = sync_state.state(s)
        state.clock_offset = -3600.0  # we believe the registry is an hour behind
        s.add(state)
    report = client.push(ctx)  # signed an hour early → 401 stale → offset fixed → sent again
    assert report.ok and report.count("accepted") == len(outbox_rows(app))
    assert abs(sync_row(app).clock_offset) < 5
