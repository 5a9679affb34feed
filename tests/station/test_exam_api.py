"""The candidates' API: login rules, the form, sequenced saves, the server's clock, examiners' actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from station import db
from station.models import Answer, Attempt
from station.models.common import utcnow
from station.services import attempts, proctoring


class Terminal:
    def __init__(self, client, number, last6, terminal="term-1"):
        self.client, self.number, self.last6, self.terminal = client, number, last6, terminal
        self.token = None

    def login(self, **extra):
        r = self.client.post("/api/exam/login", json={"admission_number": self.number,
                                                      "id_last6": self.last6,
                                                      "terminal_id": self.terminal, **extra})  # fmt: skip
        if r.status_code == 200:
            self.token = r.json["token"]
        return r

    def call(self, method, path, json=None):
        return self.client.open(f"/api/exam{path}", method=method, json=json,
                                headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip

    def save(self, uid, seq, response, flagged=False):
        return self.call(
            "PUT", f"/answers/{uid}", {"seq": seq, "response": response, "flagged": flagged}
        )


@pytest.fixture
def term(client, running_exam):
    number, last6 = running_exam[0]
    t = Terminal(client, number, last6)
    assert t.login().status_code == 200
    assert t.call("POST", "/start").json["status"] == "in_progress"
    return t


def _act(app, number, action, **kw):
    with app.app_context(), db.transaction() as s:
        return proctoring.act(s, actor="inv1", admission_number=number, action=action,
                              reason=kw.pop("reason", "测试"), now=utcnow(), **kw)  # fmt: skip


def _stored(app, number):
    with app.app_context(), db.transaction() as s:
        from station.services import roster

        c = roster.get_candidate(s, number)
        a = s.exec(select(Attempt).where(Attempt.candidate_id == c.id)).one()
        return {
            x.item_uid: (x.response, x.seq)
            for x in s.exec(select(Answer).where(Answer.attempt_id == a.id))
        }


def test_login_needs_the_right_id_digits_and_check_in(client, running_exam):
    number, last6 = running_exam[0]
    wrong = Terminal(client, number, "000000").login()
    assert wrong.status_code == 401 and wrong.json["error"] == "credentials"
    assert Terminal(client, number, last6).login().status_code == 200


def test_form_has_the_blueprint_items_and_no_answer_key(term):
    form = term.call("GET", "/form").json
    assert len(form["items"]) == 85
    assert sum(i["points"] for i in form["items"]) == 100
    text = str(form["items"])
    assert "answer" not in text and "explanation" not in text
    tf = next(i for i in form["items"] if i["type"] == "true_false")
    assert [o["key"] for o in tf["options"]] in (["T", "F"], ["F", "T"])


def test_saves_are_sequenced_so_a_late_one_never_wins(app, term):
    items = term.call("GET", "/form").json["items"]
    single = next(i for i in items if i["type"] == "single_choice")
    a, b = single["options"][0]["key"], single["options"][1]["key"]
    assert term.save(single["uid"], 5, [b]).json["applied"] is True
    assert term.save(single["uid"], 5, [b]).json["applied"] is False  # a repeat is harmless
    stale = term.save(single["uid"], 3, [a]).json
    assert stale["ack"] == 3 and stale["applied"] is False
    assert _stored(app, term.number)[single["uid"]] == (b, 5)
    assert term.call("GET", "/state").json["last_seq"] == 5


def test_bad_responses_are_refused(term):
    items = term.call("GET", "/form").json["items"]
    single = next(i for i in items if i["type"] == "single_choice")
    keys = [o["key"] for o in single["options"]]
    assert term.save(single["uid"], 1, keys[:2]).json["error"] == "bad_response"
    assert term.save(single["uid"], 2, ["Z"]).json["error"] == "bad_response"
    assert term.save("NOPE", 3, ["A"]).json["error"] == "unknown_item"


def test_pause_refuses_saves_and_stops_the_clock(app, term):
    items = term.call("GET", "/form").json["items"]
    _act(app, term.number, "pause")
    state = term.call("GET", "/state").json
    assert state["status"] == "paused" and state["deadline"] is None and "暂停" in state["message"]
    assert term.save(items[0]["uid"], 1, []).status_code == 423
    _act(app, term.number, "resume")
    assert term.save(items[0]["uid"], 1, []).status_code == 200


def test_extra_time_moves_the_deadline(app, term):
    before = term.call("GET", "/state").json["remaining_seconds"]
    _act(app, term.number, "extend", minutes=10, reason="机器故障")
    after = term.call("GET", "/state").json
    assert after["remaining_seconds"] >= before + 600 - 5
    assert "延长 10 分钟" in after["message"]


def test_second_terminal_waits_for_an_examiners_approval(app, client, term):
    other = Terminal(client, term.number, term.last6, terminal="term-2")
    waiting = other.login()
    assert waiting.status_code == 409 and waiting.json["error"] == "awaiting_approval"
    assert _stored(app, term.number) == {}  # nothing else changed
    _act(app, term.number, "approve_terminal", reason="原机死机", terminal="term-2")
    assert other.login().status_code == 200
    assert term.call("GET", "/state").json["error"] == "moved"


def test_resume_code_lets_a_new_terminal_in(app, client, term):
    code = _act(app, term.number, "resume_code", reason="换机").removeprefix("续考码：")
    other = Terminal(client, term.number, term.last6, terminal="term-3")
    assert other.login(resume_code="999999" if code != "999999" else "000000").status_code == 409
    assert other.login(resume_code=code).status_code == 200


def test_saves_after_the_deadline_are_refused_and_the_attempt_submitted(app, term):
    items = term.call("GET", "/form").json["items"]
    with app.app_context(), db.transaction() as s:
        attempt = s.exec(select(Attempt)).one()
        attempt.allowed_seconds = 1.0
        attempt.elapsed_seconds = 0
        attempt.running_since = utcnow() - timedelta(seconds=attempts.GRACE_SECONDS + 5)
        s.add(attempt)
    assert term.save(items[0]["uid"], 1, []).json["error"] == "time_up"
    assert term.call("GET", "/state").json["remaining_seconds"] == 0
    from station.jobs import exam_clock

    assert exam_clock(app) == 1  # the clock job submits it
    assert term.call("GET", "/state").json["status"] == "submitted"


def test_submit_ends_the_attempt(term):
    assert term.call("POST", "/submit", {"seq": 0}).json["status"] == "submitted"
    assert term.login().json["error"] == "finished"


def test_downtime_is_not_counted(app, term):
    with app.app_context(), db.transaction() as s:
        attempts.heartbeat(s, utcnow() - timedelta(minutes=10))
        attempt = s.exec(select(Attempt)).one()
        attempt.running_since = utcnow() - timedelta(minutes=10)  # "ran" through the outage
        attempt.elapsed_seconds = 0
        s.add(attempt)
    with app.app_context(), db.transaction() as s:
        down = attempts.compensate_downtime(s, utcnow())
    assert 595 < down < 605
    assert term.call("GET", "/state").json["remaining_seconds"] > 90 * 60 - 10


def test_live_room_status_and_irregularity(app, term):
    _act(app, term.number, "irregularity", category="device", reason="使用手机")
    with app.app_context(), db.transaction() as s:
        from station.services import sessions

        session = sessions.get_session(s, "S1")
        seats = proctoring.room_status(s, session, now=utcnow())
        report = proctoring.report(s, session, now=utcnow())
    mine = next(x for x in seats if x.admission_number == term.number)
    assert mine.status == "in_progress" and mine.total == 85
    assert [x.status for x in seats].count("not_logged_in") == 3
    assert len(report.irregularities) == 1 and report.irregularities[0][0].category == "device"


def test_actions_need_a_reason(app, term):
    from station.services.errors import DomainError

    with pytest.raises(DomainError, match="原因"):
        _act(app, term.number, "pause", reason=" ")


def test_live_console_pages_and_report_pdf(app, client, auth, term):
    auth.login("desk", roles=["examiner"])
    assert "监考台" in client.get("/console/sessions/S1/live").get_data(as_text=True)
    seats = client.get("/console/sessions/S1/live.json").json["seats"]
    assert any(x["admission_number"] == term.number and x["status"] == "in_progress" for x in seats)
    done = client.post(f"/console/sessions/S1/attempts/{term.number}/act",
                       json={"action": "extend", "minutes": 5, "reason": "断电"})  # fmt: skip
    assert done.json["ok"] is True
    refused = client.post(f"/console/sessions/S1/attempts/{term.number}/act",
                          json={"action": "extend", "minutes": 5, "reason": ""})  # fmt: skip
    assert refused.status_code == 400 and "原因" in refused.json["error"]
    assert client.post("/console/sessions/S1/rooms/T1/act",
                       json={"action": "pause", "reason": "火警演练"}).json["changed"] == 1  # fmt: skip
    page = client.get("/console/sessions/S1/report").get_data(as_text=True)
    assert "火警演练" in page and "断电" in page
    pdf = client.get("/console/sessions/S1/report.pdf")
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-"
    from tests.certs.qr_decode import pdf_page_texts

    assert "火警演练" in "".join(pdf_page_texts(pdf.data))


def test_terminals_get_bank_pictures_through_signed_links(app, client):
    from pathlib import Path

    from itsdangerous import URLSafeSerializer

    from station.services import banks

    data = (Path(__file__).parents[1] / "question_bank" / "data" / "moodle_good.xml").read_bytes()
    with app.app_context(), db.transaction() as s:
        summary = banks.import_bank(s, actor="t", filename="m.xml", data=data, bank_name="PICS")
        version = banks.get_version(s, banks.get_bank(s, "PICS"), summary.version)
        name = next(iter(banks.load_content(s, version).media))
    signer = URLSafeSerializer(app.config["SECRET_KEY"], salt="exam-media")
    ok = client.get(f"/api/exam/media/{signer.dumps([version.id, name.removeprefix('media/')])}")
    assert ok.status_code == 200 and ok.mimetype.startswith("image/")
    assert ok.headers["Content-Security-Policy"] == "sandbox"
    forged = URLSafeSerializer("not-the-secret", salt="exam-media").dumps([version.id, "x.png"])
    assert client.get(f"/api/exam/media/{forged}").status_code == 404


def test_a_broken_save_fails_alone(term):
    items = term.call("GET", "/form").json["items"]
    single = next(i for i in items if i["type"] == "single_choice")
    huge = term.save(single["uid"], 2**63, [single["options"][0]["key"]])
    assert huge.status_code == 400 and huge.json["error"] == "bad_seq"
    assert term.save(single["uid"], 1, [single["options"][0]["key"]]).json["applied"] is True
    assert term.call("POST", "/submit", [1, 2]).json["status"] == "submitted"  # odd body, no 500
