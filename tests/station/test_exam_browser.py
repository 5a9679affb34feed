"""A candidate takes the theory exam in chromium: answers, the network drops, a terminal crashes.

The station runs under waitress (``live_server``); examiners act through the service layer, and
every assertion about what was saved reads the database, never the page's own belief.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from station import db
from station.models import Answer, Attempt, AttemptEvent, EventKind
from station.models.common import utcnow
from station.services import attempts, exam_forms, proctoring, roster

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-9"  # the conftest's staff password
WAIT = 10_000  # ms: the longest any single expectation may wait (the page retries within 5 s)


@pytest.fixture
def candidate(running_exam):
    """The first checked-in candidate of session S1: (admission number, last 6 of the ID)."""
    return running_exam[0]


@pytest.fixture
def new_page(browser):
    """Pages on further terminals: each call opens a fresh browser context (its own storage)."""
    contexts = []

    def make():
        context = browser.new_context(locale="zh-CN")
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# --- helpers -----------------------------------------------------------------------------------


def _login(page, base, number, last6):
    page.goto(f"{base}/exam/")
    page.fill("#admission-number", number)
    page.fill("#id-last6", last6)
    page.click("#login-submit")


def _start(page, base, number, last6):
    _login(page, base, number, last6)
    page.wait_for_url(f"{base}/exam/take")
    expect(page.locator("#screen-instructions")).to_be_visible()
    page.click("#start")
    expect(page.locator("#screen-exam")).to_be_visible()


def _attempt(s, number) -> Attempt:
    c = roster.get_candidate(s, number)
    return s.exec(select(Attempt).where(Attempt.candidate_id == c.id)).one()


def _entries(app, number) -> list[dict]:
    """The candidate's form: uid, item_type and option_order (the page's A, B, C…) per item."""
    with app.app_context(), db.transaction() as s:
        return exam_forms.attempt_form(s, _attempt(s, number))["entries"]


def _stored(app, number) -> dict[str, Answer]:
    with app.app_context(), db.transaction() as s:
        a = _attempt(s, number)
        rows = s.exec(select(Answer).where(Answer.attempt_id == a.id)).all()
        for row in rows:
            s.expunge(row)
        return {row.item_uid: row for row in rows}


def _eventually(check, timeout=WAIT / 1000):
    """Retry an assertion about the database until it holds (saves are asynchronous)."""
    until = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > until:
                raise
            time.sleep(0.1)


def _act(app, number, action, reason="测试", **kw):
    with app.app_context(), db.transaction() as s:
        return proctoring.act(s, actor="inv1", admission_number=number, action=action,
                              reason=reason, now=utcnow(), **kw)  # fmt: skip


def _set_remaining(app, number, seconds):
    """Make the server's clock say ``seconds`` are left for this attempt."""
    with app.app_context(), db.transaction() as s:
        a = _attempt(s, number)
        a.elapsed_seconds = a.allowed_seconds - seconds
        a.running_since = utcnow()
        s.add(a)


def _first(entries, kind, skip=0) -> int:
    """The 0-based position of the (skip+1)-th item of a type in the form."""
    return [i for i, e in enumerate(entries) if e["item_type"] == kind][skip]


def _go(page, position):
    page.click(f"#map-grid button[data-index='{position + 1}']")
    expect(page.locator("#item-number")).to_contain_text(str(position + 1))


def _choose(page, k):
    page.locator("#item-option-list label.option").nth(k).click()


def _saved(page):
    expect(page.locator("#save-status")).to_have_attribute("data-state", "saved", timeout=WAIT)


def _remaining(page) -> int:
    return int(page.get_attribute("#countdown", "data-remaining"))


# --- tests -------------------------------------------------------------------------------------


def test_answer_flag_and_navigate_by_map_and_keyboard(app, candidate, live_server, page):
    number, last6 = candidate
    problems = []  # script errors and CSP refusals; the failed login's 401 is expected

    def console(message):
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))

    _login(page, live_server, number, "000000")
    expect(page.locator("#login-message")).to_contain_text("不正确")  # the server's message
    page.fill("#id-last6", last6)
    page.click("#login-submit")
    page.wait_for_url(f"{live_server}/exam/take")
    expect(page.locator("#ins-total")).to_have_text("85")
    expect(page.locator("#ins-minutes")).to_contain_text("90")
    page.click("#start")
    expect(page.locator("#screen-exam")).to_be_visible()
    expect(page.locator("#map-grid button")).to_have_count(85)
    assert 90 * 60 - 60 < _remaining(page) <= 90 * 60
    entries = _entries(app, number)

    single, multiple = _first(entries, "single_choice"), _first(entries, "multiple_choice")
    true_false = _first(entries, "true_false")
    _go(page, single)
    expect(page.locator("#item-type")).to_have_text("单选题")
    expect(page.locator("#item-option-list input[type=radio]")).to_have_count(4)
    _choose(page, 1)
    _go(page, multiple)
    expect(page.locator("#item-option-list input[type=checkbox]").first).to_be_visible()
    _choose(page, 0)
    _choose(page, 2)
    _go(page, true_false)
    expect(page.locator("#item-option-list label.option")).to_have_count(2)
    page.keyboard.press("2")  # the second option, whichever of 正确/错误 it is
    page.keyboard.press("ArrowRight")
    after = true_false + 1
    expect(page.locator("#item")).to_have_attribute("data-uid", entries[after]["uid"])
    page.keyboard.press("b")
    page.keyboard.press("f")
    expect(page.locator("#flag")).to_have_attribute("aria-pressed", "true")
    cell = page.locator(f"#map-grid button[data-index='{after + 1}']")
    expect(cell).to_have_class(_classes("flagged", "answered", "current"))
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#item")).to_have_attribute("data-uid", entries[true_false]["uid"])
    expect(page.locator("#item-option-list input").nth(1)).to_be_checked()
    _saved(page)

    def key(pos, *ks):
        return "".join(sorted(entries[pos]["option_order"][k] for k in ks))

    expected = {
        entries[single]["uid"]: (key(single, 1), False),
        entries[multiple]["uid"]: (key(multiple, 0, 2), False),
        entries[true_false]["uid"]: (key(true_false, 1), False),
        entries[after]["uid"]: (key(after, 1), True),
    }
    _eventually(lambda: _check(_stored(app, number), expected))
    stored = _stored(app, number)
    assert sorted(a.seq for a in stored.values()) == [1, 3, 4, 6]  # 2 and 5 were superseded

    # Bigger text is remembered; a reload keeps the session and skips the instructions.
    page.click("#font-up")
    page.reload()
    expect(page.locator("#screen-exam")).to_be_visible()
    assert "font-2" in page.get_attribute("html", "class")
    expect(page.locator("#map-grid button.answered")).to_have_count(4)
    expect(page.locator("#map-grid button.flagged")).to_have_count(1)
    assert problems == []


def _classes(*names):
    import re

    return re.compile("".join(rf"(?=.*\b{n}\b)" for n in names))


def _check(stored, expected):
    assert {uid: (a.response, a.flagged) for uid, a in stored.items()} == expected


def test_network_drop_keeps_answers_and_replays_them_in_order(app, candidate, live_server, page):
    number, last6 = candidate
    _start(page, live_server, number, last6)
    entries = _entries(app, number)
    s1, s2 = _first(entries, "single_choice"), _first(entries, "single_choice", 1)
    mc, tf = _first(entries, "multiple_choice"), _first(entries, "true_false")
    uid = {
        name: entries[pos]["uid"] for name, pos in [("s1", s1), ("s2", s2), ("mc", mc), ("tf", tf)]
    }

    _go(page, s1)
    _choose(page, 0)  # seq 1, saved while online
    _saved(page)
    _eventually(lambda: _check_one(app, number, uid["s1"], entries[s1]["option_order"][0]))

    page.context.set_offline(True)
    expect(page.locator("#offline-banner")).to_be_visible()
    _go(page, s2)
    _choose(page, 1)  # seq 2
    _go(page, s1)
    _choose(page, 2)  # seq 3: the newest value for s1
    _go(page, mc)
    _choose(page, 0)  # seq 4
    _choose(page, 1)  # seq 5 replaces 4 in the queue
    _go(page, tf)
    page.keyboard.press("1")  # seq 6
    _go(page, s2)
    page.keyboard.press("f")  # seq 7
    expect(page.locator("#save-status")).to_have_attribute("data-state", "offline")
    expect(page.locator("#item-status")).to_have_attribute("data-state", "offline")
    expect(page.locator("#map-grid button.pending")).to_have_count(4)
    held = _stored(app, number)
    assert list(held) == [uid["s1"]] and held[uid["s1"]].seq == 1  # nothing got through

    page.context.set_offline(False)
    expect(page.locator("#offline-banner")).to_be_hidden(timeout=WAIT)
    _saved(page)

    def final():
        stored = _stored(app, number)
        got = {k: (stored[u].response, stored[u].flagged, stored[u].seq) for k, u in uid.items()}
        order = entries[s1]["option_order"], entries[s2]["option_order"]
        assert got == {
            "s1": (order[0][2], False, 3),
            "s2": (order[1][1], True, 7),
            "mc": ("".join(sorted(entries[mc]["option_order"][:2])), False, 5),
            "tf": (entries[tf]["option_order"][0], False, 6),
        }
        return stored

    stored = _eventually(final)
    arrived = [a.seq for a in sorted(stored.values(), key=lambda a: a.saved_at)]
    assert arrived == sorted(arrived)  # replayed in sequence order
    with app.app_context(), db.transaction() as s:
        assert _attempt(s, number).last_seq == 7


def _check_one(app, number, uid, response):
    stored = _stored(app, number)
    assert uid in stored and stored[uid].response == response


def test_a_crashed_page_replays_its_queue_after_logging_in_again(app, candidate, live_server, page):
    number, last6 = candidate
    _start(page, live_server, number, last6)
    entries = _entries(app, number)
    first, second = entries[0], entries[1]
    _choose(page, 0)
    _saved(page)
    page.context.set_offline(True)
    page.keyboard.press("ArrowRight")
    _choose(page, 1)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("f")
    expect(page.locator("#save-status")).to_have_attribute("data-state", "offline")
    context = page.context
    page.close()  # the tab dies with two changes queued
    context.set_offline(False)
    assert list(_stored(app, number)) == [first["uid"]]

    again = context.new_page()  # same terminal: its localStorage survived, the session did not
    again.goto(f"{live_server}/exam/take")
    again.wait_for_url(f"{live_server}/exam/")
    _login(again, live_server, number, last6)
    again.wait_for_url(f"{live_server}/exam/take")
    expect(again.locator("#screen-exam")).to_be_visible()  # already started: no instructions
    _saved(again)

    def replayed():
        stored = _stored(app, number)
        assert stored[first["uid"]].flagged is True
        assert stored[second["uid"]].response == second["option_order"][1]

    _eventually(replayed)
    expect(again.locator("#map-grid button.answered")).to_have_count(2)


def _console(page, base, create_user):
    """An invigilator's live console for session S1."""
    create_user("desk", roles=["examiner"])
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", "desk")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/")
    page.goto(f"{base}/console/sessions/S1/live")
    return page


def test_crashed_terminal_resumes_elsewhere_after_approval(
    app, candidate, live_server, page, new_page, create_user
):
    number, last6 = candidate
    _start(page, live_server, number, last6)
    entries = _entries(app, number)
    _choose(page, 0)
    page.keyboard.press("ArrowRight")
    _choose(page, 1)
    _saved(page)
    _set_remaining(app, number, 1800)  # the server says half an hour is left
    page.context.close()  # the terminal crashes

    other = new_page()
    _login(other, live_server, number, last6)
    expect(other.locator("#waiting")).to_be_visible()
    expect(other.locator("#login-message")).to_be_hidden()
    with app.app_context(), db.transaction() as s:
        asking = _attempt(s, number).pending_terminal
    code = attempts.terminal_code(asking)
    expect(other.locator("#terminal-line")).to_contain_text(code)  # what the examiner compares

    # The examiner approves that terminal in the live console, where it shows with its code.
    console = _console(new_page(), live_server, create_user)
    row = console.locator(f"#seats tr[data-number='{number}']")
    expect(row).to_contain_text(code, timeout=WAIT)
    row.locator("button").click()
    expect(console.locator("#action-who")).to_contain_text(code)
    console.select_option("#action-form select[name=action]", "approve_terminal")
    console.fill("#action-form input[name=reason]", "原机死机")
    console.click("#action-form button[type=submit]")
    expect(console.locator("#live-message")).to_contain_text(code)

    other.wait_for_url(f"{live_server}/exam/take", timeout=WAIT)  # the page asks every 3 s
    expect(other.locator("#screen-exam")).to_be_visible()
    expect(other.locator("#map-grid button.answered")).to_have_count(2)
    expect(other.locator("#item-option-list input").nth(0)).to_be_checked()
    left = _remaining(other)
    assert 1700 < left <= 1800
    other.keyboard.press("ArrowRight")
    expect(other.locator("#item-option-list input").nth(1)).to_be_checked()
    other.keyboard.press("ArrowRight")
    _choose(other, 0)  # and the new terminal saves
    _saved(other)
    _eventually(lambda: _check_one(app, number, entries[2]["uid"], entries[2]["option_order"][0]))


def test_resume_code_and_the_old_terminal_is_told_it_moved(
    app, candidate, live_server, page, new_page
):
    number, last6 = candidate
    _start(page, live_server, number, last6)
    entries = _entries(app, number)
    _choose(page, 0)
    _saved(page)

    other = new_page()
    _login(other, live_server, number, last6)
    expect(other.locator("#waiting")).to_be_visible()
    other.fill("#resume-code", "000000")
    other.click("#login-submit")
    expect(other.locator("#login-message")).to_be_visible()  # not accepted (yet)
    code = _act(app, number, "resume_code", reason="换机").removeprefix("续考码：")
    other.fill("#resume-code", code)
    other.click("#login-submit")
    other.wait_for_url(f"{live_server}/exam/take")
    expect(other.locator("#map-grid button.answered")).to_have_count(1)

    page.keyboard.press("ArrowRight")
    _choose(page, 1)  # the old terminal tries to save
    expect(page.locator("#screen-finished")).to_have_attribute("data-kind", "moved", timeout=WAIT)
    expect(page.locator("#finished-text")).to_contain_text("其他终端")
    assert list(_stored(app, number)) == [entries[0]["uid"]]


def test_extra_time_and_a_pause_reach_the_candidate(app, candidate, live_server, page):
    number, last6 = candidate
    _start(page, live_server, number, last6)
    entries = _entries(app, number)
    before = _remaining(page)
    _act(app, number, "extend", minutes=10, reason="机器故障")
    _choose(page, 0)  # the ack carries the new time left; the page fetches the notice
    expect(page.locator("#notice-text")).to_contain_text("延长 10 分钟", timeout=WAIT)
    page.wait_for_function(
        f"() => +document.getElementById('countdown').dataset.remaining >= {before + 590}"
    )

    _act(app, number, "pause", reason="火警演练")
    page.keyboard.press("ArrowRight")
    _choose(page, 1)  # refused with 423: kept in the queue, and the page learns of the pause
    expect(page.locator("#paused-banner")).to_be_visible(timeout=WAIT)
    expect(page.locator("#paused-message")).to_contain_text("火警演练")
    expect(page.locator("#item-option-list input").first).to_be_disabled()
    assert entries[1]["uid"] not in _stored(app, number)

    _act(app, number, "resume", reason="演练结束")
    expect(page.locator("#paused-banner")).to_be_hidden(timeout=WAIT)
    expect(page.locator("#item-option-list input").first).to_be_enabled()
    _saved(page)
    _eventually(lambda: _check_one(app, number, entries[1]["uid"], entries[1]["option_order"][1]))


def test_submit_lists_unanswered_and_flagged_items(app, candidate, live_server, page):
    number, last6 = candidate
    _start(page, live_server, number, last6)
    _choose(page, 0)
    page.keyboard.press("ArrowRight")
    _choose(page, 0)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("f")  # item 3: flagged, not answered
    _saved(page)

    page.click("#submit-open")
    dialog = page.locator("#submit-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#confirm-flagged button")).to_have_text(["3"])
    unanswered = dialog.locator("#confirm-unanswered button")
    expect(unanswered).to_have_count(83)
    assert unanswered.all_inner_texts() == [str(n) for n in range(3, 86)]
    unanswered.nth(1).click()  # jump to item 4 to have a look
    expect(dialog).to_be_hidden()
    expect(page.locator("#item-number")).to_contain_text("4")

    page.click("#submit-open")
    page.click("#submit-confirm")
    finished = page.locator("#screen-finished")
    expect(finished).to_have_attribute("data-kind", "submitted", timeout=WAIT)
    expect(page.locator("#exam-status")).to_be_hidden()
    with app.app_context(), db.transaction() as s:
        a = _attempt(s, number)
        assert a.status == "submitted"
        event = s.exec(select(AttemptEvent).where(AttemptEvent.kind == EventKind.SUBMIT)).one()
        assert event.reason == "最后序号 3"
    assert len(_stored(app, number)) == 3


def test_countdown_reaching_zero_ends_the_exam(app, candidate, live_server, page):
    number, last6 = candidate
    _start(page, live_server, number, last6)
    entries = _entries(app, number)
    _set_remaining(app, number, 6)
    page.reload()
    expect(page.locator("#screen-exam")).to_be_visible()
    _choose(page, 0)
    expect(page.locator("#screen-finished")).to_have_attribute("data-kind", "time-up", timeout=WAIT)
    expect(page.locator("#finished-text")).to_contain_text("自动交卷")
    _check_one(app, number, entries[0]["uid"], entries[0]["option_order"][0])


def test_pages_keep_to_the_content_security_policy(live_server, page):
    response = page.goto(f"{live_server}/exam/take")
    page.wait_for_url(f"{live_server}/exam/")  # no token: back to the login page
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    html = page.content()
    assert (
        "style=" not in html and "<script>" not in html and "http://" not in html.split("<body")[0]
    )


def test_repeated_failed_logins_are_held_back_and_the_page_says_for_how_long(
    candidate, live_server, page
):
    number, last6 = candidate
    page.goto(f"{live_server}/exam/")
    page.fill("#admission-number", number)
    for _ in range(4):  # three free tries, then the fourth failure starts a wait
        page.fill("#id-last6", "000000")
        with page.expect_response("**/api/exam/login") as answer:
            page.click("#login-submit")
        assert answer.value.status == 401
        expect(page.locator("#login-message")).to_contain_text("不正确")
    page.fill("#id-last6", last6)  # the right digits, too early: held back all the same
    with page.expect_response("**/api/exam/login") as answer:
        page.click("#login-submit")
    assert answer.value.status == 429
    expect(page.locator("#login-message")).to_contain_text("秒后再试")
    expect(page.locator("#terminal-line")).to_contain_text(answer.value.json()["terminal_code"])
    expect(page.locator("#login-submit")).to_be_enabled()
    assert page.url == f"{live_server}/exam/"
