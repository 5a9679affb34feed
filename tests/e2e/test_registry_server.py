"""``registry run``: gunicorn's gevent workers on PostgreSQL, its threaded ones on SQLite.

A gevent worker serves every connection it holds from one thread, so clients that send half
a request and then stall (a phone on a bad link) tie up nothing: more of them than the
threaded workers have threads, and the registry still answers everyone else at once.
"""

from __future__ import annotations

import contextlib
import socket
import time

import pytest

from sync.registry.db import make_engine
from tests.e2e.harness import HTTP, RegistryServer

STALLED = 24  # more than 2 threaded workers × 4 threads
NUMBER = "S000144440300264000001"  # well-formed, not recorded


def _stalled_clients(port: int, count: int) -> list[socket.socket]:
    """Connections that each sent the head and first byte of a 100-byte body, then stop."""
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"POST /api/v1/verify HTTP/1.1\r\nHost: registry\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n[")  # fmt: skip
        held.append(sock)
    time.sleep(0.5)  # every one accepted and its head read by a worker
    return held


def test_run_picks_the_worker_class_for_the_database(registry):
    server, _token = registry
    server.start()
    expected = "gthread" if server.database_url is None else "gevent"
    log = server.log.read_text()
    assert f"(gunicorn, 2 × {expected})" in log
    assert f"Using worker: {expected}" in log
    assert HTTP.get(f"{server.url}/healthz", timeout=10).status_code == 200


def test_gevent_workers_answer_while_clients_stall(registry):
    server, _token = registry
    if server.database_url is None:
        pytest.skip("gevent workers serve PostgreSQL (REGISTRY_TEST_DATABASE_URL)")
    server.start()
    held = _stalled_clients(server.port, STALLED)
    try:
        started = time.monotonic()
        answer = HTTP.post(f"{server.url}/api/v1/verify", json={"items": [NUMBER]}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"][0]["status"] == "not_found"
        assert time.monotonic() - started < 5
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()


def test_gevent_is_refused_on_sqlite(tmp_path):
    instance = tmp_path / "instance"
    server = RegistryServer(instance, None, make_engine(f"sqlite:///{instance / 'r.db'}"), tmp_path)
    server.cli("init")
    result = server.cli("run", "--worker-class", "gevent", check=False)
    assert result.returncode == 1
    assert "gevent" in result.stderr and "PostgreSQL" in result.stderr
    assert "SkillCert registry on" not in result.stdout
