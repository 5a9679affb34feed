"""A seeded random run: rounds of station work (sessions certified, certificates revoked at the
station or by a provincial operator) each followed by a push that meets a fault (drawn from a
shuffled deck: no fault repeats before every one has come), then a final drain and the
invariants of :meth:`Rig.check`.

``E2E_SYNC_ROUNDS`` (default 4) sets the number of rounds and ``E2E_SYNC_SEED`` the seed; the
plan of every round is printed, so a failing run can be replayed with its seed:

    E2E_SYNC_ROUNDS=40 E2E_SYNC_SEED=7 .venv/bin/pytest tests/e2e/test_sync_random.py -s
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

from station.models import OutboxStatus
from tests.e2e.conftest import Rig

ROUNDS = int(os.environ.get("E2E_SYNC_ROUNDS", "4"))
SEED = int(os.environ.get("E2E_SYNC_SEED", "20261129"))


def _clean_push(rig: Rig, rng: random.Random) -> str:
    code, output = rig.station.run("sync", "now")
    assert code == 0, output
    return "pushed"


def _registry_killed_held(rig: Rig, rng: random.Random) -> str:
    """SIGKILL while a worker is held inside the batch: nothing of it is stored."""
    before = len(rig.registry_rows()["records"])
    sent = rig.proxy.hold("sent")
    with rig.registry.hold_writes():
        push = rig.station.start("sync", "now")
        sent.wait()
        time.sleep(0.3)
        rig.registry.kill()
        sent.release()
        code, output = rig.station.finish(push)
    assert code == 1, output
    assert len(rig.registry_rows()["records"]) == before
    return "registry SIGKILLed mid-batch (held)"


def _registry_killed_whenever(rig: Rig, rng: random.Random) -> str:
    """SIGKILL a random moment after the batch was sent: before, during or after its commit."""
    delay = rng.uniform(0.0, 0.8)
    sent = rig.proxy.hold("sent")
    push = rig.station.start("sync", "now")
    sent.wait()
    sent.release()
    time.sleep(delay)
    rig.registry.kill()
    code, output = rig.station.finish(push)
    assert code in (0, 1), output
    return f"registry SIGKILLed {delay:.2f} s after the batch was sent (station exit {code})"


def _registry_restarted(rig: Rig, rng: random.Random) -> str:
    """A graceful restart while the push waits at the proxy: the station does not notice."""
    held = rig.proxy.hold("request")
    push = rig.station.start("sync", "now")
    held.wait()
    rig.registry.restart(hard=False)
    held.release()
    code, output = rig.station.finish(push)
    assert code == 0, output
    return "registry restarted under a waiting push"


def _station_killed_at(point: str) -> Callable[[Rig, random.Random], str]:
    def fault(rig: Rig, rng: random.Random) -> str:
        held = rig.proxy.hold(point)
        push = rig.station.start("sync", "now")
        held.wait()
        assert rig.station.kill(push)[0] == -9
        held.drop()
        return f"station SIGKILLed at {point}"

    fault.__name__ = f"_station_killed_at_{point}"
    return fault


def _station_killed_whenever(rig: Rig, rng: random.Random) -> str:
    delay = rng.uniform(0.5, 5.0)
    push = rig.station.start("sync", "now")
    time.sleep(delay)
    code, _ = rig.station.kill(push)
    assert code in (-9, 0, 1), code
    return f"station SIGKILLed {delay:.2f} s after it started (exit {code})"


def _answer_lost(rig: Rig, rng: random.Random) -> str:
    """The registry stores the batch; its answer is lost on the way back."""
    answered = rig.proxy.hold("response")
    push = rig.station.start("sync", "now")
    answered.wait()
    answered.drop()
    code, output = rig.station.finish(push)
    assert code == 1, output
    return "answer lost"


def _sent_twice(rig: Rig, rng: random.Random) -> str:
    """A clean push, then the same records delivered again (a retry or a copy in transit)."""
    _clean_push(rig, rng)
    answered = (OutboxStatus.ACCEPTED, OutboxStatus.DUPLICATE)
    done = [r for r in rig.outbox() if r.status in answered]
    again = rng.sample(done, min(len(done), rng.randint(1, 50)))
    results = rig.push_direct(sorted(again, key=lambda r: r.seq))
    assert {r["status"] for r in results} == {"duplicate"}, results
    return f"{len(again)} records delivered twice"


FAULTS = [_clean_push, _registry_killed_held, _registry_killed_whenever, _registry_restarted,
          _station_killed_at("request"), _station_killed_at("sent"),
          _station_killed_at("response"), _station_killed_whenever, _answer_lost, _sent_twice]  # fmt: skip


def _station_work(rig: Rig, rng: random.Random) -> list[str]:
    """Issue, revoke at the station, revoke at the registry: what a round did."""
    done = []
    if rng.random() < 0.6:
        done.append(f"issued {len(rig.issue(rng.randint(1, 3)))}")
    issued, requested = rig.station_numbers()
    open_numbers = sorted(issued - requested - rig.operator_revoked)
    for number in rng.sample(open_numbers, rng.randint(0, 2)):
        rig.revoke(number, reason="随机撤销")
        done.append(f"station revoked {number[-6:]}")
    recorded = set(rig.registry_rows()["certificates"])
    candidates = sorted(recorded - requested - rig.operator_revoked)
    if candidates and rng.random() < 0.25:
        number = rng.choice(candidates)
        rig.operator_revoke(number)
        done.append(f"operator revoked {number[-6:]}")
        if rng.random() < 0.5:  # and the station asks for the same: a duplicate, answered
            rig.revoke(number, reason="站点申请撤销")  # with the operator's leaf
            done.append("station asked for it too")
    if not any(r.status == OutboxStatus.PENDING for r in rig.outbox()):
        done.append(f"issued {len(rig.issue(1))}")  # every push must carry something
    return done


def test_random_rounds_of_work_and_faults_then_drain(rig):
    rng = random.Random(SEED)
    print(f"\nseed {SEED}, {ROUNDS} rounds")
    deck: list = []  # the faults in a shuffled order, each once before any repeats
    for n in range(ROUNDS):
        work = _station_work(rig, rng)
        if not deck:
            deck = rng.sample(FAULTS, len(FAULTS))
        fault = deck.pop()
        what = fault(rig, rng)
        rig.proxy.open_all()
        if not rig.registry.running:
            rig.registry.start()
        certs = rig.registry_rows()["certificates"]
        assert len(certs) == len(set(certs)), f"round {n}: a certificate recorded twice"
        print(f"round {n}: {', '.join(work) or 'no station work'}; {what}")
    for _ in range(3):  # the drain: as the scheduler would, until nothing is left
        code, output = rig.station.run("sync", "now")
        if code == 0 and not any(r.status == OutboxStatus.PENDING for r in rig.outbox()):
            break
    else:
        raise AssertionError(f"the outbox did not drain: {output}")
    summary = rig.check()
    print(f"after the drain: {summary}")
    assert summary["certificates"] >= 210
