"""A loopback HTTP/1.1 proxy between a station and the registry that injects faults.

:class:`FaultProxy`: the station is enrolled with the proxy's URL, so every sync request goes
through it byte for byte (the RFC 9421 signature covers the ``Host`` the station sent, so
forwarding unchanged keeps it valid). It records every exchange (the raw request is what a
replay test re-sends) and a :class:`Gate` stops one exchange at a chosen point — before
forwarding, after forwarding, or with the answer in hand — until the test lets it go, drops it,
or (at ``request``) rewrites its bytes.
"""

from __future__ import annotations

import json
import socket
import threading

PUSH_PATH = "/api/v1/sync/push"
GATE_TIMEOUT = 60.0  # a gate nobody opens lets its exchange go after this long
POINTS = ("request", "sent", "response")


class Exchange:
    """One HTTP request through the proxy and what became of it."""

    def __init__(self, request: bytes):
        self.request = request  # raw bytes, as the station sent them (a gate may rewrite them)
        self.method, self.path = request.split(b" ", 2)[:2]
        self.response: bytes | None = None
        self.forwarded = threading.Event()
        self.done = threading.Event()
        self.outcome = ""  # delivered | dropped | upstream_failed | client_gone

    @property
    def status(self) -> int | None:
        return int(self.response.split(b" ", 2)[1]) if self.response else None


class Gate:
    """Stops the ``nth`` exchange (counted from the gate's creation) whose path starts with
    ``path`` at ``point`` until :meth:`release` or :meth:`drop` (which closes the station's
    connection without passing anything on)."""

    def __init__(self, point: str, path: str, nth: int):
        assert point in POINTS, point
        self.point, self.path, self.nth = point, path, nth
        self.seen = 0
        self.exchange: Exchange | None = None
        self.reached = threading.Event()
        self._open = threading.Event()
        self._drop = False

    def wait(self, timeout: float = 90) -> Exchange:
        assert self.reached.wait(timeout), f"no {self.point} #{self.nth} on {self.path} came"
        assert self.exchange is not None
        return self.exchange

    def release(self) -> None:
        self._open.set()

    def drop(self) -> None:
        self._drop = True
        self._open.set()

    def _stop(self, exchange: Exchange) -> bool:
        self.exchange = exchange
        self.reached.set()
        self._open.wait(GATE_TIMEOUT)
        return not self._drop


class FaultProxy:
    """A loopback HTTP/1.1 proxy in front of the registry (see the module docstring)."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.exchanges: list[Exchange] = []
        self._gates: list[Gate] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hold(self, point: str, *, path: str = PUSH_PATH, nth: int = 1) -> Gate:
        gate = Gate(point, path, nth)
        with self._lock:
            self._gates.append(gate)
        return gate

    def open_all(self) -> None:
        with self._lock:
            gates, self._gates = self._gates, []
        for gate in gates:
            gate.release()

    def pushes(self) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if e.path == PUSH_PATH.encode()]

    def close(self) -> None:
        self._closed = True
        self.open_all()
        self._server.close()

    # ---- inside

    def _pass(self, exchange: Exchange, point: str) -> bool:
        with self._lock:
            stop = None
            for gate in self._gates:
                if gate.point == point and exchange.path.startswith(gate.path.encode()):
                    gate.seen += 1
                    if gate.seen == gate.nth:
                        stop = gate
            if stop is not None:
                self._gates.remove(stop)
        return True if stop is None else stop._stop(exchange)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        reader = client.makefile("rb")
        try:
            while True:
                raw = _read_message(reader)
                if raw is None:
                    return
                exchange = Exchange(raw)
                with self._lock:
                    self.exchanges.append(exchange)
                try:
                    if not self._relay(client, exchange):
                        return
                finally:
                    exchange.done.set()
        finally:
            reader.close()
            client.close()

    def _relay(self, client: socket.socket, exchange: Exchange) -> bool:
        """One exchange; False when the station's connection must close."""
        if not self._pass(exchange, "request"):
            exchange.outcome = "dropped"
            return False
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=120)
        except OSError:
            exchange.outcome = "upstream_failed"
            return False
        with upstream, upstream.makefile("rb") as answer:
            try:
                upstream.sendall(exchange.request)
                exchange.forwarded.set()
                if not self._pass(exchange, "sent"):
                    exchange.outcome = "dropped"
                    return False
                exchange.response = _read_message(answer)
            except OSError:
                exchange.response = None
        if exchange.response is None:
            exchange.outcome = "upstream_failed"
            return False
        if not self._pass(exchange, "response"):
            exchange.outcome = "dropped"
            return False
        try:
            client.sendall(exchange.response)
        except OSError:
            exchange.outcome = "client_gone"
            return False
        exchange.outcome = "delivered"
        head = exchange.response.split(b"\r\n\r\n", 1)[0].lower()
        return b"connection: close" not in head


def _read_message(reader) -> bytes | None:
    """One HTTP/1.1 message (head and body) from a buffered socket reader; None at EOF.
    Bodies come with a Content-Length (``requests`` and Flask send one), or end with the
    connection (an answer without one)."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline(65537)
        if not line:
            return None
        if head == b"" and line == b"\r\n":
            continue
        head += line
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    if b"content-length" in fields:
        body = reader.read(int(fields[b"content-length"]))
    elif head.startswith(b"HTTP/"):
        body = reader.read()  # delimited by the connection closing
    else:
        body = b""
    return head + body


def send_raw(port: int, request: bytes) -> tuple[int, dict]:
    """Send raw request bytes to a server; its status and JSON answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(request)
        with conn.makefile("rb") as reader:
            response = _read_message(reader)
    assert response is not None, "no answer"
    head, body = response.split(b"\r\n\r\n", 1)
    return int(head.split(b" ", 2)[1]), json.loads(body)
