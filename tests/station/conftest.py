"""Station fixtures in the shape of the Flask tutorial: ``app``, ``client``, ``runner``, ``auth``.

Every test gets its own instance folder with a real SQLite file brought to the latest
migration (migrated once per run into a template, then copied), so nothing leaks between tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from station import create_app, db
from station.cli import init_instance
from station.services import assignments, lifecycle, users

PASSWORD = "correct-horse-9"


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    # scrypt is deliberately slow; tests create many accounts and check no hash strength.
    monkeypatch.setattr(users, "PASSWORD_METHOD", "pbkdf2:sha256:1000")


@pytest.fixture(scope="session")
def template_instance(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template-instance")
    app = create_app({"TESTING": True, "SCHEDULER_ENABLED": False}, instance_path=str(path))
    with app.app_context():
        init_instance(app, station_code="110101", station_name="测试站点")
        db.engine().dispose()
    return path


@pytest.fixture
def instance(template_instance, tmp_path) -> Path:
    path = tmp_path / "instance"
    shutil.copytree(template_instance, path)
    return path


@pytest.fixture
def app(instance):
    app = create_app(
        {"TESTING": True, "SCHEDULER_ENABLED": False, "WTF_CSRF_ENABLED": False},
        instance_path=str(instance),
    )
    yield app
    app.extensions["station_engine"].dispose()


@pytest.fixture
def csrf_app(instance):
    """An app with CSRF protection on, as in production."""
    app = create_app({"TESTING": True, "SCHEDULER_ENABLED": False}, instance_path=str(instance))
    yield app
    app.extensions["station_engine"].dispose()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A database session for arranging and inspecting state; committed by the test if needed."""
    with app.app_context(), db.transaction() as s:
        yield s


@pytest.fixture
def create_user(app):
    """Factory: ``create_user("li", roles=["examiner"])`` commits a staff account."""

    def make(username: str, roles=("admin",), organisation: str = "", display_name=None):
        with app.app_context(), db.transaction() as s:
            return users.add_user(s, actor="test", username=username,
                                  display_name=display_name or username, password=PASSWORD,
                                  roles=list(roles), organisation=organisation)  # fmt: skip

    return make


class AuthActions:
    def __init__(self, client: FlaskClient, create_user):
        self._client = client
        self._create_user = create_user

    def login(self, username: str = "admin", roles=("admin",)):
        self._create_user(username, roles=roles)
        return self._client.post(
            "/console/login", data={"username": username, "password": PASSWORD}
        )

    def logout(self):
        return self._client.post("/console/logout")


@pytest.fixture
def auth(client, create_user) -> AuthActions:
    return AuthActions(client, create_user)


@pytest.fixture
def live_server(csrf_app):
    """The station served by waitress on a loopback port, CSRF on: real HTTP for a browser."""
    import threading

    from waitress.server import create_server

    server = create_server(csrf_app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def demo_package():
    """The demo IRAP-M bank as a signed package, built once: (issuer key, package bytes)."""
    from question_bank import package, signing
    from station.demo.seed import load_content

    issuer = signing.IssuerKey.generate("iss-fixture")
    content = load_content()
    meta = dict(content.meta, created_at="2026-09-01T00:00:00Z")
    data, _ = package.build_package(content, manifest_meta=meta, key=issuer)
    return issuer, data


@pytest.fixture
def demo_bank(app, demo_package):
    """The demo IRAP-M bank imported as a signed package; returns its code."""
    from station.services import banks

    issuer, data = demo_package
    with app.app_context(), db.transaction() as s:
        banks.add_trusted_issuer(s, actor="test", public_pem=issuer.public_pem(), kid=issuer.kid)
        banks.import_bank(s, actor="test", filename="irap.zip", data=data)
    return "IRAP-M"


@pytest.fixture
def exam_site(app, demo_bank, create_user):
    """A site ready to schedule: the IRAP programme, rooms, staff with qualifications."""
    from station.services import site

    with app.app_context(), db.transaction() as s:
        site.add_programme(s, actor="test", code="IRAP", name="工业机器人应用编程",
                           levels=["初级", "中级", "高级"], occupation_code="6-31-01-10")  # fmt: skip
        site.add_room(s, actor="test", code="T1", name="理论一室", kind="theory", seats=30)
        site.add_room(s, actor="test", code="T2", name="理论二室", kind="theory", seats=20)
        site.add_room(s, actor="test", code="P1", name="实操车间", kind="practical", seats=10)
    staff = {
        "inv1": (["examiner"], "示例技师学院"), "inv2": (["examiner"], "示例职业学校"),
        "inv3": (["examiner"], "示例职业学校"), "inv4": (["examiner"], "示例职业学校"),
        "ex1": (["examiner"], "甲公司"), "ex2": (["examiner"], "乙公司"),
        "ex3": (["examiner"], "丙公司"), "chief": (["chief_examiner", "examiner"], "丁公司"),
        "sup": (["supervisor"], "指导中心"),
    }  # fmt: skip
    for name, (roles, org) in staff.items():
        create_user(name, roles=roles, organisation=org)
    with app.app_context(), db.transaction() as s:
        for name in ("ex1", "ex2", "ex3", "chief"):
            assignments.add_qualification(s, actor="test", username=name,
                                       certificate_number=f"KP-{name}", programme="IRAP",
                                       levels=["中级", "高级"])  # fmt: skip
    return staff


@pytest.fixture
def running_exam(app, exam_site):
    """Session S1 in progress: theory starting now+2 min, four candidates checked in.

    Returns the candidates as (admission_number, id_last6) pairs.
    """
    from datetime import timedelta

    from station.models.common import utcnow
    from station.services import checkin, roster, sessions
    from tests.station.rosters import roster_csv

    start = utcnow().replace(microsecond=0) + timedelta(minutes=2)
    plan = sessions.SessionPlan(code="S1", title="理论考试", programme="IRAP", level="中级",
                                bank="IRAP-M", theory_start=start, theory_rooms=["T1"],
                                practical_slots=[("P1", start + timedelta(hours=4),
                                                  start + timedelta(hours=7))])  # fmt: skip
    with app.app_context(), db.transaction() as s:
        sessions.create_session(s, actor="t", plan=plan)
        roster.import_roster(s, actor="t", session_code="S1", filename="r.csv", data=roster_csv(4))
        for user, role, room in [("inv1", "invigilator", "T1"), ("inv2", "invigilator", "T1"),
                                 ("ex1", "examiner", None), ("ex2", "examiner", None),
                                 ("chief", "chief_examiner", None), ("sup", "supervisor", None)]:  # fmt: skip
            assignments.assign(s, actor="t", session_code="S1", username=user, role=role, room=room)
        lifecycle.transition(s, actor="t", session_code="S1", to="scheduled")
        lifecycle.transition(s, actor="t", session_code="S1", to="check_in")
        people = roster.candidates(s, sessions.get_session(s, "S1"))
        for c in people:
            checkin.check_in(s, actor="t", admission_number=c.admission_number)
        lifecycle.transition(s, actor="t", session_code="S1", to="in_progress", now=start)
        return [(c.admission_number, c.id_number[-6:]) for c in people]
