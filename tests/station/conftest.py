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
from station.services import users

PASSWORD = "correct-horse-9"


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


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (no downloaded browser builds)."""
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh --test installs it)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()
