"""Benchmark: the provincial registry under gunicorn + PostgreSQL — ingestion, verification, backlog.

Starts a real registry with ``registry run`` (gunicorn; with ``--threads`` above 1 threaded
workers that keep connections) on a loopback port over a fresh PostgreSQL schema of its own
(dropped at the end), enrolls stations over HTTP, pre-builds signed certificate records
(``certs.record``, ``certs.cert_token``, ``sync.protocol``, each station with its own key), and
then measures:

1. **ingestion**: batches of 200 pushed from several client processes to ``POST
   /api/v1/sync/push``, every request RFC 9421-signed at send time with a fresh nonce; the
   registry checks three Ed25519 signatures per certificate, stores it and appends it to the
   transparency log. Baseline: the same signed bodies, sent the same way, to ``/api/v1/noop``
   (reads the body, no database). A batch pushed again must come back all ``duplicate``.
2. **verification**: ``POST /api/v1/verify`` from several client processes (closed loop), each
   answer checked (every token ``valid``): one QR token per request on a new connection each
   (a phone, a one-off script), one token per request on a kept connection (an employer's
   system), and ``--batch`` tokens per request (the batch API); tokens/s, p50, p99 per request.
   Baseline: ``/api/v1/noop`` sent the same bodies the same way. With ``--threads 1`` (sync
   workers, no keep-alive) only the first.
3. **backlog**: a fresh backlog (default 100,000 records) pushed as station clients push it,
   each station sending its batches one after another; the time until the last is stored.
   Beside it, two clients verify one token per request at a steady ``--beside-rate`` in all
   (employers do not stop while stations catch up), each latency counted from when its request
   was due: what a verification waits for while every worker has pushes in hand.

Afterwards every certificate must be stored exactly once (rows, log leaves, sync records) and
``registry log verify`` must pass. The machine is shared: the table shows the 1-minute load,
how busy the CPUs were, and the CPU time that gunicorn and its PostgreSQL backends spent per
item. Ratios are this phase's rate / the no-op's rate in the same run.

    .venv/bin/python benchmarks/registry.py [--quick] [--certs 20000] [--clients 4]
        [--workers 2] [--threads 4] [--verify-requests 10000] [--verify-clients 8] [--batch 20]
        [--backlog 100000] [--backlog-stations 2] [--skip-backlog] [--beside-rate 40]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

Targets: >= 2,000 certificates/s ingested; >= 1,000 verifications/s with p99 < 50 ms (the
summary line takes single-token requests on kept connections); a 100,000-record backlog
drained in under 2 minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks.registry_load`

import requests
from sqlalchemy import text

from benchmarks.registry_load import (
    CTX,  # fmt: skip
    NOOP,
    PUSH,
    Phase,
    Server,
    Station,
    drive,
    pusher,
    verifier,
)
from certs import cert_token
from certs import keys as key_tools
from certs.identity import SHANGHAI, IdType, check_character
from certs.record import CertificateRecord, sign_record
from sync import protocol, protocol_keys
from sync.registry import create_app, db
from sync.registry.services import stations as station_service

BATCH = 200
Post = Callable[[str, dict], tuple[int, str]]  # (path, JSON body) -> (status, answer text)
TARGET_INGEST, TARGET_VERIFY, TARGET_P99_MS, TARGET_BACKLOG_S = 2000, 1000, 50, 120
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"


# --------------------------------------------------------------------------- records


def _holder(i: int) -> str:
    return SURNAMES[i % 20] + GIVEN[(i // 20) % 20] + GIVEN[(i // 400) % 20]


def _id_number(i: int) -> str:
    first17 = f"440305199{i % 10}{1 + i // 10 % 12:02d}{1 + i // 120 % 28:02d}{i % 1000:03d}"
    return first17 + check_character(first17)


def _build_batch(spec: tuple[Station, int, int, dt.date]) -> tuple[bytes, list[tuple[str, str]]]:
    """One push body of ``count`` certificate records from ``first`` on, and (number, token)s."""
    station, first, count, issue = spec
    key, records, issued = station.key, [], []
    for serial in range(first, first + count):
        record = CertificateRecord(
            holder_name=_holder(serial), id_type=IdType.resident_id,
            id_number=_id_number(serial), occupation="工业机器人系统操作员",
            occupation_code="6-31-01-10", direction="", level="四级/中级工",
            issuer="广东省机械行业职业技能鉴定中心", issue_date=issue,
            number=f"S000144{station.code}{issue.year % 100:02d}4{serial:06d}",
            photo_sha256=hashlib.sha256(f"photo{serial}".encode()).hexdigest(),
            programme_code="IRAP", programme_name="工业机器人应用编程",
            session_code="S20261205-03", theory_score=60 + serial % 40, practical_score=88.5,
            review_score=None, station_code=station.code, kid=station.kid,
        )  # fmt: skip
        token = cert_token.sign_token(
            cert_token.claims_from_record(record), private_key=key, kid=station.kid
        )
        payload = {"signed_record": sign_record(record, key).to_dict(), "token": token}
        records.append(
            protocol.sign_record("certificate", payload, private_key=key, kid=station.kid).to_dict()
        )
        issued.append((record.number, token))
    body = {"batch": str(uuid.uuid4()), "records": records}
    return json.dumps(body, ensure_ascii=False).encode(), issued


def build(pool, station: Station, total: int, issue: dt.date, batch: int = BATCH):
    """``total`` records of ``station`` in bodies of ``batch``: (bodies, [(number, token)])."""
    specs = []
    while total > 0:
        count = min(batch, total)
        specs.append((station, station.serial + 1, count, issue))
        station.serial += count
        total -= count
    bodies, issued = [], []
    for body, pairs in pool.imap(_build_batch, specs):
        bodies.append(body)
        issued.extend(pairs)
    return bodies, issued


# --------------------------------------------------------------------------- setup and checks


class BenchSchema:
    """A fresh PostgreSQL schema of the run's own (``url`` selects it and names the connections
    ``app_name``, so their backends can be told apart); :meth:`drop` removes it."""

    def __init__(self, database_url: str):
        tag = uuid.uuid4().hex[:10]
        self.name, self.app_name = f"bench_{tag}", f"skillcert-bench-{tag}"
        sep = "&" if "?" in database_url else "?"
        self.url = (f"{database_url}{sep}options=-csearch_path%3D{self.name}"
                    f"&application_name={self.app_name}")  # fmt: skip
        self.admin = db.make_engine(database_url)
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))

    def __str__(self) -> str:
        return self.name

    def drop(self) -> None:
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.admin.dispose()


def init_instance(instance: Path, url: str) -> None:
    """``registry init`` in-process, then the benchmark's settings in the instance config."""
    app = create_app({"DATABASE_URL": url}, instance_path=str(instance))
    result = app.test_cli_runner().invoke(args=["init"])
    if result.exit_code:
        raise SystemExit(f"registry init failed: {result.output}")
    app.extensions["registry_engine"].dispose()
    with (instance / "config.py").open("a", encoding="utf-8") as fh:
        fh.write(f"DATABASE_URL = {url!r}\nRATELIMIT_ENABLED = False\n")
        fh.write("REGISTRY_NOOP_ENDPOINT = True\n")


def enroll(post: Post, instance: Path, url: str, code: str, today: dt.date) -> Station:
    """Record the station (the operator's step), then enroll it with a new key through
    ``post`` (over HTTP, or a test client's in process)."""
    app = create_app({"DATABASE_URL": url}, instance_path=str(instance))
    with app.app_context(), db.transaction() as session:
        _, token = station_service.add_station(
            session, code=code, name=f"考核站 {code}", city="深圳市", actor="bench"
        )
    app.extensions["registry_engine"].dispose()
    key = key_tools.generate()
    kid = key_tools.key_id(key.public_key(), "st-")
    body = {
        "token": token, "station_code": code, "station_name": f"考核站 {code}",
        "keys": [{"kid": kid, "public_key": key_tools.public_pem(key.public_key()),
                  "valid_from": (today - dt.timedelta(days=60)).isoformat(),
                  "valid_until": None}],
        "proof": protocol_keys.make_enrollment_proof(key, token=token, station_code=code),
    }  # fmt: skip
    status, answer = post("/api/v1/enroll", body)
    if status != 200:
        raise SystemExit(f"enrollment of {code} failed: {answer}")
    raw = key.private_bytes_raw()
    return Station(code, kid, raw)


def http_post(server: Server) -> Post:
    """A :data:`Post` to ``server`` over HTTP."""

    def post(path: str, body: dict) -> tuple[int, str]:
        response = requests.post(f"{server.base}{path}", json=body, timeout=60)
        return response.status_code, response.text

    return post


def check_stored(url: str, instance: Path, numbers: set[str]) -> str:
    """Every certificate stored exactly once (rows, leaves, sync records); the log verifies."""
    engine = db.make_engine(url)
    with engine.connect() as conn:
        stored = [r[0] for r in conn.execute(text("SELECT number FROM certificate"))]
        leaves = conn.execute(
            text("SELECT count(*), count(DISTINCT number) FROM log_leaf WHERE kind='certificate'")
        ).one()
        records = conn.execute(text("SELECT count(*) FROM sync_record")).scalar_one()
    engine.dispose()
    problems = []
    if len(stored) != len(set(stored)) or set(stored) != numbers:
        problems.append(f"certificate rows: {len(stored)} for {len(numbers)} pushed")
    if tuple(leaves) != (len(numbers), len(numbers)):
        problems.append(f"log leaves (all, distinct): {tuple(leaves)} for {len(numbers)}")
    if records != len(numbers):
        problems.append(f"sync records: {records} for {len(numbers)}")
    verify = subprocess.run(
        [sys.executable, "-c", "from sync.registry.cli import main; main()", "log", "verify"],
        env={**os.environ, "REGISTRY_INSTANCE": str(instance)}, capture_output=True, text=True,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    if verify.returncode:
        problems.append(f"registry log verify: {verify.stdout} {verify.stderr}")
    if problems:
        raise SystemExit("stored state is wrong:\n  " + "\n  ".join(problems))
    return " / ".join(verify.stdout.strip().splitlines())


def verification_calls(issued: list[tuple[str, str]], n: int, per_request: int) -> list[tuple]:
    """``n`` requests to ``POST /api/v1/verify``, ``per_request`` QR tokens each, spread over
    the certificates pushed (each answer must say every token is valid)."""
    pick = [issued[(i * 7919) % len(issued)][1] for i in range(n * per_request)]
    return [("POST", "/api/v1/verify",
             json.dumps({"items": pick[i:i + per_request]}).encode(), {"valid": per_request})
            for i in range(0, len(pick), per_request)]  # fmt: skip


# --------------------------------------------------------------------------- main


def _split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


def _row(p: Phase, base: Phase | None, unit: str) -> str:
    ratio = f"{p.rate / base.rate:6.3f}" if base else "     -"
    head = (f"{p.name:<54}{p.requests:>7}{p.items:>8}{p.seconds:>8.2f}{p.rate:>9.0f} {unit:<6}"
            f"{p.pct(0.5):>7.1f}{p.pct(0.99):>8.1f} {ratio:>7}")  # fmt: skip
    if "web" not in p.cpu:  # clients beside another phase: the server's CPU is charged there
        return f"{head}{'-':>8}{'-':>7}{p.cpu['client'] / p.items * 1000:>8.2f}{'-':>7}{'-':>6}"
    web, pg, client = (p.cpu[k] / p.items * 1000 for k in ("web", "pg", "client"))
    return f"{head}{web:>8.2f}{pg:>7.2f}{client:>8.2f}{p.cpu['busy']:>6.0f}%{p.cpu['load']:>6.1f}"


def _count(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small run: 2,000 / 2,000 / 5,000")
    ap.add_argument("--certs", type=_count, default=20_000, help="certificates in the ingest phase")
    ap.add_argument("--clients", type=_count, default=4, help="client processes pushing at once")
    ap.add_argument(
        "--workers", type=_count, default=2, help="gunicorn workers (as `registry run`)"
    )
    ap.add_argument(
        "--threads", type=_count, default=4,
        help="threads per worker (gthread, keep-alive); 1 = sync workers, a connection per request",
    )  # fmt: skip
    ap.add_argument("--verify-requests", type=_count, default=10_000)
    ap.add_argument("--verify-clients", type=_count, default=8)
    ap.add_argument("--batch", type=_count, default=20, help="tokens per batch verify request")
    ap.add_argument("--backlog", type=_count, default=100_000)
    ap.add_argument("--backlog-stations", type=_count, default=2, help="stations sharing it")
    ap.add_argument("--skip-backlog", action="store_true", help="no backlog phase")
    ap.add_argument("--beside-rate", type=_count, default=40,
                    help="one-token verifications/s sent while the backlog drains")  # fmt: skip
    ap.add_argument("--database-url", default=os.environ.get(
        "REGISTRY_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))  # fmt: skip
    args = ap.parse_args(argv)
    if args.quick:
        args.certs, args.verify_requests, args.backlog = 2_000, 2_000, 5_000

    schema = BenchSchema(args.database_url)
    url, app_name = schema.url, schema.app_name
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
            instance = Path(tmp) / "instance"
            init_instance(instance, url)
            server = Server(instance, url, app_name, args.workers, args.threads)
            today = dt.datetime.now(SHANGHAI).date()
            codes = [f"4403{i:02d}" for i in range(1 + args.backlog_stations)]
            stations = [enroll(http_post(server), instance, url, c, today) for c in codes]
            if args.skip_backlog:
                args.backlog = 0
            kind = "sync" if args.threads == 1 else f"gthread × {args.threads} threads"
            print(f"registry on {server.base} ({args.workers} gunicorn workers, {kind}), schema"
                  f" {schema}; building {args.certs + args.backlog:,} signed records …",
                  flush=True)  # fmt: skip
            started = time.perf_counter()
            with CTX.Pool(os.cpu_count() or 2) as pool:
                warm, warm_issued = build(pool, stations[0], 4 * args.workers * 10, today, 10)
                bodies, issued = build(pool, stations[0], args.certs, today)
                per_station = args.backlog // args.backlog_stations
                backlog = (
                    [build(pool, s, per_station, today) for s in stations[1:]]
                    if per_station
                    else []
                )
            print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
            numbers = {n for n, _ in warm_issued + issued + [p for b in backlog for p in b[1]]}

            h, p = server.host, server.port
            jobs = [(h, p, PUSH, stations[0], chunk) for chunk in _split(warm, 4 * args.workers)]
            drive(pusher, jobs, server, "warm-up", len(warm_issued))
            phases: list[tuple[Phase, Phase | None, str]] = []
            noop_jobs = [(h, p, NOOP, stations[0], c) for c in _split(bodies, args.clients)]
            noop = drive(pusher, noop_jobs, server, "ingest: no-op (same bodies)", args.certs)
            push_jobs = [(h, p, PUSH, stations[0], c) for c in _split(bodies, args.clients)]
            push = drive(pusher, push_jobs, server, "ingest: POST sync/push", args.certs)
            if push.statuses != Counter(accepted=args.certs):
                raise SystemExit(f"ingest: expected all accepted, got {dict(push.statuses)}")
            phases += [(noop, None, "cert"), (push, noop, "cert")]
            again = drive(pusher, [(h, p, PUSH, stations[0], bodies[:1])], server, "again", 0)
            if again.statuses != Counter(duplicate=len(json.loads(bodies[0])["records"])):
                raise SystemExit(f"a batch pushed again: {dict(again.statuses)}")

            n, verify = args.verify_requests, None
            # A connection per request (browsers, one-off scripts; all that sync workers serve),
            # then, when the workers keep connections, one per client (an employer's system),
            # and a batch of tokens per request (the batch API as meant).
            runs = [(False, 1)] + ([(True, 1), (True, args.batch)] if args.threads > 1 else [])
            for keep, per in runs:
                calls = verification_calls(issued, n // per, per)
                noop_calls = [(m, NOOP, b, None) for m, _, b, _ in calls]
                how = "kept connection" if keep else "new connection"
                what = f"POST /api/v1/verify ({per} token{'s' if per > 1 else ''})"
                vnoop = drive(verifier, [(h, p, c, keep) for c in
                                         _split(noop_calls, args.verify_clients)],
                              server, f"verify: no-op (same bodies, {how})", len(calls) * per)  # fmt: skip
                phase = drive(verifier, [(h, p, c, keep) for c in
                                         _split(calls, args.verify_clients)],
                              server, f"verify: {what}, {how}", len(calls) * per)  # fmt: skip
                phases += [(vnoop, None, "token"), (phase, vnoop, "token")]
                if per == 1:
                    verify = phase

            drain = None
            if backlog:
                jobs = [(h, p, PUSH, s, b[0]) for s, b in zip(stations[1:], backlog, strict=True)]
                # Employers keep verifying while stations catch up: paced clients alongside,
                # their latency counted from when each request was due.
                calls = verification_calls(issued, 2_000, 1)
                rate = args.beside_rate
                side = (f"  beside it: verify (1 token), {rate}/s, kept connections",
                        [(h, p, c, 2 / rate) for c in _split(calls, 2)])  # fmt: skip
                drain = drive(pusher, jobs, server, f"backlog: {len(jobs)} stations, sequential",
                              sum(len(b[1]) for b in backlog), beside=side)  # fmt: skip
                phases += [(drain, None, "cert"), (drain.beside, None, "token")]
            server.stop()
            server = None
            checked = check_stored(url, instance, numbers)
    finally:
        if server is not None:
            server.stop()
        schema.drop()

    print()
    print(f"{'phase':<54}{'reqs':>7}{'items':>8}{'secs':>8}{'rate':>9} {'/s':<6}{'p50ms':>7}"
          f"{'p99ms':>8} {'×no-op':>7}{'web ms':>8}{'pg ms':>7}{'client':>8}{'busy':>7}"
          f"{'load':>6}")  # fmt: skip
    for phase, base, unit in phases:
        print(_row(phase, base, unit))
    print("(web / pg / client: CPU ms per item spent by gunicorn / its PostgreSQL backends / the"
          " load-generating clients on the same machine; busy: all CPUs of the machine during the"
          " phase; load: 1-minute load average; ×no-op: rate / the no-op's rate)")  # fmt: skip
    print(f"\nstored: {len(numbers):,} certificates, each exactly once; {checked}")
    assert verify is not None
    print(
        f"targets: ingest {push.rate:,.0f}/s (>= {TARGET_INGEST:,}); verify (1 token/request) "
        f"{verify.rate:,.0f}/s "
        f"(>= {TARGET_VERIFY:,}) p99 {verify.pct(0.99):.1f} ms (< {TARGET_P99_MS})"
        + ("" if drain is None else
           f"; backlog of {drain.items:,} drained in {drain.seconds:.0f} s (100,000 in < "
           f"{TARGET_BACKLOG_S} s: {100_000 / drain.rate:.0f} s at this rate), verifications "
           f"beside it p99 {drain.beside.pct(0.99):.1f} ms")
    )  # fmt: skip
    cores = os.cpu_count() or 1
    print(
        f"server CPU only (the clients share these {cores} cores here): gunicorn + PostgreSQL "
        f"would serve {_capacity(push, cores):,.0f} certificates/s and "
        f"{_capacity(verify, cores):,.0f} verifications/s on them; at this CPU per item the "
        f"targets need {TARGET_INGEST * _cpu_per_item(push):.1f} cores (ingestion) and "
        f"{TARGET_VERIFY * _cpu_per_item(verify):.1f} (verification) kept fully busy"
    )
    return 0


def _cpu_per_item(phase: Phase) -> float:
    """CPU seconds gunicorn and PostgreSQL spent per item of ``phase``."""
    return (phase.cpu["web"] + phase.cpu["pg"]) / phase.items


def _capacity(phase: Phase, cores: int) -> float:
    """Items/s the server could do on ``cores`` if its CPU per item (gunicorn and PostgreSQL)
    were all it spent: what the rate would be with the load generator on another machine."""
    per_item = _cpu_per_item(phase)
    return cores / per_item if per_item else float("inf")


if __name__ == "__main__":
    sys.exit(main())
