"""An acknowledged answer survives the station being killed, and downtime costs no exam time.

The real server (`station run`) is killed with SIGKILL in the middle of a burst of saves, kept
down for a while, and restarted on the same instance; the candidates then log in again on the
same terminals and must find every acknowledged answer and the remaining time they had.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import signal
import threading
import time

import pytest

from benchmarks.exam_setup import HOST, free_port, seed_exam, start_server, stop_server, wait_ready

CANDIDATES = 5
THREADS_PER_CANDIDATE = 2  # so that saves of one attempt also arrive out of order
DOWNTIME = 8.0  # seconds the station stays dead
UPTIME = 4.0  # seconds the exam runs before the burst, and again after the restart
TOLERANCE = 3.0  # the heartbeat runs every 2 s; a restart may give back up to that much


class Terminal:
    """One candidate's exam page, speaking the JSON API over keep-alive connections."""

    def __init__(self, port: int, number: str, last6: str, terminal: str):
        self.port, self.number, self.last6, self.terminal = port, number, last6, terminal
        self.token = ""
        self.items: list[dict] = []
        self.seq = itertools.count(1)
        self.lock = threading.Lock()
        self.sent: dict[tuple[str, int], tuple[str, bool]] = {}  # (uid, seq) → (response, flag)
        self.acked: dict[str, int] = {}  # uid → highest acknowledged seq

    def call(self, method, path, body=None, conn=None, timeout=10.0):
        own = conn is None
        conn = conn or http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            payload = None if body is None else json.dumps(body)
            conn.request(method, f"/api/exam{path}", body=payload, headers=headers)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            if own:
                conn.close()

    def login(self) -> dict:
        status, data = self.call("POST", "/login", {"admission_number": self.number,
                                                    "id_last6": self.last6,
                                                    "terminal_id": self.terminal})  # fmt: skip
        assert status == 200, data
        self.token = data["token"]
        return data["state"]

    def save_burst(self, stop: threading.Event, rng: random.Random) -> None:
        """Save as fast as the server answers until it dies (or ``stop`` is set)."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            while not stop.is_set():
                item = rng.choice(self.items)
                keys = [o["key"] for o in item["options"]]
                if item["type"] == "multiple_choice":
                    chosen = rng.sample(keys, rng.randint(2, len(keys)))
                else:
                    chosen = [rng.choice(keys)]
                flagged = rng.random() < 0.2
                with self.lock:
                    seq = next(self.seq)
                    self.sent[(item["uid"], seq)] = ("".join(sorted(chosen)), flagged)
                body = {"seq": seq, "response": chosen, "flagged": flagged}
                try:
                    status, data = self.call("PUT", f"/answers/{item['uid']}", body, conn=conn)
                except (OSError, http.client.HTTPException):
                    return  # the server is gone: this save was never acknowledged
                assert status == 200, data
                assert data["ack"] == seq
                with self.lock:
                    self.acked[item["uid"]] = max(self.acked.get(item["uid"], 0), seq)
        finally:
            conn.close()


@pytest.fixture
def station_process(tmp_path):
    """Start/kill `station run` for a seeded instance; whatever is still running is killed."""
    instance = tmp_path / "instance"
    people = seed_exam(instance, CANDIDATES)
    port = free_port()
    started = []

    class Station:
        candidates = people

        def __init__(self):
            self.port = port
            self.proc = None

        def start(self):
            self.proc = start_server(instance, port, tmp_path / "server.log")
            started.append(self.proc)
            wait_ready(self.proc, port)

        def kill(self):
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

        def log(self) -> str:
            return (tmp_path / "server.log").read_text(encoding="utf-8", errors="replace")

    yield Station()
    for proc in started:
        stop_server(proc, signal.SIGKILL)


def test_sigkill_mid_burst_loses_no_acknowledged_answer_nor_exam_time(station_process):
    station = station_process
    station.start()
    terminals = [Terminal(station.port, number, last6, f"term-{n}")
                 for n, (number, last6) in enumerate(station.candidates)]  # fmt: skip
    for t in terminals:
        t.login()
        assert t.call("POST", "/start", {})[1]["status"] == "in_progress"
        status, form = t.call("GET", "/form")
        assert status == 200 and form["items"]
        t.items = form["items"]

    before = {}
    for t in terminals:
        status, state = t.call("GET", "/state")
        assert status == 200
        before[t.number] = (state["remaining_seconds"], time.monotonic())

    time.sleep(UPTIME)  # the clock must be seen to run, not only to stop
    stop = threading.Event()
    rng = random.Random(4)
    threads = [threading.Thread(target=t.save_burst, args=(stop, random.Random(rng.random())),
                                daemon=True)
               for t in terminals for _ in range(THREADS_PER_CANDIDATE)]  # fmt: skip
    for thread in threads:
        thread.start()
    # Kill once the burst is well under way, while saves are in flight.
    deadline = time.monotonic() + 10
    while sum(len(t.acked) for t in terminals) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    station.kill()
    killed_at = time.monotonic()
    stop.set()
    for thread in threads:
        thread.join(15)
    assert not any(thread.is_alive() for thread in threads)
    acked = sum(len(t.acked) for t in terminals)
    assert acked >= 40, f"only {acked} items acknowledged before the kill"

    time.sleep(max(DOWNTIME - (time.monotonic() - killed_at), 0))
    station.start()
    up_again = time.monotonic()
    time.sleep(UPTIME)

    for t in terminals:
        state = t.login()  # the same terminal takes its attempt back without an examiner
        assert state["status"] == "in_progress"
        status, form = t.call("GET", "/form")
        assert status == 200
        answers = form["answers"]
        for uid, acked_seq in t.acked.items():
            assert uid in answers, f"{t.number} {uid}: acknowledged seq {acked_seq} is gone"
            stored = answers[uid]
            assert stored["seq"] >= acked_seq, f"{t.number} {uid}: {stored} older than {acked_seq}"
            # The stored value is the one sent with the stored seq (maybe a newer one whose
            # acknowledgement the kill swallowed), never a mix or an older value.
            assert ("".join(sorted(stored["response"])), stored["flagged"]) == t.sent[
                (uid, stored["seq"])
            ], f"{t.number} {uid}"
        assert form["state"]["last_seq"] >= max(t.acked.values(), default=0)

        status, state = t.call("GET", "/state")
        now = time.monotonic()
        remaining, measured_at = before[t.number]
        up_time = (killed_at - measured_at) + (now - up_again)
        expected = remaining - up_time
        assert abs(state["remaining_seconds"] - expected) <= TOLERANCE, (
            f"{t.number}: {state['remaining_seconds']} s left after the restart, expected "
            f"{expected:.1f} (had {remaining}, server up {up_time:.1f} s, down {up_again - killed_at:.1f} s)"
        )

        # The page carries on where it was: the next change is accepted.
        uid = t.items[0]["uid"]
        next_seq = form["state"]["last_seq"] + 1
        key = t.items[0]["options"][0]["key"]
        status, data = t.call("PUT", f"/answers/{uid}", {"seq": next_seq, "response": [key]})
        assert status == 200 and data["applied"], data

    assert "Traceback" not in station.log()
