"""An admin imports banks through the console in a real browser (Debian chromium)."""

from __future__ import annotations

import pytest

from station import db
from station.services import users

pytestmark = pytest.mark.browser

GOOD_GIFT = """\
$CATEGORY: 工业机器人/安全
::IRB-001:: 示教模式下机器人TCP最高速度一般限制为多少？{
  ~100 mm/s
  =250 mm/s
  ~500 mm/s
  ~1000 mm/s
}

::IRB-002:: 进入机器人围栏前必须先按下急停按钮。{TRUE}
"""

BROKEN_GIFT = """\
::Q1:: 请简述机器人零点校准的步骤。{}

::Q2:: 2+2=?{#4}
"""


def _admin(app):
    with app.app_context(), db.transaction() as s:
        users.add_user(s, actor="test", username="admin", display_name="王建国",
                       password="correct-horse-9", roles=["admin"])  # fmt: skip


def _login(page, base):
    page.goto(f"{base}/console/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "correct-horse-9")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/")


def test_admin_imports_a_bank_and_browses_it(csrf_app, live_server, page, tmp_path):
    _admin(csrf_app)
    _login(page, live_server)
    assert page.inner_text("h1") == "概览"

    good = tmp_path / "robot-safety.gift"
    good.write_text(GOOD_GIFT, encoding="utf-8")
    page.click("text=题库")
    page.click("text=导入题库")
    page.set_input_files("input[name=file]", str(good))
    page.fill("input[name=bank]", "ROBOT-SAFETY")
    page.click("button:has-text('导入')")
    report = page.inner_text("#import-report")
    assert "已导入 ROBOT-SAFETY 版本 1" in report
    assert "单选: 1" in report and "判断: 1" in report

    page.click("text=打开题库")
    page.click("text=浏览试题")
    page.fill("input[name=q]", "围栏")
    page.click("button:has-text('搜索')")
    rows = page.locator("table.items tbody tr")
    assert rows.count() == 1
    rows.first.locator("a").click()
    assert "进入机器人围栏前" in page.inner_text(".preview")
    assert page.locator(".options li.correct").inner_text() == "正确"


def test_broken_file_shows_every_problem_and_imports_nothing(csrf_app, live_server, page, tmp_path):
    _admin(csrf_app)
    _login(page, live_server)
    broken = tmp_path / "broken.gift"
    broken.write_text(BROKEN_GIFT, encoding="utf-8")
    page.goto(f"{live_server}/console/banks/import")
    page.set_input_files("input[name=file]", str(broken))
    page.click("button:has-text('导入')")
    problems = page.locator("#import-report ol.problems li")
    assert problems.count() >= 2
    text = page.inner_text("#import-report")
    assert "Q1" in text and "Q2" in text
    page.goto(f"{live_server}/console/banks")
    assert "尚无题库" in page.inner_text("main")


def test_console_switches_to_english(csrf_app, live_server, page):
    _admin(csrf_app)
    _login(page, live_server)
    page.click("text=English")
    assert page.inner_text("h1") == "Overview"
    page.click("text=Item banks")
    assert page.inner_text("h1") == "Item banks"
