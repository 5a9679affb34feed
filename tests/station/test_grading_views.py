"""The grading pages over HTTP: examiners' blind scoring form, the chief examiner's rulings and
board, grading and sign-off, score sheets, regrade and appeals, and the public results page.

Assertions read the database or the service's own (Chinese) messages and element ids, not the
page's English msgids, so they hold whether or not a string has been translated yet.
"""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from sqlmodel import select

from station import db
from station.models import Programme, Result
from station.models.grading import Appeal, PracticalMark, ResultSignoff
from station.services import lifecycle, practical, results, roster
from tests.station.conftest import PASSWORD
from tests.station.grading import (
    SESSION,
    TASK,
    an_item_answered_right,
    answer_keys,
    close_theory,
    schedule,
    sit,
    wrong,
)

CRITERIA = {"T1-01": 10, "T1-02": 10, "T1-03": 20, "T1-04": 15, "T1-05": 15, "T1-06": 15,
            "T1-07": 5, "T1-08": 10}  # fmt: skip
BASE = f"/console/sessions/{SESSION}"


def share(fraction: float) -> dict[str, float]:
    return {code: top * fraction for code, top in CRITERIA.items()}


def run(app, fn, **kwargs):
    with app.app_context(), db.transaction() as s:
        return fn(s, **kwargs)


def mark(app, examiner, number, points, vetoes=(), note=""):
    run(app, practical.submit_marks, actor=examiner, session_code=SESSION, admission_number=number,
        task_uid=TASK, points=points, vetoes=list(vetoes), note=note)  # fmt: skip


def login(app, username):
    client = app.test_client()
    r = client.post("/console/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302, r.data[:300]
    return client


def form_of(points: dict[str, float], **extra) -> dict:
    return {f"p_{code}": str(value) for code, value in points.items()} | extra


def flashes(html: str, kind: str = "[a-z-]+") -> list[str]:
    return re.findall(rf'<li class="flash {kind}">(.*?)</li>', html)


@pytest.fixture
def people(app, client, exam_site):
    """G1 in grading: candidates 0–2 answered every item right, candidate 3 every item wrong,
    candidate 4 absent. Returns [(admission number, ID number, name)]."""
    group = schedule(app)
    keys = answer_keys(app)
    for n, (number, id_number, _) in enumerate(group[:4]):
        if n < 3:
            sit(client, number, id_number, lambda i, item: list(keys[item["uid"]]), f"t{n}")
        else:
            sit(client, number, id_number, lambda i, item: wrong(item, keys[item["uid"]]), "t3")
    close_theory(app)
    return group


def mark_everyone(app, people, fractions=(0.9, 0.9, 0.9)):
    for number, _, _ in people[:4]:
        for examiner, f in zip(("chief", "ex1", "ex2"), fractions, strict=True):
            mark(app, examiner, number, share(f))


def stored_marks(app, number) -> list[PracticalMark]:
    with app.app_context(), db.transaction() as s:
        c = roster.get_candidate(s, number)
        rows = s.exec(select(PracticalMark).where(PracticalMark.candidate_id == c.id)).all()
        for r in rows:
            s.expunge(r)
        return rows


# --- examiners ----------------------------------------------------------------------------------


def test_the_form_is_blind_until_the_examiner_has_submitted(app, people):
    number = people[0][0]
    mark(app, "ex2", number, {**share(0.8), "T1-07": 3.25}, note="SECRET-NOTE-EX2")
    ex1 = login(app, "ex1")
    listing = ex1.get(f"{BASE}/scoring").get_data(as_text=True)
    assert listing.count('class="todo"') == 4 and "ex2" not in listing
    cell_url = f"{BASE}/scoring/{number}/{TASK}"
    page = ex1.get(cell_url).get_data(as_text=True)
    assert 'id="score-form"' in page
    for leak in ("ex2", "SECRET-NOTE-EX2", "3.25", "panel-marks"):
        assert leak not in page
    assert 'name="p_T1-03"' in page and 'max="20"' in page and 'name="veto" value="T1-09"' in page
    # check, then submit: the confirmation step still shows nothing of ex2
    confirm = ex1.post(cell_url, data=form_of(share(0.9), action="review"))
    body = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and 'id="submit-marks"' in body and "ex2" not in body
    assert re.search(r'id="confirm-total">90<', body)
    assert len(stored_marks(app, number)) == 1  # checking stored nothing
    done = ex1.post(cell_url, data=form_of(share(0.9), action="submit", confirm="final"))
    assert done.status_code == 302
    assert sorted(m.total for m in stored_marks(app, number)) == [79.25, 90]
    after = ex1.get(cell_url).get_data(as_text=True)
    assert 'id="panel-marks"' in after and "ex2" in after and "3.25" in after
    assert 'id="next-candidate"' in after  # straight on to the next candidate
    # a second submission is refused and changes nothing
    again = ex1.post(cell_url, data=form_of(share(0.5), action="submit", confirm="final"))
    assert again.status_code == 200 and len(stored_marks(app, number)) == 2


@pytest.mark.parametrize(
    ("points", "message"),
    [({**share(1), "T1-03": 21}, "超过该项满分 20"), ({**share(1), "T1-04": -1}, "不能为负数"),
     ({**share(1), "T1-05": "abc"}, "不是数字")],
)  # fmt: skip
def test_marks_that_do_not_fit_are_refused_with_the_reason(app, people, points, message):
    number = people[0][0]
    ex1 = login(app, "ex1")
    url = f"{BASE}/scoring/{number}/{TASK}"
    for action in ("review", "submit"):
        r = ex1.post(url, data=form_of(points, action=action, confirm="final"))
        assert r.status_code == 400 and message in r.get_data(as_text=True)
    missing = {k: v for k, v in share(1).items() if k != "T1-02"}
    r = ex1.post(url, data=form_of(missing, action="review"))
    assert r.status_code == 400 and "T1-02" in r.get_data(as_text=True)
    # without the confirmation step nothing is submitted
    assert ex1.post(url, data=form_of(share(1), action="submit")).status_code == 400
    assert stored_marks(app, number) == []


def test_a_raised_veto_is_confirmed_then_goes_to_the_chief(app, people):
    number = people[0][0]
    ex1 = login(app, "ex1")
    url = f"{BASE}/scoring/{number}/{TASK}"
    body = ex1.post(url, data=form_of(share(0.9), action="review", veto="T1-09")).get_data(
        as_text=True
    )
    assert 'id="confirm-vetoes"' in body and 'name="veto" value="T1-09"' in body
    ex1.post(url, data=form_of(share(0.9), action="submit", confirm="final", veto="T1-09"))
    assert stored_marks(app, number)[0].vetoes == ["T1-09"]


def test_who_may_open_which_page(app, people, create_user):
    number = people[0][0]
    anonymous = app.test_client().get(f"{BASE}/scoring")
    assert anonymous.status_code == 302 and "/console/login" in anonymous.location
    inv = login(app, "inv1")  # an examiner account, but not on G1's panel
    assert inv.get(f"{BASE}/scoring/{number}/{TASK}").status_code == 403
    assert 'class="todo"' not in inv.get(f"{BASE}/scoring").get_data(as_text=True)
    ex1 = login(app, "ex1")
    for url in ("/rulings", "/results", "/missing", "/regrade", "/appeals", "/score-sheet.xlsx"):
        assert ex1.get(BASE + url).status_code == 403, url
    assert ex1.post(f"{BASE}/results/grade").status_code == 403
    assert ex1.post(f"{BASE}/results/sign-off").status_code == 403
    sup = login(app, "sup")
    assert sup.get(f"{BASE}/scoring").status_code == 403
    assert sup.post(f"{BASE}/results/grade").status_code == 403
    assert sup.post(f"{BASE}/regrade/apply").status_code == 403
    create_user("admin", roles=["admin"])
    admin = login(app, "admin")
    assert admin.get(f"{BASE}/rulings").status_code == 403  # sees no one's marks
    assert admin.get(f"{BASE}/missing").status_code == 200
    assert ex1.get(f"{BASE}/scoring/{people[4][0]}/{TASK}").status_code == 404  # absent
    assert ex1.get(f"{BASE}/scoring/{number}/NO-SUCH-TASK").status_code == 404


# --- the chief examiner -------------------------------------------------------------------------


def test_the_board_names_who_is_missing(app, people):
    mark(app, "ex1", people[0][0], share(0.9))
    chief = login(app, "chief")
    page = chief.get(f"{BASE}/missing").get_data(as_text=True)
    owed = page.split('id="owed"')[1].split("</div>")[0]
    counts = {name: len(cells.split("、"))
              for name, cells in re.findall(r"<li><b>(\w+)</b>：.*? — (.*?)</li>", owed)}  # fmt: skip
    assert counts == {"chief": 4, "ex1": 3, "ex2": 4}
    assert page.count('class="cell-missing"') == 4


def test_the_chief_sees_the_marks_side_by_side_and_rules(app, people):
    number = people[0][0]
    for examiner, f in (("chief", 0.60), ("ex1", 0.75), ("ex2", 0.72)):
        mark(app, examiner, number, share(f))
    sup = login(app, "sup")
    seen = sup.get(f"{BASE}/rulings").get_data(as_text=True)
    assert f'id="ruling-{number}-{TASK}"' in seen and "ruling-form" not in seen  # read only
    chief = login(app, "chief")
    page = chief.get(f"{BASE}/rulings").get_data(as_text=True)
    section = page.split(f'id="ruling-{number}-{TASK}"')[1].split("</section>")[0]
    assert "评分差异 15 分" in section
    assert all(total in section for total in (">60<", ">75<", ">72<"))
    assert "veto_upheld" not in section  # nobody raised a veto
    url = f"{BASE}/rulings/{number}/{TASK}"
    r = chief.post(url, data={"points": "72", "reason": " "}, follow_redirects=True)
    assert "裁定须填写理由" in "".join(flashes(r.get_data(as_text=True)))
    chief.post(url, data={"points": "72", "reason": "复看录像"})
    with app.app_context(), db.transaction() as s:
        cell = practical.cells(s, lifecycle.get_session(s, SESSION))[0]
        assert cell.decision.points == 72 and cell.decision.decided_by == "chief"
    after = chief.get(f"{BASE}/rulings").get_data(as_text=True)
    assert 'id="no-rulings"' in after and "复看录像" in after


def test_review_scores_where_the_level_needs_them(app, people):
    with app.app_context(), db.transaction() as s:
        programme = s.exec(select(Programme)).one()
        programme.review_levels = "中级"
        s.add(programme)
    chief = login(app, "chief")
    number = people[0][0]
    r = chief.post(f"{BASE}/review-scores", data={"admission_number": number, "score": "101"},
                   follow_redirects=True)  # fmt: skip
    assert "0–100" in "".join(flashes(r.get_data(as_text=True)))
    chief.post(f"{BASE}/review-scores", data={"admission_number": number, "score": "75.5"})
    page = chief.get(f"{BASE}/review-scores").get_data(as_text=True)
    assert ">75.5<" in page and page.count('name="score"') == 3  # three still to enter
    assert login(app, "sup").post(f"{BASE}/review-scores", data={}).status_code == 403


# --- grading, review, sign-off ------------------------------------------------------------------


def test_grade_review_sign_off_and_publish(app, people):
    chief = login(app, "chief")
    first = chief.get(f"{BASE}/results").get_data(as_text=True)
    assert 'id="grade-now"' in first and "缺少" in first.split('id="gaps"')[1]
    mark_everyone(app, people)
    chief.post(f"{BASE}/results/grade")
    page = chief.get(f"{BASE}/results").get_data(as_text=True)
    assert 'class="ok-box" id="gaps"' in page
    assert page.count("outcome-passed") == 3 and page.count("outcome-failed") == 1
    assert 'id="chart-theory"' in page and 'id="chart-practical"' in page
    assert re.search(r'id="pass-rate">75\.0%', page)
    outliers = page.split('id="outliers"')[1].split("</table>")[0]
    assert people[3][0] in outliers  # theory 0 against practical 90: a 90-point gap
    r = chief.post(f"{BASE}/results/transition", data={"to": "review"})
    assert r.status_code == 302
    assert chief.post(f"{BASE}/results/transition", data={"to": "draft"}).status_code == 403
    sup = login(app, "sup")
    review = sup.get(f"{BASE}/results").get_data(as_text=True)
    assert 'id="sign-off-form"' in review and 'id="grade-now"' not in review
    assert 'id="sign-off-form"' not in chief.get(f"{BASE}/results").get_data(as_text=True)
    sup.post(f"{BASE}/results/sign-off", data={"note": "核对无误"})
    signed = sup.get(f"{BASE}/results").get_data(as_text=True)
    box = signed.split('id="signoff"')[1].split("</div>")[0]
    assert "sup" in box and "核对无误" in box and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", box)
    assert 'id="sign-off-form"' not in signed
    again = sup.post(f"{BASE}/results/sign-off", data={"note": "x"}, follow_redirects=True)
    assert "不能再次签字" in "".join(flashes(again.get_data(as_text=True)))
    with app.app_context(), db.transaction() as s:
        assert s.exec(select(ResultSignoff)).one().note == "核对无误"
    grade_after = chief.post(f"{BASE}/results/grade", follow_redirects=True)
    assert "签字确认锁定" in "".join(flashes(grade_after.get_data(as_text=True)))
    sup.post(f"{BASE}/results/transition", data={"to": "published"})
    with app.app_context(), db.transaction() as s:
        assert lifecycle.get_session(s, SESSION).state == "published"


def _signed_and_published(app, people):
    mark_everyone(app, people)
    run(app, results.grade_session, actor="chief", session_code=SESSION)
    run(app, lifecycle.transition, actor="chief", session_code=SESSION, to="review")
    run(app, results.sign_off, actor="sup", session_code=SESSION, note="ok")
    run(app, lifecycle.transition, actor="sup", session_code=SESSION, to="published")


def test_score_sheet_as_xlsx_and_pdf(app, people):
    mark_everyone(app, people)
    run(app, results.grade_session, actor="chief", session_code=SESSION)
    sup = login(app, "sup")
    r = sup.get(f"{BASE}/score-sheet.xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    ws = openpyxl.load_workbook(io.BytesIO(r.data)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header = next(i for i, row in enumerate(rows) if row[0] == "序号")
    assert rows[header][7:10] == ["理论知识", "操作技能", "结果"]
    data = rows[header + 1:header + 6]  # fmt: skip
    assert [row[1] for row in data] == [p[0] for p in people]
    assert [row[8] for row in data] == [90, 90, 90, 90, None]
    assert [row[9] for row in data] == ["合格", "合格", "合格", "不合格", "缺考"]
    assert data[0][4] == "居民身份证"
    assert data[0][5] != people[0][1] and data[0][5].endswith(people[0][1][-4:])  # masked
    assert "草稿" in "".join(str(v) for row in rows[:4] for v in row if v)
    pdf = sup.get(f"{BASE}/score-sheet.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_a_formula_like_name_stays_text_in_the_sheet(app, people):
    from station.services import score_sheet

    with app.app_context(), db.transaction() as s:
        c = roster.get_candidate(s, people[0][0])
        c.name = '=HYPERLINK("http://x","y")'
        s.add(c)
    with app.app_context(), db.transaction() as s:
        data = score_sheet.xlsx(s, lifecycle.get_session(s, SESSION))
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    cell = next(c for row in ws.iter_rows() for c in row if c.value == people[0][0])
    name = ws.cell(row=cell.row, column=3)
    assert name.data_type == "s" and name.value.startswith("=HYPERLINK")


# --- regrade and appeals ------------------------------------------------------------------------


def test_regrade_dry_run_then_apply_with_history(app, people):
    _signed_and_published(app, people)
    uid, right = an_item_answered_right(app, people[0][0])
    new_key = "T" if right == "F" else "F" if right == "T" else ("B" if right != "B" else "A")
    chief = login(app, "chief")
    r = chief.post(f"{BASE}/regrade/key", data={"item_uid": uid, "answer": new_key, "reason": ""})
    assert r.status_code == 400 and "须填写理由" in "".join(flashes(r.get_data(as_text=True)))
    assert f'name="item_uid" required value="{uid}"' in r.get_data(as_text=True)  # kept
    chief.post(f"{BASE}/regrade/key", data={"item_uid": uid, "answer": new_key.lower(),
                                           "reason": "标准答案有误"})  # fmt: skip
    page = chief.get(f"{BASE}/regrade").get_data(as_text=True)
    dry = page.split('id="dry-run"')[1].split("</table>")[0]
    assert f'data-candidate="{people[0][0]}"' in dry and "100 →" in dry
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', page).group(1)
    with app.app_context(), db.transaction() as s:  # the dry run wrote nothing
        assert all(r.version == 1 for r in s.exec(select(Result)))
    stale = chief.post(f"{BASE}/regrade/apply", data={"fingerprint": "0" * 64, "reason": "x"},
                       follow_redirects=True)  # fmt: skip
    assert len(flashes(stale.get_data(as_text=True), "error")) == 1
    chief.post(f"{BASE}/regrade/apply", data={"fingerprint": fingerprint, "reason": "第 1 题"})
    history = chief.get(f"{BASE}/candidates/{people[0][0]}/results").get_data(as_text=True)
    versions = history.split('id="versions"')[1].split("</table>")[0]
    assert 'class="superseded"' in versions and 'class="current"' in versions
    assert "重新评分：第 1 题" in versions
    assert 'id="dry-run"' in chief.get(f"{BASE}/regrade").get_data(as_text=True)


def test_appeals_are_lodged_and_resolved(app, people):
    number = people[3][0]  # theory 0
    sup = login(app, "sup")
    early = sup.post(f"{BASE}/appeals", data={"admission_number": number, "part": "theory",
                                             "statement": "网络中断"}, follow_redirects=True)  # fmt: skip
    assert "尚未公布" in "".join(flashes(early.get_data(as_text=True)))
    _signed_and_published(app, people)
    sup.post(f"{BASE}/appeals", data={"admission_number": number, "part": "theory",
                                      "statement": "网络中断"})  # fmt: skip
    with app.app_context(), db.transaction() as s:
        appeal_id = s.exec(select(Appeal)).one().id
    url = f"{BASE}/appeals/{appeal_id}/resolve"
    bad = sup.post(url, data={"decision": "uphold", "score": "", "reason": "r"},
                   follow_redirects=True)  # fmt: skip
    assert len(flashes(bad.get_data(as_text=True), "error")) == 1
    assert login(app, "ex1").post(url, data={"decision": "dismiss"}).status_code == 403
    sup.post(url, data={"decision": "uphold", "score": "64", "reason": "按纸质记录重评"})
    page = sup.get(f"{BASE}/appeals").get_data(as_text=True)
    assert "按纸质记录重评" in page and 'class="resolve"' not in page
    with app.app_context(), db.transaction() as s:
        versions = results.history(s, roster.get_candidate(s, number))
        assert [(v.version, v.theory, v.outcome.value) for v in versions] == [
            (1, 0, "failed"), (2, 64, "passed")]  # fmt: skip


# --- the public results page --------------------------------------------------------------------


def lookup(client, number, id_number):
    return client.post("/results/", data={"admission_number": number, "id_number": id_number})


def test_public_lookup_only_after_publication_and_one_answer_for_every_miss(app, people):
    number, id_number, name = people[0]
    client = app.test_client()
    assert client.get("/results/").status_code == 200
    unpublished = lookup(client, number, id_number)
    assert unpublished.status_code == 404
    _signed_and_published(app, people)
    found = lookup(client, number, id_number.lower())
    page = found.get_data(as_text=True)
    assert (
        found.status_code == 200 and name in page and found.headers["Cache-Control"] == "no-store"
    )
    assert id_number not in page and id_number[-4:] in page  # masked
    parts = page.split('id="result-parts"')[1].split("</table>")[0]
    assert "理论知识" in parts and ">100<" in parts and ">90<" in parts and "综合评审" not in parts
    assert "合格" in page.split('id="result-outcome"')[1]
    misses = [lookup(client, number, id_number[:-1] + ("0" if id_number[-1] != "0" else "1")),
              lookup(client, "NO-SUCH-NUMBER", id_number),
              lookup(client, people[1][0], id_number)]  # fmt: skip
    errors = {m.get_data(as_text=True).split('id="lookup-error"')[1].split("</p>")[0]
              for m in misses}  # fmt: skip
    assert len(errors) == 1 and all(m.status_code == 404 for m in misses)
    assert (
        unpublished.get_data(as_text=True).split('id="lookup-error"')[1].split("</p>")[0] in errors
    )
    assert lookup(client, "", "").status_code == 400


def test_public_lookup_misses_are_rate_limited_per_client(app, people):
    _signed_and_published(app, people)
    app.config["RESULTS_LOOKUPS"] = 3
    client = app.test_client()
    number, id_number, _ = people[0]
    for _ in range(5):  # a kiosk serving a queue: found results do not count
        assert lookup(client, number, id_number).status_code == 200
    for _ in range(3):
        assert lookup(client, number, "X" * 18).status_code == 404
    assert lookup(client, number, id_number).status_code == 429
    other = app.test_client()
    elsewhere = other.post("/results/", data={"admission_number": number, "id_number": id_number},
                           environ_base={"REMOTE_ADDR": "10.0.0.9"})  # fmt: skip
    assert elsewhere.status_code == 200


def test_sliding_window_forgets_old_events():
    from station.views.results import SlidingWindow

    now = [0.0]
    window = SlidingWindow(2, 60, clock=lambda: now[0])
    window.add("a")
    now[0] = 10.0
    window.add("a")
    assert window.full("a") and not window.full("b")
    now[0] = 59.9
    assert window.full("a")
    now[0] = 60.0  # the first event has left the window
    assert not window.full("a")
    window.add("a")
    assert window.full("a")


def test_posts_need_the_csrf_token(csrf_app, exam_site):
    client = csrf_app.test_client()
    assert (
        client.post("/results/", data={"admission_number": "A", "id_number": "B"}).status_code
        == 400
    )
    page = client.get("/results/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    ok = client.post("/results/", data={"admission_number": "A", "id_number": "B",
                                        "csrf_token": token})  # fmt: skip
    assert ok.status_code == 404
