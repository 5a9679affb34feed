"""Benchmark: the theory exam API under 300 concurrent candidates, against the real server.

Builds a temporary instance (``benchmarks/exam_setup.py``: N candidates checked in, session in
progress), starts ``station run`` on a loopback port as a subprocess, and drives it over HTTP/1.1
with keep-alive connections, one per simulated candidate (asyncio streams, one event loop):

1. setup: every candidate logs in (own terminal id), starts, and GETs the form;
2. realistic: every candidate saves an answer every ~3 s (uniform 2–4 s, random offsets);
3. full speed: every candidate saves as fast as the server answers;
4. baseline: every candidate calls ``GET /api/exam/noop`` (token check only) as fast as the
   server answers — same server, same connections, same concurrency. Saves and the no-op are
   both answered by the lean WSGI layer in front of Flask, so the ratio is the cost of saving.

About 5 % of saves replay an older change of the same item with its old ``seq`` (a late or
repeated request): the server must answer ``applied: false`` and keep the newer answer.

The login row is the 300 simultaneous first logins (each draws its form). The machine's load
average is printed before and after: the load generator shares the machine with the server (and,
on a shared machine, with whatever else runs), so figures are comparable within one run.

Printed: per phase requests, errors, req/s, p50/p99/max latency (client side, ms), the ratios
save p50 / noop p50 and saves/s / noop req/s at full speed, and the issue's targets (p99 < 100 ms
at 300 candidates saving every 3 s; peak ≥ 500 saves/s). Then the server is stopped and the SQLite
file is opened read-only: every acknowledged save must be there, and each item must hold the
value of its highest acknowledged ``seq`` ("lost: 0, reordered: 0"). Exit status 1 when an
answer is lost or reordered or a request failed; the targets are reported, not enforced.

    .venv/bin/python benchmarks/exam_load.py [--candidates 300] [--realistic-seconds 30]
        [--full-seconds 15] [--port 0] [--threads N] [--timeline] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `benchmarks.exam_setup`, also when run from elsewhere

from benchmarks.exam_setup import HOST, free_port, seed_exam, start_server, stop_server, wait_ready  # noqa: E402

REQUEST_TIMEOUT = 30.0  # a request slower than this counts as an error
SETUP_SECONDS = 180.0  # every candidate must be logged in, started and have its form by then
SETUP_STALL = 30.0  # ... and setup gives up on the rest when nobody got ready for this long
PACE = 3.0  # realistic: seconds between one candidate's saves, on average
REPLAY_SHARE = 0.05
TARGET_P99_MS = 100.0
TARGET_PEAK = 500.0


# --- a minimal HTTP/1.1 client over asyncio streams ----------------------------------------------


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive connection; reopened after an error or a ``Connection: close``."""

    def __init__(self, port: int, keepalive: bool = True):
        self.port, self.keepalive = port, keepalive
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body=None, token: str | None = None):
        try:
            return await asyncio.wait_for(self._request(method, path, body, token), REQUEST_TIMEOUT)
        except BaseException:
            self.close()  # never reuse a connection in an unknown state
            raise

    async def _request(self, method, path, body, token):
        reused = self.writer is not None
        try:
            return await self._exchange(method, path, body, token)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            # The server closed an idle keep-alive connection (waitress: after 120 s) before this
            # request reached it; like a browser, send it again once on a new connection.
            if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                raise
            self.close()
            return await self._exchange(method, path, body, token)

    async def _exchange(self, method, path, body, token):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        payload = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        if token:
            head.append(f"Authorization: Bearer {token}")
        if method != "GET":
            head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        if not self.keepalive:
            head.append("Connection: close")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            data = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                data += await self.reader.readexactly(size + 2)
                data = data[:-2]
            await self.reader.readuntil(b"\r\n")
        else:
            data = await self.reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        try:
            return status, json.loads(data) if data else None
        except ValueError as exc:
            raise HttpError(f"{method} {path}: {status} with a body that is not JSON") from exc


# --- statistics ----------------------------------------------------------------------------------


@dataclass
class Stats:
    name: str
    latencies: list[float] = field(default_factory=list)  # ms, successful requests
    done_at: list[float] = field(default_factory=list)  # perf_counter() at each success
    errors: Counter = field(default_factory=Counter)
    started: float = 0.0
    finished: float = 0.0

    def ok(self, ms: float) -> None:
        self.latencies.append(ms)
        self.done_at.append(time.perf_counter())

    def timeline(self, step: float = 1.0) -> list[int]:
        """Successes per ``step`` seconds, from the first to the last (stalls show as dips)."""
        if not self.done_at:
            return []
        first = min(self.done_at)
        counts = Counter(int((t - first) / step) for t in self.done_at)
        return [counts.get(i, 0) for i in range(max(counts) + 1)]

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    @property
    def rate(self) -> float:
        span = self.finished - self.started
        return len(self.latencies) / span if span > 0 else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- simulated candidates ------------------------------------------------------------------------


@dataclass
class Item:
    uid: str
    type: str
    keys: list[str]


class Candidate:
    def __init__(self, number: str, last6: str, port: int, rng: random.Random,
                 keepalive: bool = True):  # fmt: skip
        self.number, self.last6, self.rng = number, last6, rng
        self.conn = Connection(port, keepalive)
        self.terminal = f"load-{uuid.uuid4().hex[:16]}"
        self.token = ""
        self.items: list[Item] = []
        self.seq = 0
        self.sent: dict[tuple[str, int], tuple[list[str], bool]] = {}  # every save sent
        self.acked: dict[str, int] = {}  # uid → highest acknowledged seq
        self.history: dict[str, list[int]] = {}  # uid → acknowledged fresh seqs, in order
        self.violations: list[str] = []  # what the API itself answered wrongly
        self.ready = False

    async def call(self, stats: Stats, method: str, path: str, body=None, expect=200):
        t0 = time.perf_counter()
        try:
            status, data = await self.conn.request(method, path, body, self.token)
        except TimeoutError:
            stats.errors["timeout"] += 1
            return None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, HttpError) as exc:
            stats.errors[type(exc).__name__] += 1
            return None
        if status != expect:
            code = data.get("error") if isinstance(data, dict) else ""
            stats.errors[f"{status} {code}".strip()] += 1
            return None
        stats.ok((time.perf_counter() - t0) * 1000)
        return data

    async def setup(self, login: Stats, start: Stats, form: Stats, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while not self.ready and loop.time() < deadline:
            if not self.token:
                body = {"admission_number": self.number, "id_last6": self.last6,
                        "terminal_id": self.terminal}  # fmt: skip
                data = await self.call(login, "POST", "/api/exam/login", body)
                self.token = data["token"] if data else ""
            elif await self.call(start, "POST", "/api/exam/start", {}) is not None:
                data = await self.call(form, "GET", "/api/exam/form")
                if data is not None:
                    self.items = [Item(i["uid"], i["type"], [o["key"] for o in i["options"]])
                                  for i in data["items"]]  # fmt: skip
                    self.ready = bool(self.items)
            if not self.ready:
                await asyncio.sleep(0.5)

    def _response(self, item: Item) -> list[str]:
        if self.rng.random() < 0.05:
            return []  # the candidate cleared the answer
        if item.type == "multiple_choice":
            return sorted(self.rng.sample(item.keys, self.rng.randint(2, len(item.keys))))
        return [self.rng.choice(item.keys)]

    async def save_once(self, stats: Stats) -> None:
        replayable = [uid for uid, seqs in self.history.items() if len(seqs) >= 2]
        if replayable and self.rng.random() < REPLAY_SHARE:
            uid = self.rng.choice(replayable)
            seq = self.history[uid][-2]  # an older change of this item, sent again late
            stale = True
        else:
            uid, stale = self.rng.choice(self.items).uid, False
            self.seq += 1
            seq = self.seq
            item = next(i for i in self.items if i.uid == uid)
            self.sent[(uid, seq)] = (self._response(item), self.rng.random() < 0.05)
        response, flagged = self.sent[(uid, seq)]
        data = await self.call(stats, "PUT", f"/api/exam/answers/{uid}",
                               {"seq": seq, "response": response, "flagged": flagged})  # fmt: skip
        if data is None:
            return
        if data.get("ack") != seq:
            self.violations.append(f"{self.number} {uid} seq {seq}: ack {data.get('ack')}")
        if data.get("applied") is stale:
            what = "stale replay applied" if stale else "fresh save not applied"
            self.violations.append(f"{self.number} {uid} seq {seq}: {what}")
        self.acked[uid] = max(self.acked.get(uid, 0), seq)
        if not stale:
            self.history.setdefault(uid, []).append(seq)

    async def saving(self, stats: Stats, end: float, pace: float | None) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + (self.rng.uniform(0, pace) if pace else 0.0)
        while True:
            if pace:
                if next_at >= end:
                    return
                await asyncio.sleep(max(next_at - loop.time(), 0.0))
                next_at += self.rng.uniform(pace * 2 / 3, pace * 4 / 3)
            elif loop.time() >= end:
                return
            await self.save_once(stats)

    async def nooping(self, stats: Stats, end: float) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < end:
            await self.call(stats, "GET", "/api/exam/noop")


async def drive(args, people: list[tuple[str, str]], port: int) -> tuple[list[Stats], list]:
    rng = random.Random(args.seed)
    candidates = [Candidate(n, last6, port, random.Random(rng.random()), not args.no_keepalive)
                  for n, last6 in people]  # fmt: skip
    loop = asyncio.get_running_loop()
    login, start, form = Stats("login"), Stats("start"), Stats("form")
    login.started = loop.time()
    deadline = login.started + SETUP_SECONDS
    tasks = [asyncio.create_task(c.setup(login, start, form, deadline)) for c in candidates]
    ready, progress_at = 0, loop.time()
    while not all(t.done() for t in tasks):
        await asyncio.sleep(0.5)
        now_ready = sum(c.ready for c in candidates)
        if now_ready > ready:
            ready, progress_at = now_ready, loop.time()
        elif loop.time() - progress_at > SETUP_STALL:
            break  # the others are not getting answers: go on with those who are in
    for t in tasks:
        t.cancel()  # closes their connections
    await asyncio.gather(*tasks, return_exceptions=True)
    login.finished = start.finished = form.finished = loop.time()
    start.started = form.started = login.started
    active = [c for c in candidates if c.ready]
    print(f"setup: {len(active)}/{len(candidates)} candidates logged in, started, form loaded "
          f"in {login.finished - login.started:.1f} s")  # fmt: skip
    phases = [login, start, form]

    async def phase(name, seconds, work):
        stats = Stats(name)
        stats.started = loop.time()
        end = stats.started + seconds
        await asyncio.gather(*(work(c, stats, end) for c in active))
        stats.finished = loop.time()
        phases.append(stats)
        print(f"{name}: {len(stats.latencies)} ok, {sum(stats.errors.values())} errors")
        return stats

    if active:
        await phase(f"save every ~{PACE:g} s", args.realistic_seconds,
                    lambda c, s, end: c.saving(s, end, PACE))  # fmt: skip
        await phase("save full speed", args.full_seconds,
                    lambda c, s, end: c.saving(s, end, None))  # fmt: skip
        await phase("noop full speed", args.full_seconds, lambda c, s, end: c.nooping(s, end))
    for c in candidates:
        c.conn.close()
    return phases, candidates


# --- checking the database -----------------------------------------------------------------------


def check_database(db_path: Path, candidates: list[Candidate]) -> tuple[list[str], list[str]]:
    """(lost, reordered): acknowledged answers missing, and items holding the wrong change."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT c.admission_number, a.item_uid, a.response, a.flagged, a.seq FROM answer a "
            "JOIN attempt t ON t.id = a.attempt_id JOIN candidate c ON c.id = t.candidate_id"
        ).fetchall()
    finally:
        conn.close()
    stored = {(n, uid): (resp, bool(flag), seq) for n, uid, resp, flag, seq in rows}
    lost, reordered = [], []
    for c in candidates:
        reordered += c.violations
        for uid, acked_seq in c.acked.items():
            row = stored.get((c.number, uid))
            if row is None:
                lost.append(f"{c.number} {uid}: acked seq {acked_seq}, nothing stored")
                continue
            response, flagged, seq = row
            sent = c.sent.get((uid, seq))
            if seq < acked_seq:
                lost.append(f"{c.number} {uid}: acked seq {acked_seq}, stored seq {seq}")
            elif sent is None or ("".join(sorted(set(sent[0]))), sent[1]) != (response, flagged):
                reordered.append(f"{c.number} {uid}: stored seq {seq} = {response!r} "
                                 f"flagged={flagged}, sent {sent}")  # fmt: skip
    return lost, reordered


# --- report --------------------------------------------------------------------------------------


def report(
    phases: list[Stats], n_candidates: int, active: int, timeline: bool = False
) -> list[str]:
    print()
    print(f"{'phase':<18}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'max ms':>9}")  # fmt: skip
    for s in phases:
        top = max(s.latencies) if s.latencies else float("nan")
        print(f"{s.name:<18}{s.requests:>9}{sum(s.errors.values()):>8}{s.rate:>9.1f}"
              f"{s.pct(0.5):>9.1f}{s.pct(0.99):>9.1f}{top:>9.1f}")  # fmt: skip
    if timeline:
        for s in phases:
            print(f"  {s.name} per second: {' '.join(map(str, s.timeline()))}")
    problems = [f"{s.name}: {dict(s.errors)}" for s in phases if s.errors]
    for p in problems:
        print(f"  errors in {p}")
    by_name = {s.name: s for s in phases}
    paced = by_name.get(f"save every ~{PACE:g} s")
    full, noop = by_name.get("save full speed"), by_name.get("noop full speed")
    if not (paced and full and noop and full.latencies and noop.latencies):
        print("\nno figures: the candidates never got past setup")
        return problems + ["no figures"]
    print()
    print(f"save p50 / noop p50 (full speed):  {full.pct(0.5) / noop.pct(0.5):.2f}")
    print(f"saves/s / noop req/s (full speed): {full.rate / noop.rate:.2f}")
    print()
    p99, peak = paced.pct(0.99), full.rate
    short = f" (only {active} of {n_candidates} candidates got in)" if active < n_candidates else ""
    p99_met = p99 < TARGET_P99_MS and not short
    print(f"target p99 < {TARGET_P99_MS:g} ms at {n_candidates} candidates saving every "
          f"{PACE:g} s: {p99:.1f} ms — {'met' if p99_met else 'NOT met'}{short}")  # fmt: skip
    print(f"target peak ≥ {TARGET_PEAK:g} saves/s: {peak:.1f} — "
          f"{'met' if peak >= TARGET_PEAK else 'NOT met'}")  # fmt: skip
    return problems


def server_log_findings(log_path: Path) -> list[str]:
    text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    findings = []
    if (n := text.count("Traceback")) > 0:
        findings.append(f"{n} tracebacks")
    for needle in ("connection limit", "Task queue depth", "database is locked"):
        if (n := text.count(needle)) > 0:
            findings.append(f"{n}× '{needle}'")
    return findings


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--realistic-seconds", type=float, default=30.0)
    parser.add_argument("--full-seconds", type=float, default=15.0)
    parser.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="passed to `station run --threads` (default: its own default)",
    )
    parser.add_argument(
        "--no-keepalive",
        action="store_true",
        help="a new connection per request (diagnosis; terminals keep them alive)",
    )
    parser.add_argument("--timeline", action="store_true", help="successes per second, per phase")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="skillcert-load-"))
    proc = None
    print(f"{os.cpu_count()} CPUs; load average before: {_load()}; "
          f"station run --threads {args.threads or 'default'}")  # fmt: skip
    try:
        t0 = time.perf_counter()
        people = seed_exam(instance, args.candidates)
        print(f"seeded {len(people)} candidates in {time.perf_counter() - t0:.1f} s ({instance})")
        port = args.port or free_port()
        log_path = instance / "server.log"
        proc = start_server(instance, port, log_path, args.threads)
        wait_ready(proc, port)
        print(f"station run on {HOST}:{port} (pid {proc.pid})")
        phases, candidates = asyncio.run(drive(args, people, port))
        stop_server(proc)
        problems = report(phases, args.candidates, sum(c.ready for c in candidates), args.timeline)
        findings = server_log_findings(log_path)
        print(f"server log: {', '.join(findings) if findings else 'no errors or warnings'}")
        print(f"load average after: {_load()}")
        lost, reordered = check_database(instance / "station.db", candidates)
        acked = sum(len(c.acked) for c in candidates)
        print(f"\ndatabase check ({acked} acknowledged items of "
              f"{sum(c.ready for c in candidates)} candidates):")  # fmt: skip
        print(f"lost: {len(lost)}, reordered: {len(reordered)}")
        for line in (lost + reordered)[:50]:
            print(f"  {line}")
        return 1 if lost or reordered or problems else 0
    finally:
        if proc is not None:
            stop_server(proc)
        if args.keep:
            print(f"instance kept: {instance}")
        else:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
