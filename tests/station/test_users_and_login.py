"""Staff accounts, login with roles, and CSRF on every form."""

from __future__ import annotations

import re

from station.services import users


def test_cli_adds_and_lists_users(runner):
    added = runner.invoke(
        args=["users", "add", "li.min", "--name", "李敏", "--role", "examiner",
              "--role", "chief_examiner", "--organisation", "示例技师学院"],
        env={"STATION_USER_PASSWORD": "long-enough-1"},
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = runner.invoke(args=["users", "list"])
    assert "li.min" in listed.output and "examiner,chief_examiner" in listed.output


def test_cli_refuses_bad_accounts_with_every_reason(runner):
    result = runner.invoke(
        args=["users", "add", "x", "--name", " ", "--role", "admin"],
        env={"STATION_USER_PASSWORD": "short"},
    )
    assert result.exit_code == 1
    assert "用户名 'x'" in result.output
    assert "密码至少 8 位" in result.output
    assert "姓名不能为空" in result.output
    unknown = runner.invoke(
        args=["users", "add", "zhang", "--name", "张", "--role", "janitor"],
        env={"STATION_USER_PASSWORD": "long-enough-1"},
    )
    assert "未知角色 'janitor'" in unknown.output


def test_login_and_logout(client, auth):
    assert client.get("/console/").status_code == 302
    response = auth.login()
    assert response.status_code == 302
    home = client.get("/console/")
    assert home.status_code == 200
    assert "概览" in home.get_data(as_text=True)  # Chinese by default
    auth.logout()
    assert client.get("/console/").status_code == 302


def test_wrong_password_is_refused_and_audited(app, client, create_user, session):
    create_user("wang")
    response = client.post("/console/login", data={"username": "wang", "password": "nope-nope"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_roles_gate_pages(client, auth):
    auth.login("examiner1", roles=["examiner"])
    assert client.get("/console/banks").status_code == 200
    assert client.get("/console/staff").status_code == 403
    assert client.get("/console/audit").status_code == 403


def test_login_never_redirects_off_site(client, create_user):
    create_user("admin")
    response = client.post(
        "/console/login?next=//evil.example/x",
        data={"username": "admin", "password": "correct-horse-9"},
    )
    assert response.headers["Location"] == "/console/"


def test_english_on_request(client, auth):
    auth.login()
    page = client.get("/console/?lang=en").get_data(as_text=True)
    assert "Overview" in page
    assert "Item banks" in client.get("/console/").get_data(as_text=True)  # remembered


def test_forms_without_csrf_token_are_refused(csrf_app, create_user):
    client = csrf_app.test_client()
    with csrf_app.app_context():
        from station import db

        with db.transaction() as s:
            users.add_user(s, actor="t", username="admin", display_name="A",
                           password="correct-horse-9", roles=["admin"])  # fmt: skip
    refused = client.post(
        "/console/login", data={"username": "admin", "password": "correct-horse-9"}
    )
    assert refused.status_code == 400
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    accepted = client.post(
        "/console/login",
        data={"username": "admin", "password": "correct-horse-9", "csrf_token": token},
    )
    assert accepted.status_code == 302


def test_admin_adds_staff_in_the_console(client, auth):
    auth.login()
    response = client.post(
        "/console/staff",
        data={"username": "zhao", "display_name": "赵磊", "password": "long-enough-1",
              "roles": ["supervisor"], "organisation": "指导中心"},
        follow_redirects=True,
    )  # fmt: skip
    assert response.status_code == 200
    assert "zhao" in response.get_data(as_text=True)
    bad = client.post("/console/staff", data={"username": "z", "display_name": "", "password": "x"})
    assert bad.status_code == 400
    assert "密码至少 8 位" in bad.get_data(as_text=True)


def test_every_page_is_served_without_external_assets(client, auth):
    auth.login()
    for url in ["/console/", "/console/banks", "/console/staff", "/console/audit",
                "/console/banks/import"]:  # fmt: skip
        page = client.get(url).get_data(as_text=True)
        assert not re.search(r'(src|href)="(https?:)?//', page), url
    css = client.get("/static/css/app.css")
    assert css.status_code == 200


def test_login_redirect_tricks_stay_on_site(client, create_user):
    create_user("admin")
    for trick in [
        "/%09/evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "//evil.example",
    ]:
        response = client.post(f"/console/login?next={trick}",
                               data={"username": "admin", "password": "correct-horse-9"})  # fmt: skip
        assert response.headers["Location"] == "/console/", trick
        client.post("/console/logout")


def test_examiners_cannot_read_answer_keys(client, auth):
    auth.login("examiner1", roles=["examiner"])
    assert client.get("/console/banks/ANY/items").status_code == 403
    assert client.get("/console/banks/ANY/items/X1").status_code == 403
