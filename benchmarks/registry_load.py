"""The load side of ``benchmarks/registry.py``: gunicorn as a child process, client processes
that push or verify over plain HTTP, and the CPU accounting (gunicorn, its PostgreSQL backends,
the clients) of each phase."""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from sync.protocol_http import sign_request
from sync.registry import db

PUSH, NOOP = "/api/v1/sync/push", "/api/v1/noop"
CTX = mp.get_context("fork")


@dataclass
class Station:
    code: str
    kid: str
    raw_key: bytes  # Ed25519 private bytes: picklable, unlike the key object
    serial: int = 0

    @property
    def key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.raw_key)


@dataclass
class Phase:
    name: str
    requests: int
    items: int
    seconds: float
    latencies: list[float]
    statuses: Counter = field(default_factory=Counter)
    cpu: dict[str, float] = field(default_factory=dict)
    beside: Phase | None = None  # clients that ran alongside (see drive)

    @property
    def rate(self) -> float:
        return self.items / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


# --------------------------------------------------------------------------- HTTP clients


class Connection:
    """A minimal HTTP/1.1 client over one socket, so that the load generator, which shares the
    machine's cores with the server, spends little CPU per request (``http.client`` parses every
    response's headers with the ``email`` package: on this path about 0.3 ms per request).

    Sends ``Content-Length`` bodies and reads answers that carry a ``Content-Length`` (every
    registry answer does; 204 and 304 have none and no body); anything else raises, as does a
    HEAD request (its answer's length describes no body). With ``keep_alive`` the socket is
    used request after request (as an employer's system with a connection pool would) and
    reopened when the server closes it; without it each request opens its own connection (a
    phone, a one-off script) and asks the server to close it.
    """

    def __init__(self, host: str, port: int, *, keep_alive: bool = True):
        self.host, self.port, self.keep_alive = host, port, keep_alive
        self.sock: socket.socket | None = None
        self.reader = None
        self.prefix = f"Host: {host}:{port}\r\n".encode() + (
            b"" if keep_alive else b"Connection: close\r\n"
        )

    def send(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple:
        if method == "HEAD":
            raise ValueError("HEAD is not supported")
        body = body or b""
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() not in
                        ("host", "content-length", "connection"))  # fmt: skip
        request = b"".join((f"{method} {path} HTTP/1.1\r\n".encode(), self.prefix,
                            lines.encode("latin-1"), b"Content-Length: %d\r\n\r\n" % len(body),
                            body))  # fmt: skip
        for attempt in (1, 2):
            fresh = self.sock is None
            if fresh:
                self._open()
            try:
                self.sock.sendall(request)  # type: ignore[union-attr]
                status, data, close = self._read()
            except (EOFError, ConnectionError):
                self.close()
                if fresh or attempt == 2:  # a new connection that fails is a real failure
                    raise
                continue  # the server had closed the kept connection: once more on a new one
            except BaseException:  # a timeout, an answer it cannot read …: no retry
                self.close()
                raise
            if close or not self.keep_alive:
                self.close()
            return status, data
        raise AssertionError("unreachable")

    def _open(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=300)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def _read(self) -> tuple[int, bytes, bool]:
        reader = self.reader
        status_line = reader.readline()  # type: ignore[union-attr]
        if not status_line:
            raise EOFError("connection closed before an answer")
        status = int(status_line.split(b" ", 2)[1])
        length, close = None, status_line.startswith(b"HTTP/1.0")
        while (line := reader.readline()) not in (b"\r\n", b"\n"):  # type: ignore[union-attr]
            if not line:
                raise EOFError("connection closed in the answer's headers")
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = b"close" in (t.strip() for t in value.lower().split(b","))
            elif name == b"transfer-encoding":
                raise ValueError(f"unexpected Transfer-Encoding: {value.strip()!r}")
        if status in (204, 304):
            length = 0
        if length is None:
            raise ValueError(f"answer without Content-Length ({status_line!r})")
        data = reader.read(length)  # type: ignore[union-attr]
        if len(data) != length:
            raise EOFError("answer cut short")
        return status, data, close

    def close(self) -> None:
        if self.sock is not None:
            self.reader.close()  # type: ignore[union-attr]
            self.sock.close()
            self.sock = self.reader = None


def _send(host: str, port: int, method: str, path: str, body: bytes | None, headers: dict):
    return Connection(host, port, keep_alive=False).send(method, path, body, headers)


def _signed_post(host: str, port: int, path: str, body: bytes, station: Station, key) -> tuple:
    prepared = requests.Request(
        "POST", f"http://{host}:{port}{path}", data=body,
        headers={"Content-Type": "application/json"},
    ).prepare()  # fmt: skip
    sign_request(prepared, station_code=station.code, kid=station.kid, private_key=key)
    return _send(host, port, "POST", path, body, dict(prepared.headers))


def pusher(host, port, path, station, bodies, ready, go, out) -> None:
    """Client process: push ``bodies`` one after another (a station's sync job does the same)."""
    key, latencies, statuses, errors = station.key, [], Counter(), []
    ready.wait()
    go.wait()
    start, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        t = time.perf_counter()
        status, data = _signed_post(host, port, path, body, station, key)
        latencies.append(time.perf_counter() - t)
        if status != 200:
            errors.append(f"{status}: {data[:300]!r}")
        elif path == PUSH:
            statuses.update(r["status"] for r in json.loads(data)["results"])
    out.put((start, time.perf_counter(), latencies, statuses, errors, time.process_time() - cpu))


def verifier(host, port, calls, keep_alive, ready, go, out) -> None:
    """Client process: one request after another (closed loop); checks every answer. With
    ``keep_alive`` the requests share one connection, else each opens its own."""
    latencies, statuses, errors = [], Counter(), []
    conn = Connection(host, port, keep_alive=keep_alive)
    ready.wait()
    go.wait()
    start, cpu = time.perf_counter(), time.process_time()
    for call in calls:
        t = time.perf_counter()
        _verify_call(conn, call, statuses, errors)
        latencies.append(time.perf_counter() - t)
    conn.close()
    out.put((start, time.perf_counter(), latencies, statuses, errors, time.process_time() - cpu))


def paced_verifier(host, port, calls, interval, stop, ready, go, out) -> None:
    """Client process beside a phase: a request every ``interval`` seconds on one kept
    connection (going round ``calls``) until ``stop`` is set. Each latency counts from when
    its request was due, so a server that stalls is charged for the requests it held up."""
    latencies, statuses, errors = [], Counter(), []
    conn = Connection(host, port, keep_alive=True)
    ready.wait()
    go.wait()
    start, cpu = time.perf_counter(), time.process_time()
    for i in itertools.count():
        if stop.is_set():
            break
        due = start + i * interval
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        _verify_call(conn, calls[i % len(calls)], statuses, errors)
        latencies.append(time.perf_counter() - due)
    conn.close()
    out.put((start, time.perf_counter(), latencies, statuses, errors, time.process_time() - cpu))


def _verify_call(conn: Connection, call: tuple, statuses: Counter, errors: list) -> None:
    method, path, body, expect = call
    headers = {"Content-Type": "application/json"} if body else {}
    status, data = conn.send(method, path, body, headers)
    verdict = json.loads(data) if status == 200 else {}
    found = verdict.get("summary") or {verdict.get("status", "ok"): 1}
    statuses.update(found)
    if status != 200 or (expect and found != expect):
        errors.append(f"{path}: {status} {data[:300]!r}")


def drive(
    target,
    jobs: list[tuple],
    server: Server,
    name: str,
    items: int,
    beside: tuple[str, list[tuple]] | None = None,
) -> Phase:
    """Run one client process per job, released together; the phase ends with the last one.

    ``beside`` (a name and :func:`paced_verifier` jobs without their ``stop``) runs those
    clients alongside until the phase's own have finished; their phase is ``.beside`` of the
    result (the server's CPU is all charged to the main phase)."""
    side_name, side_jobs = beside or ("", [])
    stop = CTX.Event()
    ready, go = CTX.Barrier(len(jobs) + len(side_jobs) + 1), CTX.Event()
    out, side_out = CTX.Queue(), CTX.Queue()
    procs = [CTX.Process(target=target, args=(*job, ready, go, out)) for job in jobs]
    side = [CTX.Process(target=paced_verifier, args=(*job, stop, ready, go, side_out))
            for job in side_jobs]  # fmt: skip
    for p in procs + side:
        p.start()
    ready.wait()
    before = server.sample()
    go.set()
    results = [out.get() for _ in procs]
    cpu = server.since(before)
    stop.set()
    side_results = [side_out.get() for _ in side]
    for p in procs + side:
        p.join()
    phase = _phase(name, results, items, cpu)
    if side:
        phase.beside = _phase(side_name, side_results, None, {})
    return phase


def _phase(name: str, results: list[tuple], items: int | None, cpu: dict) -> Phase:
    errors = [e for r in results for e in r[4]]
    if errors:
        raise SystemExit(f"{name}: {len(errors)} failed requests, e.g. {errors[:3]}")
    seconds = max(r[1] for r in results) - min(r[0] for r in results)
    latencies = [x for r in results for x in r[2]]
    statuses = sum((r[3] for r in results), Counter())
    cpu = {**cpu, "client": sum(r[5] for r in results)}
    return Phase(name, len(latencies), len(latencies) if items is None else items, seconds,
                 latencies, statuses, cpu)  # fmt: skip


# --------------------------------------------------------------------------- server


def _ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def backends(engine, app_name: str) -> list[int]:
    """The pids of the PostgreSQL backends serving connections named ``app_name``."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"), {"n": app_name}
        )
        return [r[0] for r in rows]


def cpu_seconds(pids) -> dict[int, float]:
    """CPU seconds (user + system) each of ``pids`` has used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    return {p: _ticks(p) / tick for p in pids}


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two :func:`cpu_seconds` readings (a pid new in ``after``
    counts from zero)."""
    return sum(t - before.get(p, 0) for p, t in after.items())


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _machine() -> tuple[int, int]:
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values), values[3] + values[4]  # total, idle + iowait


class Server:
    """gunicorn serving the registry; CPU accounting for it and its PostgreSQL backends."""

    def __init__(self, instance: Path, url: str, app_name: str, workers: int, threads: int = 1):
        self.port = _free_port()
        self.host = "127.0.0.1"
        self.app_name = app_name
        self.admin = db.make_engine(url)
        # gunicorn's control socket goes to $XDG_RUNTIME_DIR: one of its own, not a shared one.
        env = {**os.environ, "REGISTRY_INSTANCE": str(instance), "XDG_RUNTIME_DIR": str(instance)}
        # As operators run it: `registry run` (gunicorn, keep-alive, its worker set-up).
        self.log = instance / "gunicorn.log"
        self.log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from sync.registry.cli import main; main()", "run",
             "--host", self.host, "--port", str(self.port), "--workers", str(workers),
             "--threads", str(threads)],
            env=env, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL,
            stderr=self.log_file,
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if requests.get(f"{self.base}/healthz", timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.5)
        self.stop()
        tail = self.log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"`registry run` did not come up within 3 minutes:\n{tail}")

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def sample(self) -> dict:
        web = [self.proc.pid, *_children(self.proc.pid)]
        return {
            "web": cpu_seconds(web),
            "pg": cpu_seconds(backends(self.admin, self.app_name)),
            "machine": _machine(),
            "load": os.getloadavg()[0],
        }

    def since(self, before: dict) -> dict[str, float]:
        after = self.sample()
        total = after["machine"][0] - before["machine"][0]
        idle = after["machine"][1] - before["machine"][1]
        return {
            "web": cpu_spent(before["web"], after["web"]),
            "pg": cpu_spent(before["pg"], after["pg"]), "busy": 100 * (total - idle) / max(total, 1),
            "load": max(before["load"], after["load"]),
        }  # fmt: skip

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log_file.close()
        self.admin.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
