"""Fixtures for the station's sync tests: a REAL registry served on a loopback port.

``registry`` starts :mod:`tests.station.test_sync_server` in a child process (see there why
not in this interpreter): a registry app on a temp SQLite database, initialised and with this
station recorded through its CLI runner, served by werkzeug in a thread. The fixture reads the
enrollment token it printed and can run further registry CLI commands in it, stop it and start
it again. ``ctx`` is the station's sync context; ``enrolled`` has the station enrolled.
(No tests in this module.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from station import db
from station.models import OutboxRecord, SyncState
from sync import client

STATION_CODE = "110101"  # the test instance's STATION_CODE (tests/station/conftest.py)
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Registry:
    process: subprocess.Popen
    url: str
    token: str
    log: Path  # the child's stderr (werkzeug's request log, tracebacks)

    def _ask(self, command: dict) -> dict:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"registry process ended: {self.log.read_text()}"
        return json.loads(line)

    def cli(self, *args: str, ok: bool = True) -> str:
        """Run a ``registry`` command in the registry's process; its output."""
        answer = self._ask({"cli": list(args)})
        if ok:
            assert answer["exit_code"] == 0, answer["output"]
        return answer["output"]

    def stop(self) -> None:
        """The registry goes down (its port refuses connections)."""
        self._ask({"stop": True})

    def start(self) -> None:
        self._ask({"start": True})

    def fail_pushes_with(self, record_ids: list[str], status: int = 500) -> None:
        """Answer ``status`` to any push carrying one of these records (``[]`` ends it)."""
        self._ask({"fail_pushes_with": list(record_ids), "status": status})

    def push_sizes(self) -> list[int]:
        """How many records each push that reached the registry carried, in order."""
        return self._ask({"pushes": True})["sizes"]

    def root_public_pem(self) -> str:
        output = self.cli("keys", "show")
        return output[output.index("-----BEGIN") :]

    def log_counts(self) -> tuple[int, int]:
        """(certificates, revocations) in the registry's transparency log; the log verifies."""
        output = self.cli("log", "verify")
        assert "log verified: OK" in output, output
        words = output.split()
        return (int(words[words.index("certificates,") - 1]),
                int(words[words.index("revocations") - 1]))  # fmt: skip


@pytest.fixture
def registry(tmp_path):
    instance = tmp_path / "registry-instance"
    instance.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    log = tmp_path / "registry.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.station.test_sync_server", str(instance), STATION_CODE],
            cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
            text=True, encoding="utf-8",
        )  # fmt: skip
    first = process.stdout.readline()  # type: ignore[union-attr]
    if not first:
        process.wait(timeout=30)
        pytest.fail(f"registry did not start: {log.read_text()}")
    hello = json.loads(first)
    assert "url" in hello, hello
    reg = Registry(process, hello["url"], hello["token"], log)
    yield reg
    try:
        process.stdin.write(json.dumps({"quit": True}) + "\n")  # type: ignore[union-attr]
        process.stdin.close()  # type: ignore[union-attr]
        process.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        process.kill()
        process.wait()


@pytest.fixture
def ctx(app) -> client.StationContext:
    return client.StationContext.from_app(app, actor="test")


@pytest.fixture
def enrolled(app, ctx, registry) -> Registry:
    client.enroll(ctx, registry.url, registry.token)
    return registry


def outbox_rows(app, kind: str | None = None) -> list[OutboxRecord]:
    from sqlmodel import col, select

    with app.app_context(), db.transaction(write=False) as s:
        query = select(OutboxRecord).order_by(col(OutboxRecord.seq))
        if kind:
            query = query.where(OutboxRecord.kind == kind)
        return list(s.exec(query))


def sync_row(app) -> SyncState:
    with app.app_context(), db.transaction(write=False) as s:
        return s.get(SyncState, 1)
