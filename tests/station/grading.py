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


CRITERIA = {"T1-01": 10, "T1-02": 10, "T1-03": 20, "T1-04": 15, "T1-05": 15, "T1-06": 15,
            "T1-07": 5, "T1-08": 10}  # fmt: skip


def share(fraction: float) -> dict[str, float]:
    """Every criterion at ``fraction`` of its maximum: a task total of 100 × fraction."""
    return {code: top * fraction for code, top in CRITERIA.items()}


def run(app, fn, *args, **kwargs):
    with app.app_context(), db.transaction() as s:
        return fn(s, *args, **kwargs)


def mark(app, examiner, number, points, vetoes=()):
    from station.services import practical

    return run(app, practical.submit_marks, actor=examiner, session_code=SESSION,
               admission_number=number, task_uid=TASK, points=points, vetoes=list(vetoes))  # fmt: skip


def mark_all(app, people, fractions=(0.9, 0.9, 0.9)):
    for number, _, _ in people[:4]:
        for examiner, f in zip(PANEL, fractions, strict=True):
            mark(app, examiner, number, share(f))


def sit_all(app, client, people) -> list[float]:
    """The first four candidates sit the exam: all right, every other one right, all wrong, none
    answered. Returns each one's theory score as computed here from the form and the key."""
    keys = answer_keys(app)
    patterns = [
        lambda i, item: list(keys[item["uid"]]),
        lambda i, item: list(keys[item["uid"]]) if i % 2 == 0 else wrong(item, keys[item["uid"]]),
        lambda i, item: wrong(item, keys[item["uid"]]),
        lambda i, item: None,
    ]
    expected = []
    for n, choose in enumerate(patterns):
        number, id_number, _ = people[n]
        items = sit(client, number, id_number, choose, f"term-{n}")
        total = sum(i["points"] for i in items)
        earned = sum(i["points"] for idx, i in enumerate(items)
                     if choose(idx, i) is not None and tuple(sorted(choose(idx, i))) == keys[i["uid"]])  # fmt: skip
        expected.append(round(100 * earned / total, 2))
    return expected


def publish(app, client) -> tuple[list, list[float]]:
    """G1 all the way to published: candidates 1 and 2 pass (100 and about 50 + … in theory
    decides), every practical task marked 90, results signed off by the supervisor."""
    from station.services import results

    people = schedule(app)
    expected = sit_all(app, client, people)
    close_theory(app)
    mark_all(app, people)
    with app.app_context(), db.transaction() as s:
        assert results.grade_session(s, actor="chief", session_code=SESSION) == []
    run(app, lifecycle.transition, actor="chief", session_code=SESSION, to="review")
    run(app, results.sign_off, actor="sup", session_code=SESSION, note="核对无误")
    run(app, lifecycle.transition, actor="sup", session_code=SESSION, to="published")
    return people, expected


def issue_certificates(app):
    """Issue G1's certificates as the admin would, with the instance's key passphrase."""
    from station.services import certificates

    settings = certificates.Settings.from_config(app.config)
    return run(app, certificates.issue_session, actor="admin", session_code=SESSION,
               passphrase=app.config["KEY_PASSPHRASE"], settings=settings)  # fmt: skip


def an_item_answered_right(app, number: str) -> tuple[str, str]:
    """(item uid, response) of the first item (by uid) the candidate answered — for candidate
    1 of sit_all, who got everything right, correcting that item's key makes them wrong on it."""
    from sqlmodel import select

    from station.models import Answer, Attempt

    with app.app_context(), db.transaction() as s:
        c = roster.get_candidate(s, number)
        attempt = s.exec(select(Attempt).where(Attempt.candidate_id == c.id)).one()
        answer = s.exec(select(Answer).where(Answer.attempt_id == attempt.id)
                        .order_by(Answer.item_uid)).first()  # fmt: skip
        return answer.item_uid, answer.response
