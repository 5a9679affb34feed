"""The benchmarks' minimal HTTP/1.1 client (``benchmarks.registry_load.Connection``) against a
scripted server on loopback: kept connections, a kept connection the server closed, the
``Connection`` header, answers without a body, and answers it must refuse."""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from benchmarks.registry_load import Connection

# path -> (raw answer, close the connection after it)
ANSWERS = {
    "/ok": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
    "/then-close": (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbye", True),
    "/close-token": (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", False),
    "/no-content": (b"HTTP/1.1 204 No Content\r\n\r\n", False),
    "/no-length": (b"HTTP/1.1 200 OK\r\n\r\nbody", True),
    "/chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", True),
    "/cut": (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", True),
}  # fmt: skip


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
