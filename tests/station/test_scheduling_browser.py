"""An admin schedules a session, imports its roster and checks a candidate in — in chromium."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from station import db
from station.config import key_passphrase
from station.services import keys, roster, sessions, tickets, users
from tests.station.rosters import roster_csv

pytestmark = pytest.mark.browser


def _login(page, base):
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "correct-horse-9")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/")


def test_schedule_import_roster_and_check_in(csrf_app, exam_site, live_server, page, tmp_path):
    with csrf_app.app_context(), db.transaction() as s:
        users.add_user(s, actor="test", username="boss", display_name="站点管理员",
                       password="correct-horse-9", roles=["admin"])  # fmt: skip
    _login(page, live_server)
    start = (datetime.now(UTC) + timedelta(days=2)).astimezone(sessions.SHANGHAI)
    start = start.replace(hour=9, minute=0)

    page.click("text=考试场次")
    page.click("text=新建场次")
    page.fill("input[name=code]", "B2026-07")
    page.fill("input[name=title]", "工业机器人应用编程（中级）第7批")
    page.fill("input[name=level]", "中级")
    page.fill("input[name=start]", start.strftime("%Y-%m-%dT%H:%M"))
    page.check("input[name=rooms][value=T1]")
    page.select_option("select[name=slot_room] >> nth=0", "P1")
    page.fill("input[name=slot_start] >> nth=0", start.replace(hour=13).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=slot_end] >> nth=0", start.replace(hour=16).strftime("%Y-%m-%dT%H:%M"))
    page.click("text=创建草稿")
    assert "已创建为草稿" in page.inner_text(".flashes")

    csv = tmp_path / "花名册.csv"
    csv.write_bytes(roster_csv(8))
    page.set_input_files("#roster-upload input[type=file]", str(csv))
    page.click("#roster-upload button")
    assert "已导入 8 名考生" in page.inner_text(".flashes")
    assert page.locator("#roster tbody tr").count() == 8

    # Not enough staff yet: the console explains, then the admin assigns.
    assert "需要至少 2 名监考人员" in page.inner_text("#problems")
    for user, role, room in [("inv1", "invigilator", "T1"), ("inv2", "invigilator", "T1"),
                             ("ex1", "examiner", ""), ("ex2", "examiner", ""),
                             ("chief", "chief_examiner", ""), ("sup", "supervisor", "")]:  # fmt: skip
        page.select_option("#assign select[name=username]", user)
        page.select_option("#assign select[name=role]", role)
        page.select_option("#assign select[name=room]", room)
        page.click("#assign button")
    page.select_option("#assign select[name=username]", "inv1")
    page.select_option("#assign select[name=role]", "examiner")
    page.click("#assign button")
    assert "没有 工业机器人应用编程（中级）的考评员资格" in page.inner_text(".flashes")
    assert "人员配备符合规定" in page.inner_text("#problems")

    for state in ("scheduled", "check_in"):
        page.select_option("select[name=to]", state)
        page.click("text=变更状态")
    assert page.inner_text("#state") == "检录中"

    with csrf_app.app_context(), db.transaction() as s:
        session = sessions.get_session(s, "B2026-07")
        first, second = roster.candidates(s, session)[:2]
        kid, private = keys.signer(s, passphrase=key_passphrase(csrf_app.config))
        token = tickets.token_for(first, session, kid=kid, private_key=private)

    page.click("text=打开检录台")
    page.fill("#scan-input", token)
    page.press("#scan-input", "Enter")
    page.wait_for_selector("#result-body .candidate")
    assert first.name in page.inner_text("#result-body")
    assert "已签到" in page.inner_text("#result-body")

    page.fill("#find-input", second.id_number[-4:])
    page.click("#find-form button")
    page.locator("#find-results button").first.click()
    page.click("button.confirm")
    expect(page.locator("#result-body p.ok-box")).to_have_text("已签到")
    expect(page.locator("#counts tbody td").nth(2)).to_have_text("2")  # checked in, live count
