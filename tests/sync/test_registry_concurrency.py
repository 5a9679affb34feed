"""Several workers writing at once: pushes (some racing with the very same records) and
operator revocations, from threads with their own connections. Appends are serialised by the
database's row lock, so afterwards the log verifies, every certificate has exactly one leaf and
every record was accepted exactly once. Meaningful on PostgreSQL (REGISTRY_TEST_DATABASE_URL);
on SQLite the database write lock does the same job."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter

import pytest
from sqlalchemy import func
from sqlmodel import select

from sync.registry import db
from sync.registry import keys as root_keys
from sync.registry.models import Certificate, LogLeaf, Revocation
from sync.registry.services import revocations
from sync.registry.services.log_audit import verify_log
from tests.sync.registry_helpers import StationSim, init_registry, results

WORKERS = 6
ROUNDS = 3
BATCH = 15


@pytest.fixture
def app(registry_app):
    init_registry(registry_app)
    return registry_app


def test_parallel_pushes_and_revocations_keep_the_log_exact(app):
    sims = [StationSim(app, f"4403{i:02d}") for i in range(3)]
    for sim in sims:
        sim.enroll()
    # Each station's batches are pushed by two workers at once: every record races its twin.
    plans = []
    for _ in range(ROUNDS):
        for sim in sims:
            batch = [sim.certificate() for _ in range(BATCH)]
            plans.append((sim, batch))
    seeded = results(sims[0].push([sims[0].certificate(900 + i) for i in range(4)]))
    assert all(r["status"] == "accepted" for r in seeded)

    verdicts: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(WORKERS + 1)

    def worker(index: int) -> None:
        try:
            client_sim = StationSim.__new__(StationSim)
            barrier.wait()
            for plan_no, (sim, batch) in enumerate(plans):
                if plan_no % (WORKERS // 2) != index % (WORKERS // 2):
                    continue
                client_sim.__dict__.update(sim.__dict__, client=app.test_client())
                got = results(client_sim.push(batch))
                with lock:
                    verdicts.extend((r["id"], r["status"]) for r in got)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def revoker() -> None:
        try:
            barrier.wait()
            for serial in range(900, 904):
                with app.app_context(), db.transaction() as session:
                    signer = root_keys.load_signer(
                        session, passphrase=root_keys.passphrase_from(app.config)
                    )
                    revocations.revoke(
                        session,
                        number=sims[0].number(serial),
                        reason="并发撤销测试",
                        actor="sun",
                        signer=signer,
                    )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    threads.append(threading.Thread(target=revoker))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors

    by_id = Counter(rid for rid, status in verdicts if status == "accepted")
    all_ids = {r["id"] for _, batch in plans for r in batch}
    assert set(by_id) == all_ids and set(by_id.values()) == {1}
    assert Counter(status for _, status in verdicts) == {
        "accepted": len(all_ids),
        "duplicate": len(all_ids),
    }

    with app.app_context(), db.transaction() as session:
        report = verify_log(session)
        assert report.ok, report.problems
        certificates = session.exec(select(func.count()).select_from(Certificate)).one()
        assert certificates == len(all_ids) + 4
        assert session.exec(select(func.count()).select_from(Revocation)).one() == 4
        assert report.tree_size == certificates + 4
        per_number = Counter(
            session.exec(select(LogLeaf.number).where(LogLeaf.kind == "certificate"))
        )
        assert set(per_number.values()) == {1} and len(per_number) == certificates
    assert app.test_cli_runner().invoke(args=["log", "verify"]).exit_code == 0


def _push_in_process(url: str, instance: str, requests_: list[tuple[str, dict, bytes]]) -> list:
    """Child process: its own app, engine and connections; sends pre-signed pushes."""
    from sync.registry import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": url}, instance_path=instance)
    client = app.test_client()
    out = []
    for path, headers, body in requests_:
        response = client.open(path, method="POST", headers=headers, data=body)
        assert response.status_code == 200, response.get_data(as_text=True)
        out.extend((r["id"], r["status"]) for r in response.get_json()["results"])
    app.extensions["registry_engine"].dispose()
    return out


def test_parallel_processes_store_each_record_once(app, registry_url):
    sim = StationSim(app, "440301")
    sim.enroll()
    batches = [[sim.certificate() for _ in range(BATCH)] for _ in range(4)]
    per_process: list[list[tuple[str, dict, bytes]]] = [[] for _ in range(3)]
    for number, batch in enumerate(batches):
        body = {"batch": f"00000000-0000-4000-8000-{number:012d}", "records": batch}
        for copy in range(2):  # every batch goes out twice, from two processes
            prepared = sim.prepare("POST", "/api/v1/sync/push", body=body)
            target = per_process[(number + copy) % 3]
            target.append((prepared.path_url, dict(prepared.headers), prepared.body))
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        outcomes = pool.starmap(
            _push_in_process, [(registry_url, app.instance_path, reqs) for reqs in per_process]
        )
    verdicts = [v for chunk in outcomes for v in chunk]
    ids = {r["id"] for batch in batches for r in batch}
    accepted = Counter(rid for rid, status in verdicts if status == "accepted")
    assert set(accepted) == ids and set(accepted.values()) == {1}
    assert Counter(status for _, status in verdicts)["duplicate"] == len(ids)
    with app.app_context(), db.transaction() as session:
        report = verify_log(session)
        assert report.ok and report.tree_size == len(ids) == report.certificates
