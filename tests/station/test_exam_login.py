"""Exam logins: throttling of guesses, the examiner approving a specific terminal, and forms
drawn outside the write turn."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from station import db
from station.models import AttemptForm
from station.models.common import utcnow
from station.services import attempts, exam_forms, proctoring, roster, sessions
from station.services.errors import DomainError
from station.services.login_throttle import ADDRESS, PERSONAL, LoginThrottle
from station.views import exam_api


class Clock:
    """The API's idea of now, moved by the test instead of waiting."""

    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(exam_api, "utcnow", c)
    return c


def _login(client, number, last6, terminal="term-1", address="10.0.0.1", **extra):
    return client.post("/api/exam/login", json={"admission_number": number, "id_last6": last6,
                                                "terminal_id": terminal, **extra},
                       environ_base={"REMOTE_ADDR": address})  # fmt: skip


def _act(app, number, action, **kw):
    with app.app_context(), db.transaction() as s:
        return proctoring.act(s, actor="inv1", admission_number=number, action=action,
                              reason=kw.pop("reason", "测试"), now=utcnow(), **kw)  # fmt: skip


def _attempt(app, number):
    with app.app_context(), db.transaction() as s:
        from station.models import Attempt

        c = roster.get_candidate(s, number)
        a = s.exec(select(Attempt).where(Attempt.candidate_id == c.id)).first()
        if a is not None:
            s.expunge(a)
        return a


# --- throttling ----------------------------------------------------------------------------------


def test_failed_logins_are_slowed_then_locked_out(client, running_exam, clock):
    number, last6 = running_exam[0]
    for _ in range(PERSONAL.free + 1):
        assert _login(client, number, "000000").json["error"] == "credentials"
    held = _login(client, number, last6)  # even the right digits wait now
    assert held.status_code == 429 and held.json["error"] == "too_many_attempts"
    assert held.json["retry_after"] == 5 and held.headers["Retry-After"] == "5"
    assert held.json["message"] == "尝试次数过多，请在 5 秒后再试"
    assert not held.json["locked"]
    clock.advance(3)
    assert _login(client, number, "000000").json["retry_after"] == 2  # not counted
    clock.advance(2)
    assert _login(client, number, "000000").status_code == 401  # counted: the wait doubles
    assert _login(client, number, "000000").json["retry_after"] == 10

    for _ in range(PERSONAL.lock_after - PERSONAL.free - 2):
        clock.advance(61)
        assert _login(client, number, "000000").status_code == 401
    locked = _login(client, number, last6)
    assert locked.status_code == 429 and locked.json["locked"] is True
    assert locked.json["retry_after"] == PERSONAL.lock_seconds
    assert "登录失败次数过多，已暂时锁定。请在 10 分 0 秒后再试" in locked.json["message"]
    assert "监考老师" in locked.json["message"]
    clock.advance(PERSONAL.lock_seconds - 1)
    assert _login(client, number, last6).json["retry_after"] == 1
    clock.advance(1)
    assert _login(client, number, last6).status_code == 200  # and a success clears the count
    for _ in range(PERSONAL.free):
        assert _login(client, number, "000000", terminal="term-x").status_code == 401


def test_guesses_from_one_terminal_or_address_are_held_across_admission_numbers(
    client, running_exam, clock
):
    (a, a6), (b, b6), (c, c6), (d, d6) = running_exam
    for number in (a, b, c, a):
        assert (
            _login(client, number, "000000", terminal="t-guess", address="10.0.0.9").status_code
            == 401
        )
    # The guessing terminal waits for anybody's number; the candidate at their own does not.
    assert _login(client, d, d6, terminal="t-guess", address="10.0.0.8").status_code == 429
    assert _login(client, d, d6, terminal="t-d", address="10.0.0.8").status_code == 200
    # A new terminal id and number every time does not help against the address.
    for n in range(ADDRESS.free + 1):
        assert (
            _login(client, f"X{n}", "0", terminal=f"t-{n}", address="10.0.0.7").status_code == 401
        )
    assert _login(client, c, c6, terminal="t-fresh", address="10.0.0.7").status_code == 429
    assert _login(client, c, c6, terminal="t-fresh", address="10.0.0.6").status_code == 200


def test_resume_code_guesses_are_throttled_and_retries_awaiting_approval_are_not(
    app, client, running_exam, clock
):
    number, last6 = running_exam[0]
    token = _login(client, number, last6, terminal="term-1").json["token"]
    client.post("/api/exam/start", headers={"Authorization": f"Bearer {token}"})
    for _ in range(20):  # the login page asks every 3 s while it waits: those never count
        waiting = _login(client, number, last6, terminal="term-2")
        assert waiting.status_code == 409 and waiting.json["error"] == "awaiting_approval"
        clock.advance(3)
    code = _act(app, number, "resume_code", reason="换机").removeprefix("续考码：")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(PERSONAL.free + 1):
        refused = _login(client, number, last6, terminal="term-2", resume_code=wrong)
        assert refused.status_code == 409 and refused.json["error"] == "bad_resume_code"
        assert refused.json["terminal_code"] == attempts.terminal_code("term-2")
    held = _login(client, number, last6, terminal="term-2", resume_code=code)
    assert held.status_code == 429  # the right code, but not while held back
    clock.advance(held.json["retry_after"])
    assert _login(client, number, last6, terminal="term-2", resume_code=code).status_code == 200


def test_an_examiner_approval_lets_a_locked_out_candidate_in(app, client, running_exam, clock):
    number, last6 = running_exam[0]
    for _ in range(PERSONAL.lock_after):
        clock.advance(61)
        _login(client, number, "000000", terminal="t-attacker", address="10.0.0.66")
    # The real candidate, at their own terminal, is locked out too; the answer does not say
    # whether their digits were right, but the examiners see which terminal asks.
    held = _login(client, number, last6, terminal="t-real", address="10.0.0.5")
    assert held.status_code == 429 and held.json["locked"]
    assert held.json["terminal_code"] == attempts.terminal_code("t-real")
    assert _attempt(app, number).pending_terminal == "t-real"
    _login(client, number, "000000", terminal="t-attacker2", address="10.0.0.67")  # wrong: no sign
    assert _attempt(app, number).pending_terminal == "t-real"
    _act(app, number, "approve_terminal", terminal="t-real", reason="本人，核对证件")
    ok = _login(client, number, last6, terminal="t-real", address="10.0.0.5")
    assert ok.status_code == 200
    # Approval vouches for that terminal only, and only with the right digits.
    assert (
        _login(client, number, "000000", terminal="t-real", address="10.0.0.5").status_code == 429
    )
    assert _login(client, number, last6, terminal="t-other", address="10.0.0.5").status_code == 429


def test_the_terminal_holding_the_attempt_logs_in_again_despite_guessing_elsewhere(
    client, running_exam, clock
):
    number, last6 = running_exam[0]
    assert _login(client, number, last6, terminal="t-own", address="10.0.0.5").status_code == 200
    for _ in range(PERSONAL.lock_after):
        clock.advance(61)
        _login(client, number, "000000", terminal="t-attacker", address="10.0.0.66")
    assert _login(client, number, last6, terminal="t-own", address="10.0.0.5").status_code == 200


def test_throttle_waits_double_locks_escalate_and_failures_are_forgotten():
    throttle, t0 = LoginThrottle(), utcnow()
    keys = throttle.keys(admission_number=" s1 ", terminal="t", address=None)
    assert keys == [("number", "S1"), ("terminal", "t")]
    at = t0
    for _ in range(PERSONAL.free):
        throttle.failed(keys, at)
        assert throttle.hold(keys, at) is None
    waits = []
    for _ in range(4):
        throttle.failed(keys, at)
        waits.append(throttle.hold(keys, at).seconds)
        at += timedelta(seconds=waits[-1])
    assert waits == [5, 10, 20, 40]
    for _ in range(PERSONAL.lock_after - PERSONAL.free - 4):
        at += timedelta(seconds=60)
        throttle.failed(keys, at)
    first_lock = throttle.hold(keys, at)
    assert first_lock.locked and first_lock.seconds == PERSONAL.lock_seconds
    at += timedelta(seconds=PERSONAL.lock_seconds)
    for _ in range(PERSONAL.lock_after):  # the next lock lasts twice as long
        at += timedelta(seconds=60)
        throttle.failed(keys, at)
    assert throttle.hold(keys, at).seconds == 2 * PERSONAL.lock_seconds

    other = throttle.keys(admission_number="S2", terminal="", address="10.1.1.1")
    throttle.failed(other, t0)
    throttle.failed(other, t0)
    later = t0 + timedelta(seconds=PERSONAL.window + 1)
    for _ in range(PERSONAL.free - 1):
        throttle.failed(other, later)
    assert throttle.hold(other, later) is None  # the two old failures were forgotten
    throttle.succeeded(other)
    assert throttle._records.keys() >= {("address", "10.1.1.1")}  # an address only decays


# --- approving a specific terminal ---------------------------------------------------------------


def test_the_examiner_approves_the_terminal_they_saw(app, client, auth, running_exam):
    number, last6 = running_exam[0]
    token = _login(client, number, last6, terminal="term-1").json["token"]
    client.post("/api/exam/start", headers={"Authorization": f"Bearer {token}"})
    asking = _login(client, number, last6, terminal="term-2")
    assert asking.status_code == 409 and asking.json["terminal_code"] == attempts.terminal_code(
        "term-2"
    )

    auth.login("desk", roles=["examiner"])
    seat = next(x for x in client.get("/console/sessions/S1/live.json").json["seats"]
                if x["admission_number"] == number)  # fmt: skip
    assert seat["pending_terminal"] == "term-2"
    assert seat["pending_terminal_code"] == attempts.terminal_code("term-2")
    _login(client, number, last6, terminal="term-3")  # meanwhile another terminal asks
    url = f"/console/sessions/S1/attempts/{number}/act"
    stale = client.post(url, json={"action": "approve_terminal", "reason": "死机",
                                   "terminal": seat["pending_terminal"]})  # fmt: skip
    assert stale.status_code == 400 and attempts.terminal_code("term-3") in stale.json["error"]
    assert "重新批准" in stale.json["error"]
    blind = client.post(url, json={"action": "approve_terminal", "reason": "死机"})
    assert blind.status_code == 400 and "终端" in blind.json["error"]
    ok = client.post(url, json={"action": "approve_terminal", "reason": "死机",
                                "terminal": "term-3"})  # fmt: skip
    assert ok.json["ok"] and attempts.terminal_code("term-3") in ok.json["message"]
    assert _login(client, number, last6, terminal="term-2").status_code == 409
    assert _login(client, number, last6, terminal="term-3").status_code == 200
    bad = client.post(url, json={"action": "extend", "reason": "x", "minutes": "ten"})
    assert bad.status_code == 400 and "ten" in bad.json["error"]


def test_approval_is_refused_when_nobody_asks(app, running_exam, client):
    number, last6 = running_exam[0]
    assert _login(client, number, last6).status_code == 200
    with pytest.raises(DomainError, match="没有待批准"):
        _act(app, number, "approve_terminal", terminal="term-9")


# --- forms drawn outside the write turn ----------------------------------------------------------


def test_a_first_login_draws_its_form_without_the_write_turn(app, running_exam):
    number, last6 = running_exam[0]
    writer = db._WRITER_LOCKS[app.extensions["station_engine"]]
    result = {}

    def read_half():
        with app.app_context(), db.transaction(write=False) as s:
            result["prepared"] = attempts.prepare_login(
                s, admission_number=number, id_last6=last6, terminal="t1"
            )

    assert writer.acquire(timeout=5)  # some long write holds the turn meanwhile
    try:
        thread = threading.Thread(target=read_half)
        thread.start()
        thread.join(10)
    finally:
        writer.release()
    drawn = result["prepared"].drawn
    assert drawn is not None and drawn.total_items == 85 == len(drawn.form["entries"])
    with app.app_context(), db.transaction() as s:
        attempt = attempts.login(s, admission_number=number, id_last6=last6, terminal="t1",
                                 now=utcnow(), prepared=result["prepared"]).attempt  # fmt: skip
        assert s.get(AttemptForm, attempt.id).form == drawn.form  # the form drawn is the one kept


def test_racing_first_logins_keep_one_form_and_exposure_stays_true(app, running_exam):
    number, last6 = running_exam[0]

    def prepare():
        with app.app_context(), db.transaction(write=False) as s:
            return attempts.prepare_login(s, admission_number=number, id_last6=last6,
                                          terminal="t1")  # fmt: skip

    first, second = prepare(), prepare()  # two requests of the same candidate, both drew
    for prepared in (first, second):
        with app.app_context(), db.transaction() as s:
            attempts.login(s, admission_number=number, id_last6=last6, terminal="t1",
                           now=utcnow(), prepared=prepared)  # fmt: skip
    for other, other6 in running_exam[1:]:  # and the others, all at once
        with app.app_context(), db.transaction(write=False) as s:
            prepared = attempts.prepare_login(s, admission_number=other, id_last6=other6,
                                              terminal=f"t-{other}")  # fmt: skip
        with app.app_context(), db.transaction() as s:
            attempts.login(s, admission_number=other, id_last6=other6, terminal=f"t-{other}",
                           now=utcnow(), prepared=prepared)  # fmt: skip
    with app.app_context(), db.transaction() as s:
        session = sessions.get_session(s, "S1")
        assert len(s.exec(select(AttemptForm)).all()) == 4
        stored = exam_forms._exposure(s, session)
        kept = exam_forms._EXPOSURE[(str(s.get_bind().url), session.id)]
        assert {uid: n for uid, n in kept.items() if n} == stored
        assert max(stored.values()) <= 2  # four forms of 85 from 213 items: spread, not piled up


def test_simultaneous_first_logins_over_http(app, running_exam):
    results = []

    def log_in(number, last6):
        results.append(_login(app.test_client(), number, last6, terminal=f"t-{number}").status_code)

    threads = [threading.Thread(target=log_in, args=pair) for pair in running_exam]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [200] * 4
    with app.app_context(), db.transaction() as s:
        assert len(s.exec(select(AttemptForm)).all()) == 4
