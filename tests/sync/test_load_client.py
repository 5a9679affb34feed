"""The benchmarks' minimal HTTP/1.1 client (``benchmarks.registry_load.Connection``) against a
scripted server on loopback: kept connections, a kept connection the server closed, the
``Connection`` header, answers without a body, and answers it must refuse; and the paced
verifier that runs beside the backlog, whose latencies count from when each request was due."""

from __future__ import annotations

import queue
import socket
import socketserver
import threading
import time

import pytest

from benchmarks.registry_load import Connection, paced_verifier

# path -> (raw answer, close the connection after it)
ANSWERS = {
    "/ok": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
    "/then-close": (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbye", True),
    "/close-token": (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", False),
    "/no-content": (b"HTTP/1.1 204 No Content\r\n\r\n", False),
    "/no-length": (b"HTTP/1.1 200 OK\r\n\r\nbody", True),
    "/chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", True),
    "/cut": (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", True),
    "/verify": (b'HTTP/1.1 200 OK\r\nContent-Length: 23\r\n\r\n{"summary":{"valid":1}}', False),
}  # fmt: skip
STALL = 0.3  # seconds the server takes over a request to /stall


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        self.server.connections += 1  # type: ignore[attr-defined]
        while True:
            request_line = self.rfile.readline()
            if not request_line:
                return
            length = 0
            while (line := self.rfile.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = self.rfile.read(length)
            path = request_line.split()[1].decode()
            self.server.bodies.append(body)  # type: ignore[attr-defined]
            if path == "/stall":
                time.sleep(STALL)
                path = "/verify"
            answer, close = ANSWERS[path]
            self.wfile.write(answer)
            self.wfile.flush()
            if close:
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.bodies: list[bytes] = []


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _client(server, *, keep_alive=True) -> Connection:
    return Connection("127.0.0.1", server.server_address[1], keep_alive=keep_alive)


def test_a_kept_connection_carries_request_after_request(server):
    conn = _client(server)
    for i in range(3):
        assert conn.send("POST", "/ok", b"item %d" % i, {"Content-Type": "application/json"}) == (
            200,
            b"ok",
        )
    conn.close()
    assert server.connections == 1
    assert server.bodies == [b"item 0", b"item 1", b"item 2"]


def test_a_kept_connection_the_server_closed_is_reopened_once(server):
    conn = _client(server)
    assert conn.send("POST", "/then-close", b"1", {}) == (200, b"bye")  # no Connection: close
    assert conn.send("POST", "/ok", b"2", {}) == (200, b"ok")  # EOF on the old one: retried
    conn.close()
    assert server.connections == 2 and server.bodies == [b"1", b"2"]


def test_connection_close_among_tokens_and_new_connections(server):
    conn = _client(server)
    assert conn.send("GET", "/close-token", None, {}) == (200, b"")
    assert conn.sock is None  # closed as the server asked
    one_off = _client(server, keep_alive=False)
    assert one_off.send("POST", "/ok", b"x", {}) == (200, b"ok")
    assert one_off.sock is None
    assert server.connections == 2


def test_an_answer_without_a_body(server):
    conn = _client(server)
    assert conn.send("POST", "/no-content", b"", {}) == (204, b"")
    assert conn.send("POST", "/ok", b"", {}) == (200, b"ok")  # the connection is still in step
    conn.close()
    assert server.connections == 1


@pytest.mark.parametrize(
    "path, error",
    [("/no-length", ValueError), ("/chunked", ValueError), ("/cut", EOFError)],
)
def test_answers_it_cannot_read_fail_and_close_the_socket(server, path, error):
    conn = _client(server)
    with pytest.raises(error):
        conn.send("POST", path, b"", {})
    assert conn.sock is None
    assert server.connections == 1  # a fresh connection that fails is not retried


def test_head_is_refused_and_a_dead_server_fails():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = Connection("127.0.0.1", port)
    with pytest.raises(ValueError, match="HEAD"):
        conn.send("HEAD", "/ok", None, {})
    with pytest.raises(ConnectionRefusedError):
        conn.send("GET", "/ok", None, {})


def test_the_paced_verifier_counts_latency_from_when_a_request_was_due(server):
    """A request every 50 ms; the second one stalls the server for 300 ms. The requests due
    meanwhile go late, and their latencies say so (a closed loop would hide the stall)."""
    calls = [("POST", "/verify", b"1", {"valid": 1}), ("POST", "/stall", b"2", {"valid": 1})]
    calls += [("POST", "/verify", b"x", {"valid": 1})] * 30
    stop, go, out = threading.Event(), threading.Event(), queue.Queue()
    go.set()
    args = ("127.0.0.1", server.server_address[1], calls, 0.05, stop, threading.Barrier(1), go, out)
    client = threading.Thread(target=paced_verifier, args=args)
    client.start()
    time.sleep(0.8)
    stop.set()
    client.join(10)
    start, end, latencies, statuses, errors, _cpu = out.get(timeout=1)
    assert errors == []
    assert statuses == {"valid": len(latencies)}
    assert len(latencies) >= 4 and server.bodies[:4] == [b"1", b"2", b"x", b"x"]  # in turn
    assert latencies[1] >= STALL
    # Due 50 and 100 ms after the stalled one, sent only once it was answered: each is charged
    # for its wait (lower bounds: an answer cannot come before its request was sent).
    assert latencies[2] >= STALL - 0.05 and latencies[3] >= STALL - 0.10
    assert server.connections == 1
