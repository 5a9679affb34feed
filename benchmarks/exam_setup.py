"""Seed an instance with a theory session in progress and N checked-in candidates.

Shared by ``benchmarks/exam_load.py`` and ``tests/station/test_exam_durability.py``: one
implementation, everything through the station's own services (the same path a real site takes):

    station init → trust the demo issuer, import the demo IRAP-M bank package → programme IRAP,
    theory rooms of 30 seats, invigilators (1 per 15 candidates, at least 2 per room) and a
    supervisor → a session starting two minutes from now → roster of N candidates with valid
    resident ID numbers → scheduled → check_in → every candidate checked in → in_progress.

    from benchmarks.exam_setup import seed_exam
    candidates = seed_exam(instance_path, 300)   # [(admission_number, id_last6), ...]

The instance is then served with ``STATION_INSTANCE=<instance_path> station run``.
"""

from __future__ import annotations

import http.client
import math
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

try:
    import station  # noqa: F401 - installed with `pip install -e .`
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from certs.identity import check_character
from station.services import assignments, lifecycle, staffing

HOST = "127.0.0.1"
SESSION_CODE = "LOAD1"
BANK = "IRAP-M"
ROOM_SEATS = 30
STAFF_PASSWORD = "bench-pass-2026"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静强磊洋艳勇军杰娟涛明"


def resident_id(n: int, *, male: bool) -> str:
    """A valid 18-character resident ID number, distinct for every n ≥ 0 (up to ~40,000)."""
    birth = f"{1980 + n // 400}0312"
    serial = (n % 400) * 2 + (1 if male else 0)  # the 17th digit's parity is the sex
    first17 = f"110105{birth}{serial:03d}"
    return first17 + check_character(first17)


def roster_csv(count: int) -> bytes:
    lines = ["姓名,性别,证件类型,证件号码,工作单位,手机号"]
    for i in range(count):
        male = i % 2 == 0
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[i % len(GIVEN)] + GIVEN[(i // 7) % len(GIVEN)]
        lines.append(f"{name},{'男' if male else '女'},居民身份证,{resident_id(i, male=male)},"
                     f"示例职业学校,139{i:08d}")  # fmt: skip
    return ("\n".join(lines) + "\n").encode("utf-8")


def seed_exam(instance_path: str | Path, candidates: int, *,
              minutes: int = 90) -> list[tuple[str, str]]:  # fmt: skip
    """Create the instance at ``instance_path`` with ``candidates`` checked in and the session in
    progress (theory_start two minutes ahead, so every attempt gets the full ``minutes``)."""
    from question_bank import package, signing
    from station import create_app, db
    from station.cli import init_instance
    from station.demo.seed import load_content
    from station.models.common import utcnow
    from station.services import banks, checkin, roster, sessions, site, users

    app = create_app({"SCHEDULER_ENABLED": False}, instance_path=str(instance_path))
    try:
        with app.app_context():
            init_instance(app, station_code="110101", station_name="压测站点")
            issuer = signing.IssuerKey.generate("iss-bench")
            content = load_content()
            meta = dict(content.meta, created_at="2026-09-01T00:00:00Z")
            data, _ = package.build_package(content, manifest_meta=meta, key=issuer)
            rooms = max(1, math.ceil(candidates / ROOM_SEATS))
            per_room = staffing.required_invigilators(ROOM_SEATS)
            room_codes = [f"T{r + 1:02d}" for r in range(rooms)]
            # Throwaway accounts: a cheap hash keeps seeding fast (scrypt is for real logins).
            method, users.PASSWORD_METHOD = users.PASSWORD_METHOD, "pbkdf2:sha256:1000"
            try:
                with db.transaction() as s:
                    banks.add_trusted_issuer(s, actor="bench", public_pem=issuer.public_pem(),
                                             kid=issuer.kid)  # fmt: skip
                    bank = banks.import_bank(s, actor="bench", filename="irap.zip", data=data).bank
                    site.add_programme(s, actor="bench", code="IRAP", name="工业机器人应用编程",
                                       levels=["初级", "中级", "高级"])  # fmt: skip
                    for code in room_codes:
                        site.add_room(s, actor="bench", code=code, name=f"理论考场 {code}",
                                      kind="theory", seats=ROOM_SEATS)  # fmt: skip
                    for r in range(rooms * per_room):
                        users.add_user(s, actor="bench", username=f"inv{r + 1:03d}",
                                       display_name=f"监考{r + 1}", password=STAFF_PASSWORD,
                                       roles=["examiner"], organisation="考核站")  # fmt: skip
                    users.add_user(s, actor="bench", username="sup", display_name="督导",
                                   password=STAFF_PASSWORD, roles=["supervisor"])  # fmt: skip
            finally:
                users.PASSWORD_METHOD = method
            start = utcnow().replace(microsecond=0) + timedelta(minutes=2)
            plan = sessions.SessionPlan(code=SESSION_CODE, title="理论考试压测", programme="IRAP",
                                        level="中级", bank=bank, theory_start=start,
                                        theory_rooms=room_codes, theory_minutes=minutes)  # fmt: skip
            with db.transaction() as s:
                sessions.create_session(s, actor="bench", plan=plan)
                roster.import_roster(s, actor="bench", session_code=SESSION_CODE,
                                     filename="roster.csv", data=roster_csv(candidates))  # fmt: skip
                n = 0
                for code in room_codes:
                    for _ in range(per_room):
                        n += 1
                        assignments.assign(s, actor="bench", session_code=SESSION_CODE,
                                        username=f"inv{n:03d}", role="invigilator", room=code)  # fmt: skip
                assignments.assign(s, actor="bench", session_code=SESSION_CODE, username="sup",
                                role="supervisor")  # fmt: skip
                lifecycle.transition(s, actor="bench", session_code=SESSION_CODE, to="scheduled")
                lifecycle.transition(s, actor="bench", session_code=SESSION_CODE, to="check_in")
                people = roster.candidates(s, sessions.get_session(s, SESSION_CODE))
                for c in people:
                    checkin.check_in(s, actor="bench", admission_number=c.admission_number)
                # Opened two minutes early (allowed from theory_start − 5 min): candidates who
                # start now still get the whole duration.
                lifecycle.transition(s, actor="bench", session_code=SESSION_CODE, to="in_progress")
                return [(c.admission_number, c.id_number[-6:]) for c in people]
    finally:
        engine = app.extensions.get("station_engine")
        if engine is not None:
            engine.dispose()


# --- serving the instance with `station run` -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(instance: str | Path, port: int, log_path: str | Path,
                 threads: int | None = None) -> subprocess.Popen:  # fmt: skip
    """``station run`` on ``HOST:port`` for ``instance`` (selected by STATION_INSTANCE), its output
    appended to ``log_path``. The housekeeping jobs are off; the exam clock always runs."""
    script = Path(sys.executable).with_name("station")
    command = [str(script)] if script.exists() else [sys.executable, "-c",
                                                     "from station.cli import main; main()"]  # fmt: skip
    extra = ["--threads", str(threads)] if threads else []
    env = dict(os.environ, STATION_INSTANCE=str(instance))
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [*command, "run", "--host", HOST, "--port", str(port), "--no-scheduler", *extra],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(instance),
        )  # fmt: skip


def wait_ready(proc: subprocess.Popen, port: int, timeout: float = 30.0) -> None:
    """Until the exam API answers (401 for a request without a token)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"station run exited with status {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/api/exam/noop")
            status = conn.getresponse().status
            conn.close()
            if status == 401:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"station run did not answer on port {port} within {timeout:g} s")


def stop_server(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop it (SIGTERM, then SIGKILL after 10 s) and reap it; harmless if already gone."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait(10)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("instance")
    parser.add_argument("--candidates", type=int, default=300)
    args = parser.parse_args()
    seeded = seed_exam(args.instance, args.candidates)
    print(f"{len(seeded)} candidates checked in; session {SESSION_CODE} in progress")
    for number, last6 in seeded[:5]:
        print(f"  {number} {last6}")
