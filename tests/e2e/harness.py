"""The two apps as real processes on loopback ports.

* :class:`RegistryServer` — ``registry run`` (gunicorn, 2 workers × 4 threads) in a process
  group of its own, on a free port, over its own instance folder and database (SQLite in the
  instance, or a PostgreSQL schema). It can be SIGKILLed (master and workers at once, as a
  power cut would), stopped gracefully, restarted on the same port, and *held*:
  :meth:`RegistryServer.hold_writes` keeps the database's write lock (SQLite) or the
  transparency log's row lock (PostgreSQL) in the test, so that a push that has reached a
  worker cannot finish — the point where a kill lands "while the batch is being processed",
  every time, not by luck of timing.
* :class:`StationCli` — the ``station`` command on a station instance (``STATION_INSTANCE``):
  ``station sync now`` run to completion, or started and SIGKILLed half way.

The proxy between them that injects faults is :mod:`tests.e2e.fault_proxy`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests
from sqlalchemy import Engine, text

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HTTP = requests.Session()
HTTP.trust_env = False  # loopback only: no proxy from the environment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(name: str) -> list[str]:
    """The installed console script, else the same entry point through this interpreter."""
    script = BIN / name
    if script.exists():
        return [str(script)]
    module = {"registry": "sync.registry.cli", "station": "station.cli"}[name]
    return [sys.executable, "-c", f"from {module} import main; main()"]


def _base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REGISTRY_INSTANCE", "STATION_INSTANCE")}  # fmt: skip
    env.update(PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", **extra)
    return env


# --------------------------------------------------------------------------- registry


class RegistryServer:
    """One registry instance: its CLI, and ``registry run`` started, killed and restarted."""

    def __init__(self, instance: Path, database_url: str | None, engine: Engine, workdir: Path):
        self.instance = instance
        self.database_url = database_url  # None: SQLite in the instance folder
        self.engine = engine
        self.port = free_port()
        self.workdir = workdir
        self.log = workdir / "registry.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        # gunicorn keeps a control socket in $XDG_RUNTIME_DIR: one per registry, not shared,
        # at a short path (a UNIX socket's path may not exceed 107 bytes).
        self.runtime = Path(tempfile.mkdtemp(prefix="e2e-gunicorn-"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        extra = {"REGISTRY_INSTANCE": str(self.instance), "XDG_RUNTIME_DIR": str(self.runtime)}
        if self.database_url:
            extra["DATABASE_URL"] = self.database_url
        return _base_env(**extra)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([*_command("registry"), *args], env=self.env(), cwd=REPO,
                                capture_output=True, text=True, timeout=180)  # fmt: skip
        if check and result.returncode:
            raise AssertionError(
                f"registry {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
            )
        return result

    def setup(self, station_code: str) -> str:
        """``registry init`` and ``registry stations add``; returns the enrollment token."""
        self.cli("init")
        out = self.cli("stations", "add", station_code, "--name", "故障测试站点",
                       "--city", "北京市").stdout  # fmt: skip
        lines = [line.strip() for line in out.splitlines()]
        return lines[next(i for i, t in enumerate(lines) if t.startswith("enrollment token")) + 1]

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "registry already running"
        with self.log.open("a") as log:
            log.write(f"--- start #{self.starts + 1}\n")
            log.flush()
            self.proc = subprocess.Popen(
                [*_command("registry"), "run", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", "2"],
                env=self.env(), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill takes the workers too
            )  # fmt: skip
        self.starts += 1
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"registry exited at start:\n{self.log.read_text()}")
            try:
                if HTTP.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"registry not up after 90 s:\n{self.log.read_text()}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once: nothing gets to clean up."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        """A graceful stop (SIGTERM): workers finish the request in hand, then exit."""
        if not self.running:
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(45)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(ProcessLookupError):  # a worker the master lost
            os.killpg(self.proc.pid, signal.SIGKILL)

    def restart(self, *, hard: bool) -> None:
        self.kill() if hard else self.stop()
        self.start()

    @contextlib.contextmanager
    def hold_writes(self) -> Iterator[None]:
        """Keep every push from committing while the block runs (see the module docstring).

        SQLite: the database's write lock (a push waits at its first write, the request's
        nonce, after reading the whole body). PostgreSQL: the log head's row lock (a push
        waits in ``lock_log`` after checking every record). Released by rolling back.
        """
        if self.engine.dialect.name == "sqlite":
            conn = sqlite3.connect(self.engine.url.database, timeout=30, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield
            finally:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                conn.close()
            return
        with self.engine.connect() as conn:
            tx = conn.begin()
            conn.execute(text("UPDATE log_state SET updated_at = updated_at WHERE id = 1"))
            try:
                yield
            finally:
                tx.rollback()

    def get(self, path: str, **params) -> dict:
        response = HTTP.get(f"{self.url}{path}", params=params, timeout=30)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.json()

    def problems(self) -> list[str]:
        """Tracebacks, errors and worker timeouts in the server's log."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return [line for line in text.splitlines()
                if "Traceback" in line or "[ERROR]" in line or "[CRITICAL]" in line]  # fmt: skip

    def log_verify(self) -> tuple[int, int]:
        """``registry log verify`` passes; (certificates, revocations) it counted."""
        result = self.cli("log", "verify", check=False)
        assert result.returncode == 0 and "log verified: OK" in result.stdout, (
            result.stdout + result.stderr
        )
        words = result.stdout.split()
        return (int(words[words.index("certificates,") - 1]),
                int(words[words.index("revocations") - 1]))  # fmt: skip

    def close(self) -> None:
        self.kill()
        self.engine.dispose()
        shutil.rmtree(self.runtime, ignore_errors=True)


# --------------------------------------------------------------------------- station


class StationCli:
    """The ``station`` command for one instance, as its own process each time."""

    def __init__(self, instance: Path, workdir: Path):
        self.instance = instance
        self.workdir = workdir
        self.runs = 0
        self.started: list[subprocess.Popen] = []

    def env(self) -> dict[str, str]:
        return _base_env(STATION_INSTANCE=str(self.instance))

    def start(self, *args: str) -> subprocess.Popen:
        self.runs += 1
        out = (self.workdir / f"station-{self.runs}.out").open("w")
        proc = subprocess.Popen([*_command("station"), *args], env=self.env(), cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        proc.output_file = out  # type: ignore[attr-defined]
        self.started.append(proc)
        return proc

    def finish(self, proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str]:
        code = proc.wait(timeout)
        out = proc.output_file  # type: ignore[attr-defined]
        out.close()
        output = Path(out.name).read_text(encoding="utf-8", errors="replace")
        assert "Traceback" not in output, output
        return code, output

    def kill(self, proc: subprocess.Popen) -> tuple[int, str]:
        """SIGKILL, mid-whatever; its exit status (``-9`` unless it had ended) and output."""
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        return self.finish(proc, 30)

    def run(self, *args: str) -> tuple[int, str]:
        return self.finish(self.start(*args))

    def sync_now(self, *, ok: bool = True) -> str:
        code, output = self.run("sync", "now")
        if ok:
            assert code == 0, output
        return output

    def status(self) -> dict:
        code, output = self.run("sync", "status", "--json")
        assert code == 0, output
        return json.loads(output)

    def close(self) -> None:
        """Kill whatever a failed test left running (only the processes started here)."""
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
            proc.output_file.close()  # type: ignore[attr-defined]
