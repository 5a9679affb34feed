"""Answer saves: the set-wise group commit and the lean path in front of Flask.

A batch written set-wise must end exactly as the same saves applied one by one; a save that
breaks the set-wise write fails alone; the lean WSGI path answers as the Flask route would.
"""

from __future__ import annotations

import random
import threading

import pytest
from sqlmodel import select
from werkzeug.test import Client

from station import db
from station.answer_writer import AnswerWriter
from station.models import Answer, Attempt
from station.models.common import utcnow
from station.services import answers, exam_forms
from station.services.attempts import ExamError
from station.views.exam_api import LeanRoutes


@pytest.fixture
def started(client, running_exam):
    """Two candidates logged in and started: their tokens."""
    out = []
    for n, (number, last6) in enumerate(running_exam[:2]):
        r = client.post("/api/exam/login", json={"admission_number": number, "id_last6": last6,
                                                 "terminal_id": f"term-{n}"})  # fmt: skip
        token = r.json["token"]
        client.post("/api/exam/start", headers={"Authorization": f"Bearer {token}"})
        out.append(token)
    return out


def _attempt_rows(app):
    with app.app_context(), db.transaction() as s:
        rows = {}
        for a in s.exec(select(Attempt).order_by(Attempt.id)):
            entries = exam_forms.attempt_form(s, a)["entries"]
            rows[a.id] = (a.terminal, entries)
        return rows


def _state(app) -> tuple[dict, dict]:
    with app.app_context(), db.transaction() as s:
        stored = {(x.attempt_id, x.item_uid): (x.response, x.flagged, x.seq)
                  for x in s.exec(select(Answer))}  # fmt: skip
        attempts = {a.id: (a.last_seq, a.answered) for a in s.exec(select(Attempt))}
        return stored, attempts


def _reset(app) -> None:
    with app.app_context(), db.transaction() as s:
        for row in s.exec(select(Answer)):
            s.delete(row)
        for a in s.exec(select(Attempt)):
            a.last_seq, a.answered = 0, 0
            s.add(a)


def _random_saves(rng, rows, count) -> list[answers.Save]:
    now = utcnow()
    saves = []
    for _ in range(count):
        attempt_id = rng.choice(list(rows))
        terminal, entries = rows[attempt_id]
        entry = rng.choice(entries[:6])  # few items, so that saves of one item collide
        keys = entry["option_order"]
        roll = rng.random()
        if roll < 0.05:
            uid, response = "NO-SUCH-ITEM", [keys[0]]
        elif roll < 0.1:
            uid, response = entry["uid"], ["Z"]  # not an option
        else:
            uid = entry["uid"]
            response = rng.sample(keys, rng.randint(0, len(keys) if entry["item_type"] ==
                                                    "multiple_choice" else 1))  # fmt: skip
        if rng.random() < 0.05:
            terminal = "someone-else"
        saves.append(answers.Save(attempt_id=attempt_id, terminal=terminal, uid=uid,
                                  seq=rng.randint(1, 40), response=tuple(response),
                                  flagged=rng.random() < 0.3, now=now))  # fmt: skip
    return saves


def _outcome(x):
    return (x.code, x.status) if isinstance(x, ExamError) else (x.ack, x.applied)


def test_a_set_wise_batch_ends_as_the_same_saves_one_by_one(app, started):
    rows = _attempt_rows(app)
    writer = AnswerWriter(app.extensions["station_engine"])
    for seed in range(5):
        saves = _random_saves(random.Random(seed), rows, 120)
        batched = [_outcome(x) for x in writer.apply(saves)]
        after_batch = _state(app)
        _reset(app)
        one_by_one = [_outcome(writer.apply([save])[0]) for save in saves]
        assert batched == one_by_one
        assert after_batch == _state(app)
        _reset(app)
    kinds = {o[0] for o in batched if isinstance(o[0], str)}
    assert kinds == {"unknown_item", "bad_response", "moved"}  # the refusals were exercised
    assert any(o[1] is False for o in batched if isinstance(o[0], int))  # and stale saves


def test_a_save_that_breaks_the_set_wise_write_fails_alone(app, started, caplog):
    rows = _attempt_rows(app)
    attempt_id, (terminal, entries) = next(iter(rows.items()))
    poisoned, fine = entries[0], entries[1]
    with app.app_context(), db.transaction() as s:  # something no check foresees
        s.connection().exec_driver_sql(
            "CREATE TRIGGER poison BEFORE INSERT ON answer WHEN NEW.item_uid = "
            f"'{poisoned['uid']}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        )
    now = utcnow()
    saves = [answers.Save(attempt_id=attempt_id, terminal=terminal, uid=e["uid"], seq=n,
                          response=(e["option_order"][0],), flagged=False, now=now)
             for n, e in enumerate([poisoned, fine], 1)]  # fmt: skip
    poisoned_out, fine_out = AnswerWriter(app.extensions["station_engine"]).apply(saves)
    assert "poisoned" in str(poisoned_out)
    assert fine_out.applied
    stored, attempts = _state(app)
    assert stored == {(attempt_id, fine["uid"]): (fine["option_order"][0], False, 2)}
    assert attempts[attempt_id] == (2, 1)
    assert "one by one" in caplog.text


def test_concurrent_saves_through_the_api_keep_the_newest(app, started):
    rows = _attempt_rows(app)
    tokens = dict(zip(rows, started, strict=True))
    sent: dict[tuple[int, str], dict[int, str]] = {}
    lock = threading.Lock()

    def terminal(attempt_id, seed):
        rng, client = random.Random(seed), app.test_client()
        entries = rows[attempt_id][1][:5]
        for _ in range(40):
            entry = rng.choice(entries)
            seq = rng.randint(1, 10_000)
            key = rng.choice(entry["option_order"])
            r = client.put(f"/api/exam/answers/{entry['uid']}", json={"seq": seq, "response": [key]},
                           headers={"Authorization": f"Bearer {tokens[attempt_id]}"})  # fmt: skip
            assert r.status_code == 200 and r.json["ack"] == seq
            with lock:
                sent.setdefault((attempt_id, entry["uid"]), {})[seq] = key

    threads = [threading.Thread(target=terminal, args=(a, seed))
               for seed, a in enumerate(list(rows) * 4)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stored, attempts = _state(app)
    for key, by_seq in sent.items():
        newest = max(by_seq)
        assert stored[key][2] == newest and stored[key][0] == by_seq[newest]
    for attempt_id in rows:
        assert attempts[attempt_id][0] == max(s for (a, _), v in sent.items() if a == attempt_id
                                              for s in v)  # fmt: skip


# --- the lean path -----------------------------------------------------------------------------


def test_the_lean_path_answers_as_the_flask_route_does(app, client, started):
    assert isinstance(app.wsgi_app, LeanRoutes)
    flask_only = Client(app.wsgi_app.downstream)  # the same app without the lean path
    rows = _attempt_rows(app)
    _, entries = next(iter(rows.values()))
    token = started[0]
    auth = {"Authorization": f"Bearer {token}"}
    uid, keys = entries[0]["uid"], entries[0]["option_order"]
    cases = [
        ({"seq": 1, "response": [keys[0]]}, auth),  # applied
        ({"seq": 1, "response": [keys[0]]}, auth),  # a repeat
        ({"seq": 0, "response": [keys[0]]}, auth),  # bad seq
        ({"seq": 2, "response": "A"}, auth),  # bad response
        ({"seq": 3, "response": ["Z"]}, auth),  # not an option
        ([1, 2], auth),  # not an object
        ({"seq": 4, "response": [keys[0]]}, {}),  # no token
        ({"seq": 4, "response": [keys[0]]}, {"Authorization": "Bearer forged"}),
    ]
    for n, (body, headers) in enumerate(cases):
        lean = client.put(f"/api/exam/answers/{uid}", json=body, headers=headers)
        if n == 0:
            _reset(app)  # so that the same save is new to the Flask route too
        plain = flask_only.put(f"/api/exam/answers/{uid}", json=body, headers=headers)
        assert lean.status_code == plain.status_code, body
        lean_json, plain_json = lean.get_json(), plain.get_json()
        for payload in (lean_json, plain_json):
            payload.pop("saved_at", None)
            payload.pop("remaining_seconds", None)
        assert lean_json == plain_json, body
        assert lean.mimetype == plain.mimetype == "application/json"
        for header in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"):
            assert lean.headers[header] == plain.headers[header]
    not_json = client.put(f"/api/exam/answers/{uid}", data="seq=1", headers=auth,
                          content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert not_json.status_code == 400 and not_json.json["error"] == "bad_request"
    huge = client.put(f"/api/exam/answers/{uid}", data="x" * 70_000, headers=auth,
                      content_type="application/json")  # fmt: skip
    assert huge.status_code == 413
    # Anything else goes on to Flask: other methods, deeper paths, the rest of the API.
    assert client.get(f"/api/exam/answers/{uid}").status_code == 405
    assert client.put(f"/api/exam/answers/{uid}/x", json={}, headers=auth).status_code == 404
    assert client.get("/api/exam/noop", headers=auth).json == {}
    assert client.get("/api/exam/noop").status_code == 401
    assert client.get("/api/exam/state", headers=auth).json["status"] == "in_progress"


def test_a_writer_failure_is_a_500_in_json_and_nothing_is_acknowledged(app, client, started,
                                                                       monkeypatch):  # fmt: skip
    rows = _attempt_rows(app)
    _, entries = next(iter(rows.values()))

    def broken(self, saves):
        raise OSError("disk gone")

    monkeypatch.setattr(AnswerWriter, "apply", broken)
    r = client.put(f"/api/exam/answers/{entries[0]['uid']}", json={"seq": 1, "response": []},
                   headers={"Authorization": f"Bearer {started[0]}"})  # fmt: skip
    assert r.status_code == 500 and r.json["error"] == "server_error"
    assert _state(app)[0] == {}
