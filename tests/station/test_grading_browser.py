"""Three examiners score a practical task on the tablet form in chromium, the chief examiner rules
on the spread, grading runs, the supervisor signs off, and the candidate looks the result up
on a phone.

The station runs under waitress (``live_server``, CSRF on); the theory exam is taken over the
real candidate API first. What was stored is read from the database, not from the page.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from station import db
from station.models.grading import MarkDecision, PracticalMark, ResultSignoff
from station.services import lifecycle, practical, roster
from tests.station.conftest import PASSWORD
from tests.station.grading import SESSION, TASK, answer_keys, close_theory, schedule, sit

pytestmark = pytest.mark.browser

WAIT = 10_000  # ms
CRITERIA = {"T1-01": 10, "T1-02": 10, "T1-03": 20, "T1-04": 15, "T1-05": 15, "T1-06": 15,
            "T1-07": 5, "T1-08": 10}  # fmt: skip


@pytest.fixture
def new_page(browser):
    """Each staff member on their own tablet: a fresh browser context per call."""
    contexts = []

    def make(**options):
        context = browser.new_context(locale="zh-CN", **options)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def in_grading(app, client, exam_site):
    """G1 in grading: four candidates sat the theory exam (all right), one absent; candidates
    2–4 are already marked by everyone, so the browser scores candidate 1."""
    people = schedule(app)
    keys = answer_keys(app)
    for n, (number, id_number, _) in enumerate(people[:4]):
        sit(client, number, id_number, lambda i, item: list(keys[item["uid"]]), f"t{n}")
    close_theory(app)
    with app.app_context(), db.transaction() as s:
        for number, _, _ in people[1:4]:
            for examiner in ("chief", "ex1", "ex2"):
                practical.submit_marks(s, actor=examiner, session_code=SESSION,
                                       admission_number=number, task_uid=TASK,
                                       points={k: v * 0.8 for k, v in CRITERIA.items()})  # fmt: skip
    return people


def login(page, base, username):
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/")


def score(page, base, number, fraction):
    """Open the candidate from the examiner's list, fill the tablet form, check and submit."""
    page.goto(f"{base}/console/sessions/{SESSION}/scoring")
    page.click(f"li[data-candidate='{number}'] a")
    expect(page.locator("#score-form")).to_be_visible()
    assert page.locator("#panel-marks").count() == 0  # blind: nobody else's marks
    codes = list(CRITERIA)
    for code in codes[:-1]:
        page.fill(f"#p_{code}", f"{CRITERIA[code] * fraction:g}")
    page.click(f"button.quick[data-target='p_{codes[-1]}'][data-value='{CRITERIA[codes[-1]]}']")
    expected = sum(v * fraction for v in list(CRITERIA.values())[:-1]) + CRITERIA[codes[-1]]
    expect(page.locator("#running-total")).to_have_text(f"{expected:g}", timeout=WAIT)
    page.click("#review-marks")
    expect(page.locator("#confirm-total")).to_have_text(f"{expected:g}")
    page.click("#submit-marks")
    expect(page.locator("#panel-marks")).to_be_visible(timeout=WAIT)
    return expected


def test_three_examiners_score_the_chief_rules_and_the_supervisor_signs_off(
    app, live_server, new_page, in_grading
):
    number, id_number, name = in_grading[0]
    base = live_server
    totals = {}
    for examiner, fraction in (("ex1", 0.9), ("ex2", 0.9), ("chief", 0.7)):
        page = new_page(viewport={"width": 1024, "height": 768})  # a tablet in landscape
        login(page, base, examiner)
        totals[examiner] = score(page, base, number, fraction)
        # after submitting, the examiner sees every mark given so far
        header = page.inner_text("#panel-marks thead")
        assert examiner in header
        if examiner == "chief":
            assert "ex1" in header and "ex2" in header
            expect(page.locator("#cell-outcome")).to_contain_text("评分差异")
    with app.app_context(), db.transaction() as s:
        candidate = roster.get_candidate(s, number)
        marks = s.exec(
            select(PracticalMark).where(PracticalMark.candidate_id == candidate.id)
        ).all()
        given = {m.examiner_id: m.total for m in marks}
    assert sorted(given.values()) == sorted(totals.values())

    chief = page  # the chief's tablet: rule on the spread
    chief.goto(f"{base}/console/sessions/{SESSION}/rulings")
    cell = chief.locator(f"#ruling-{number}-{TASK}")
    expect(cell).to_be_visible()
    assert re.search(r"评分差异 \d+(\.\d+)? 分", cell.inner_text())
    cell.locator("input[name=points]").fill("88")
    cell.locator("textarea[name=reason]").fill("复看录像，按 88 分")
    cell.locator("button[type=submit]").click()
    expect(chief.locator("#no-rulings")).to_be_visible(timeout=WAIT)
    with app.app_context(), db.transaction() as s:
        decision = s.exec(select(MarkDecision)).one()
        assert (decision.points, decision.decided_by) == (88, "chief")

    chief.goto(f"{base}/console/sessions/{SESSION}/results")
    chief.click("#grade-now")
    expect(chief.locator("#gaps.ok-box")).to_be_visible(timeout=WAIT)
    expect(chief.locator(f"tr[data-candidate='{number}']")).to_contain_text("88")
    chief.click("#to-review")
    expect(chief.locator("#state")).to_have_text("审核中", timeout=WAIT)

    sup = new_page()
    login(sup, base, "sup")
    sup.goto(f"{base}/console/sessions/{SESSION}/results")
    expect(sup.locator("svg#chart-theory")).to_be_visible()
    sup.fill("#sign-off-note", "核对无误")
    sup.click("#sign-off")
    box = sup.locator("#signoff")
    expect(box).to_contain_text("sup", timeout=WAIT)
    expect(box).to_contain_text("核对无误")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", box.inner_text())
    assert sup.locator("#sign-off-form").count() == 0
    with app.app_context(), db.transaction() as s:
        signed = s.exec(select(ResultSignoff)).one()
        assert signed.signed_by == "sup" and signed.results == 5
    sup.click("#to-published")
    expect(sup.locator("#state")).to_have_text("成绩已发布", timeout=WAIT)

    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.goto(f"{base}/results/")
    phone.fill("#admission-number", number)
    phone.fill("#id-number", id_number)
    phone.click("#lookup-submit")
    expect(phone.locator("#result-name")).to_have_text(name, timeout=WAIT)
    expect(phone.locator("#result-parts")).to_contain_text("88")
    expect(phone.locator("#result-outcome")).to_contain_text("合格")
    with app.app_context(), db.transaction() as s:
        assert lifecycle.get_session(s, SESSION).state == "published"
