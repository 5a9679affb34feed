"""Fault tests: the station (``station sync now`` processes) and the registry (``registry run``
under gunicorn) on loopback ports (``tests/e2e/harness.py``), with a proxy between them
(``tests/e2e/fault_proxy.py``).

Each test starts from a station whose outbox holds 212 records (a result summary, a session
report and 210 certificates: two push batches), enrolled with a fresh registry, injects one kind
of fault, lets the station drain its outbox, and ends with :meth:`Rig.check`: every certificate
recorded exactly once, nothing lost, the log consistent, every receipt verifying.
"""

from __future__ import annotations

import time

from station.models import OutboxStatus
from tests.e2e.conftest import TEMPLATE_CERTIFICATES
from tests.e2e.fault_proxy import send_raw

RECORDS = TEMPLATE_CERTIFICATES + 2
BATCH = 200


def _push_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("push: "))


def test_registry_killed_mid_batch_then_restarted(rig):
    """SIGKILL to the registry (master and workers) while a worker holds the first batch: the
    station's push fails as a whole, nothing of the batch was stored, the records stay
    queued with the error; once the registry is back the next push stores each one once."""
    sent = rig.proxy.hold("sent")
    with rig.registry.hold_writes():
        push = rig.station.start("sync", "now")
        exchange = sent.wait()
        time.sleep(0.5)  # the worker reads the body and reaches the held lock
        rig.registry.kill()
        sent.release()
        code, output = rig.station.finish(push)
    assert code == 1 and "push failed" in output, output
    assert exchange.outcome == "upstream_failed"
    assert rig.registry_rows()["records"] == {}  # the batch died with the worker
    rows = rig.outbox()
    assert {r.status for r in rows} == {OutboxStatus.PENDING}
    first = rows[:BATCH]
    assert all(r.attempts == 1 and "省级平台" in r.last_error for r in first)

    rig.registry.start()
    output = rig.station.sync_now()
    assert f"push: {RECORDS} sent in 2 batch(es): {RECORDS} accepted" in output, output
    summary = rig.check()
    assert summary["certificates"] == TEMPLATE_CERTIFICATES


def test_station_killed_during_pushes(rig):
    """SIGKILL to ``station sync now`` at three points of a push; restarted each time."""
    # 1. Its first batch is still on the way: the registry never sees it.
    held = rig.proxy.hold("request")
    push = rig.station.start("sync", "now")
    held.wait()
    assert rig.station.kill(push)[0] == -9
    held.drop()
    assert rig.registry_rows()["records"] == {}
    assert {(r.status, r.attempts) for r in rig.outbox()} == {(OutboxStatus.PENDING, 0)}

    # 2. The registry stored the second batch, but its answer never reached the station.
    answered = rig.proxy.hold("response", nth=2)
    push = rig.station.start("sync", "now")
    exchange = answered.wait()
    assert exchange.status == 200 and len(rig.registry_rows()["records"]) == RECORDS
    assert rig.station.kill(push)[0] == -9
    answered.drop()
    rows = rig.outbox()
    assert {r.status for r in rows[:BATCH]} == {OutboxStatus.ACCEPTED}
    assert {r.status for r in rows[BATCH:]} == {OutboxStatus.PENDING}

    # 3. Killed while the registry works on its batch, restarted at once: the new push arrives
    # while the old one is still being processed; both go through, each record lands once.
    new = rig.issue(3)
    pending = len(rows) - BATCH + len(new) + 2
    with rig.registry.hold_writes():
        first = rig.proxy.hold("sent")
        push = rig.station.start("sync", "now")
        old = first.wait()
        first.release()
        assert rig.station.kill(push)[0] == -9
        second = rig.proxy.hold("sent")
        again = rig.station.start("sync", "now")
        second.wait()
        second.release()
        time.sleep(0.5)  # both requests reach a worker and wait for the lock
    code, output = rig.station.finish(again)
    assert code == 0, output
    assert old.done.wait(60) and old.status == 200  # the dead station's batch was processed too
    line = _push_line(output)
    assert f"push: {pending} sent in 1 batch(es)" in line, line
    results = {r.status for r in rig.outbox()[BATCH:]}
    assert results <= {OutboxStatus.ACCEPTED, OutboxStatus.DUPLICATE}, results
    summary = rig.check()
    assert summary["certificates"] == TEMPLATE_CERTIFICATES + len(new)


def test_registry_restarted_between_batches(rig):
    """The registry dies after the first batch, before the second arrives: the first is
    recorded at the station, the second fails as a whole and waits; the registry comes back
    and the next push sends only what is left. (A graceful restart under a waiting push,
    which the station does not notice, is one of the random run's faults.)"""
    second = rig.proxy.hold("request", nth=2)
    push = rig.station.start("sync", "now")
    second.wait()
    assert {r.status for r in rig.outbox()[:BATCH]} == {OutboxStatus.ACCEPTED}
    rig.registry.kill()
    second.release()
    code, output = rig.station.finish(push)
    assert code == 1 and "push failed" in output, output
    assert f"push: {BATCH} sent in 1 batch(es): {BATCH} accepted" in output, output
    left = rig.outbox()[BATCH:]
    assert {(r.status, r.attempts) for r in left} == {(OutboxStatus.PENDING, 1)}
    rig.registry.start()
    output = rig.station.sync_now()
    assert f"push: {len(left)} sent in 1 batch(es): {len(left)} accepted" in output, output
    assert rig.check()["certificates"] == TEMPLATE_CERTIFICATES
    assert rig.registry.starts == 2


def _receipts(results: list[dict]) -> dict[str, dict]:
    return {r["id"]: {k: v for k, v in r["receipt"].items() if k != "tree_head"}
            for r in results}  # fmt: skip


def test_duplicate_and_out_of_order_delivery(rig):
    """Batches crafted with the station's own keys and records, sent straight to the registry:
    the later batch first (a revocation before its certificate is refused, not stored), the
    earlier one, the earlier one again, the later one again reversed; then the station's own
    push sends everything once more. Every record is stored once, with one receipt."""
    rows = rig.outbox()
    cert_row = next(r for r in rows[:100] if r.kind == "certificate")
    number = cert_row.subject.split(":", 1)[1]
    rig.revoke(number)
    rows = rig.outbox()
    early, late = rows[:100], rows[100:]

    first = rig.push_direct(late)
    assert [r["status"] for r in first[:-1]] == ["accepted"] * (len(late) - 1)
    assert first[-1]["status"] == "rejected"
    assert first[-1]["reason"].startswith("unknown_certificate: payload.number"), first[-1]
    second = rig.push_direct(early)
    assert {r["status"] for r in second} == {"accepted"}
    again = rig.push_direct(early)
    assert {r["status"] for r in again} == {"duplicate"}
    assert _receipts(again) == _receipts(second)  # the original receipts, not new ones
    reversed_late = rig.push_direct(list(reversed(late)))
    assert reversed_late[0]["status"] == "accepted"  # the revocation, now after its certificate
    assert {r["status"] for r in reversed_late[1:]} == {"duplicate"}
    assert _receipts(reversed_late[1:]) == _receipts(first[:-1])

    # The operator revokes a certificate at the registry; the station's own request for the
    # same one is then a duplicate, answered with the operator's log leaf.
    other = late[-2].subject.split(":", 1)[1]  # late[-1] is the revocation
    rig.operator_revoke(other)
    rig.revoke(other)
    output = rig.station.sync_now()
    total = len(rows) + 1
    assert f"push: {total} sent in 2 batch(es): 0 accepted, {total} duplicate" in output, output
    assert {r.status for r in rig.outbox()} == {OutboxStatus.DUPLICATE}
    summary = rig.check()
    assert summary["revocations"] == 2 and summary["receipts"] == TEMPLATE_CERTIFICATES + 2


def test_a_replayed_request_is_refused_and_changes_nothing(rig):
    """The station's signed requests, captured at the proxy and re-sent byte for byte, are
    refused as replays — also after the registry restarted (the nonces are in its database);
    the same bytes with one body byte changed fail the digest. Nothing changes."""
    rig.station.sync_now()
    pushes = rig.proxy.pushes()
    assert [e.status for e in pushes] == [200, 200]
    feed = next(e for e in rig.proxy.exchanges if e.path.startswith(b"/api/v1/sync/feed"))
    before = rig.registry_rows()

    status, answer = send_raw(rig.registry.port, pushes[0].request)
    assert (status, answer["error"]) == (401, "replayed"), answer
    status, answer = send_raw(rig.registry.port, feed.request)
    assert (status, answer["error"]) == (401, "replayed"), answer
    changed = pushes[1].request.replace(b'"kind": "certificate"', b'"kind": "certificatf"', 1)
    assert changed != pushes[1].request
    status, answer = send_raw(rig.registry.port, changed)
    assert (status, answer["error"]) == (401, "digest_mismatch"), answer
    rig.registry.restart(hard=True)
    status, answer = send_raw(rig.registry.port, pushes[1].request)
    assert (status, answer["error"]) == (401, "replayed"), answer

    assert rig.registry_rows() == before
    summary = rig.check()
    assert summary["certificates"] == TEMPLATE_CERTIFICATES


def test_a_tampered_record_is_parked_and_the_rest_accepted(rig):
    """Tampered in transit (one byte of a certificate in the request): the registry refuses the
    whole request and stores nothing; the station keeps every record queued. Tampered at
    rest (a certificate's payload changed in the outbox): that record is rejected and parked
    with its reason — shown by ``station sync status`` — and every other one is accepted."""
    held = rig.proxy.hold("request")
    push = rig.station.start("sync", "now")
    exchange = held.wait()
    name = '"holder_name": "考'.encode()
    assert name in exchange.request
    exchange.request = exchange.request.replace(name, '"holder_name": "烤'.encode(), 1)
    held.release()
    code, output = rig.station.finish(push)
    assert code == 1 and "digest_mismatch" in output, output
    assert rig.registry_rows()["records"] == {}
    assert {r.status for r in rig.outbox()} == {OutboxStatus.PENDING}

    victim = next(r for r in rig.outbox() if r.kind == "certificate")
    payload = victim.payload
    payload["signed_record"]["record"]["holder_name"] = "冒名顶替"
    rig.set_payload(victim.id, payload)
    output = rig.station.sync_now()
    assert f"{RECORDS - 1} accepted, 0 duplicate, 1 rejected (parked)" in output, output
    [parked] = [r for r in rig.outbox() if r.status == OutboxStatus.REJECTED]
    assert parked.id == victim.id
    assert parked.reason.startswith("bad_signature: payload.signed_record"), parked.reason
    summary = rig.check(parked={victim.id}, status_cli=True)
    assert summary["certificates"] == TEMPLATE_CERTIFICATES - 1
