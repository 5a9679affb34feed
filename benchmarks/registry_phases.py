"""Benchmark: where one push's time goes, in one process, on PostgreSQL (no HTTP, no gunicorn).

``benchmarks/registry.py`` measures the registry as deployed; this script takes a push apart.
It enrolls a station in a fresh schema, pre-builds signed certificate records (200 per push, as
stations send them) and, for each push, measures on its own thread:

1. **checks**: :func:`sync.registry.services.push_checks.prepare` for every record (three
   Ed25519 checks, validation, the stored copies): the CPU part, done with no lock held;
2. **push**: the whole of ``POST /api/v1/sync/push`` past the request signature, as the view
   runs it (:func:`sync.registry.services.push.ingest_push` in one transaction, committed).

The push's time beyond its checks is, but for three small look-ups before it (the station, its
keys, the root key), its locked phase: the log's row lock is taken after the checks and held to the
commit (look-ups, log appends, tree head, receipts, COPY, commit). Pushes from several workers can
overlap their checks but not their locked phases, so one certificate's share of the locked phase
bounds the ingestion rate however many cores serve it. Baseline: three bare libsodium Ed25519
checks, what every certificate must cost at least.

    .venv/bin/python benchmarks/registry_phases.py [--certs 20000]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks.registry`

from nacl.bindings import crypto_sign, crypto_sign_keypair, crypto_sign_open

from benchmarks.registry import (
    BATCH,
    CTX,
    TARGET_INGEST,
    BenchSchema,
    _count,
    build,
    enroll,
    init_instance,
)
from benchmarks.registry_load import backends, cpu_seconds, cpu_spent
from certs.identity import SHANGHAI
from sync.registry import create_app, db
from sync.registry import keys as root_keys
from sync.registry.services import push, stations
from sync.registry.services.push_checks import StationKeys, prepare


def bare_checks(n: int) -> float:
    """Seconds of thread CPU for ``n`` libsodium Ed25519 checks of a 200-byte message."""
    public, secret = crypto_sign_keypair()
    signed = crypto_sign(b"x" * 200, secret)
    start = time.thread_time()
    for _ in range(n):
        crypto_sign_open(signed, public)
    return time.thread_time() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--certs", type=_count, default=20_000)
    ap.add_argument("--database-url", default=os.environ.get(
        "REGISTRY_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))  # fmt: skip
    args = ap.parse_args(argv)

    schema = BenchSchema(args.database_url)
    url, app_name = schema.url, schema.app_name
    try:
        with tempfile.TemporaryDirectory(prefix="registry-phases-") as tmp:
            instance = Path(tmp) / "instance"
            init_instance(instance, url)
            app = create_app({"DATABASE_URL": url}, instance_path=str(instance))
            client = app.test_client()

            def post(path: str, body: dict) -> tuple[int, str]:
                answer = client.post(path, json=body)
                return answer.status_code, answer.get_data(as_text=True)

            today = dt.datetime.now(SHANGHAI).date()
            station = enroll(post, instance, url, "440300", today)
            with CTX.Pool(os.cpu_count() or 2) as pool:
                warm, _ = build(pool, station, 2 * BATCH, today)
                bodies, _ = build(pool, station, args.certs, today)
            with app.app_context():
                totals = _run(app, station.code, warm, bodies, app_name)
            app.extensions["registry_engine"].dispose()
    finally:
        schema.drop()

    n = args.certs
    base = bare_checks(3 * 2_000) / 2_000  # three checks, per certificate
    locked = (totals["push wall"] - totals["checks wall"]) / n
    rows = [
        ("three bare Ed25519 checks (libsodium)", base),
        ("checks: prepare() per record, CPU", totals["checks cpu"] / n),
        ("push: ingest_push + commit, CPU", totals["push cpu"] / n),
        ("push: PostgreSQL backend CPU", totals["pg cpu"] / n),
        ("push: wall", totals["push wall"] / n),
        ("push wall - checks wall (~ locked phase)", locked),
    ]
    print(f"\n{n:,} certificates in pushes of {BATCH}, one at a time, in one process\n")
    print(f"{'per certificate':<44}{'ms':>8}{'× 3 checks':>12}")
    for name, seconds in rows:
        print(f"{name:<44}{1000 * seconds:>8.3f}{seconds / base:>12.1f}")
    print(
        f"\nthe locked phase bounds ingestion at {1 / locked:,.0f} certificates/s however many "
        f"workers push at once (target {TARGET_INGEST:,}/s); the push's CPU and PostgreSQL's "
        f"({1000 * (totals['push cpu'] + totals['pg cpu']) / n:.3f} ms) need "
        f"{TARGET_INGEST * (totals['push cpu'] + totals['pg cpu']) / n:.1f} cores at that rate"
    )
    return 0


def _run(app, code: str, warm: list[bytes], bodies: list[bytes], app_name: str) -> dict:
    """Push ``warm`` unmeasured, then each of ``bodies`` twice over: its checks alone, then
    the whole push. Returns the summed seconds."""
    secret = bytes.fromhex(app.config["ID_HASH_SECRET"])
    passphrase = root_keys.passphrase_from(app.config)
    totals = dict.fromkeys(("checks cpu", "checks wall", "push cpu", "push wall", "pg cpu"), 0.0)
    with db.transaction() as session:  # the checks alone, as ingest_push makes them
        station = stations.get_station(session, code)
        keys = stations.station_keys(session, station)
    for measured, body in [(False, b) for b in warm] + [(True, b) for b in bodies]:
        data = json.loads(body)
        batch_keys = StationKeys(keys)  # per push, as a rotation in a batch changes it
        wall, cpu = time.perf_counter(), time.thread_time()
        for index, raw in enumerate(data["records"]):
            prepare(index, raw, station=station, keys=batch_keys, secret=secret)
        checks_cpu, checks_wall = time.thread_time() - cpu, time.perf_counter() - wall
        pg_before = cpu_seconds(backends(db.engine(), app_name))
        wall, cpu = time.perf_counter(), time.thread_time()
        with db.transaction() as session:
            signer = root_keys.load_signer(session, passphrase=passphrase)
            result = push.ingest_push(
                session,
                station=stations.get_station(session, code),
                body=data,
                signer=signer,
                secret=secret,
            )
        spent = {
            "checks cpu": checks_cpu,
            "checks wall": checks_wall,
            "push cpu": time.thread_time() - cpu,
            "push wall": time.perf_counter() - wall,
            "pg cpu": cpu_spent(pg_before, cpu_seconds(pg_before)),
        }
        if any(r["status"] != "accepted" for r in result["results"]):
            raise SystemExit(f"a push was not all accepted: {result['results'][:2]}")
        if measured:
            for key, value in spent.items():
                totals[key] += value
    return totals


if __name__ == "__main__":
    sys.exit(main())
