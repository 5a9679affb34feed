"""Helpers that take a session through its theory exam over the real candidate API, so the
grading tests start from answers stored exactly as a live exam stores them."""

from __future__ import annotations

from datetime import timedelta

from question_bank.items import ItemType
from station import db
from station.models import BankVersion
from station.models.common import utcnow
from station.services import banks, checkin, lifecycle, roster, sessions
from tests.station.rosters import roster_csv

SESSION = "G1"
TASK = "IRAP-M-P-01"
PANEL = ("chief", "ex1", "ex2")


def schedule(app, *, candidates: int = 5, present: int = 4, level: str = "中级") -> list:
    """Session G1: theory now, one practical task, ``present`` of ``candidates`` checked in and
    the rest recorded absent. Returns the candidates in admission-number order."""
    from station.services import assignments

    start = utcnow().replace(microsecond=0) + timedelta(minutes=2)
    plan = sessions.SessionPlan(code=SESSION, title="评分测试", programme="IRAP", level=level,
                                bank="IRAP-M", theory_start=start, theory_rooms=["T1"],
                                practical_slots=[("P1", start + timedelta(hours=4),
                                                  start + timedelta(hours=7))],
                                practical_tasks=[TASK])  # fmt: skip
    with app.app_context(), db.transaction() as s:
        sessions.create_session(s, actor="t", plan=plan)
        roster.import_roster(s, actor="t", session_code=SESSION, filename="r.csv",
                             data=roster_csv(candidates))  # fmt: skip
        for user, role, room in [("inv1", "invigilator", "T1"), ("inv2", "invigilator", "T1"),
                                 ("ex1", "examiner", None), ("ex2", "examiner", None),
                                 ("chief", "chief_examiner", None), ("sup", "supervisor", None)]:  # fmt: skip
            assignments.assign(s, actor="t", session_code=SESSION, username=user, role=role,
                               room=room)  # fmt: skip
        lifecycle.transition(s, actor="t", session_code=SESSION, to="scheduled")
        lifecycle.transition(s, actor="t", session_code=SESSION, to="check_in")
        people = sorted(roster.candidates(s, sessions.get_session(s, SESSION)),
                        key=lambda c: c.admission_number)  # fmt: skip
        for c in people[:present]:
            checkin.check_in(s, actor="t", admission_number=c.admission_number)
        lifecycle.transition(s, actor="t", session_code=SESSION, to="in_progress", now=start)
        checkin.mark_absent(s, actor="t", session_code=SESSION, now=start)
        return [(c.admission_number, c.id_number, c.name) for c in people]


def answer_keys(app) -> dict[str, tuple[str, ...]]:
    with app.app_context(), db.transaction() as s:
        version = s.get(BankVersion, sessions.get_session(s, SESSION).bank_version_id)
        return {i.uid: tuple(i.answer) for i in banks.load_items(s, version)}


def wrong(item: dict, key: tuple[str, ...]) -> list[str]:
    other = [o["key"] for o in item["options"] if o["key"] not in key]
    return other[:1]


def sit(client, number: str, id_number: str, choose, terminal: str) -> list[dict]:
    """Log in, answer every item with ``choose(index, item)`` (None = skip), submit.
    Returns the form's items as the candidate saw them."""
    r = client.post("/api/exam/login", json={"admission_number": number,
                                             "id_last6": id_number[-6:], "terminal_id": terminal})  # fmt: skip
    assert r.status_code == 200, r.json
    headers = {"Authorization": f"Bearer {r.json['token']}"}
    assert client.post("/api/exam/start", headers=headers).status_code == 200
    items = client.get("/api/exam/form", headers=headers).json["items"]
    seq = 0
    for index, item in enumerate(items):
        response = choose(index, item)
        if response is None:
            continue
        seq += 1
        r = client.put(f"/api/exam/answers/{item['uid']}", headers=headers,
                       json={"seq": seq, "response": response})  # fmt: skip
        assert r.status_code == 200 and r.json["applied"], r.json
    assert client.post("/api/exam/submit", headers=headers, json={"seq": seq}).status_code == 200
    return items


def close_theory(app) -> None:
    with app.app_context(), db.transaction() as s:
        session = sessions.get_session(s, SESSION)
        end = session.theory_start + timedelta(minutes=session.theory_minutes, seconds=1)
        lifecycle.transition(s, actor="t", session_code=SESSION, to="grading", now=end)


def is_multiple(item: dict) -> bool:
    return item["type"] == ItemType.MULTIPLE_CHOICE.value
