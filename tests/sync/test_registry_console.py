"""The operator console: login with CSRF and sessions, stations, revocation, audit, and the
yearly performance report (statistics, charts, PDF)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import text
from sqlmodel import select

from certs import cert_token
from certs.identity import IdType
from certs.record import CertificateRecord, sign_record
from sync.registry import db, stats
from sync.registry.models import Operator, Revocation
from tests.sync.registry_helpers import id_number, init_registry, results
from tests.sync.test_public_verify import Seeded, register_public

PASSWORD = "long-enough-1"


@pytest.fixture
def seeded(registry_app) -> Seeded:
    register_public(registry_app)
    registry_app.config["RATELIMIT_ENABLED"] = False
    init_registry(registry_app)
    runner = registry_app.test_cli_runner()
    out = runner.invoke(args=["operators", "add", "sun", "--name", "孙丽"],
                        env={"REGISTRY_OPERATOR_PASSWORD": PASSWORD})  # fmt: skip
    assert out.exit_code == 0, out.output
    return Seeded(registry_app, valid_from=dt.date(2025, 1, 1))


def csrf(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@pytest.fixture
def console(seeded):
    client = seeded.app.test_client()
    token = csrf(client, "/console/login")
    response = client.post("/console/login", data={"username": "sun", "password": PASSWORD,
                                                   "csrf_token": token})  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


# --------------------------------------------------------------------------- sessions


def test_console_needs_a_login_and_csrf(seeded):
    client = seeded.app.test_client()
    assert client.get("/console/stations").headers["Location"].startswith("/console/login")
    # No token: refused before the password is even looked at.
    refused = client.post("/console/login", data={"username": "sun", "password": PASSWORD})
    assert refused.status_code == 400
    token = csrf(client, "/console/login")
    wrong = client.post("/console/login", data={"username": "sun", "password": "nope-nope",
                                                "csrf_token": token})  # fmt: skip
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.get_data(as_text=True)
    unknown = client.post("/console/login", data={"username": "zhao", "password": PASSWORD,
                                                  "csrf_token": token})  # fmt: skip
    assert unknown.status_code == 401
    ok = client.post("/console/login", data={"username": "sun", "password": PASSWORD,
                                             "csrf_token": token,
                                             "next": "/console/audit"})  # fmt: skip
    assert ok.headers["Location"] == "/console/audit"
    page = client.get("/console/stations")
    assert page.status_code == 200 and "孙丽" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    # A forged form (no token) is refused even when logged in.
    assert client.post("/console/stations", data={"code": "440399"}).status_code == 400
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/stations")})
    assert client.get("/console/stations").status_code == 302


def test_next_must_stay_in_the_console(seeded):
    client = seeded.app.test_client()
    token = csrf(client, "/console/login")
    response = client.post("/console/login", data={"username": "sun", "password": PASSWORD,
                                                   "csrf_token": token,
                                                   "next": "//evil.example/x"})  # fmt: skip
    assert response.headers["Location"] == "/console/stations"


def test_deactivating_or_changing_the_password_ends_the_session(seeded, console):
    assert console.get("/console/audit").status_code == 200
    with seeded.app.app_context(), db.transaction() as s:
        op = s.exec(select(Operator).where(Operator.username == "sun")).one()
        op.password_hash = op.password_hash + "x"
        s.add(op)
    assert console.get("/console/audit").status_code == 302


def test_idle_sessions_expire(seeded, console):
    seeded.app.config["REGISTRY_CONSOLE_IDLE_MINUTES"] = 0
    assert console.get("/console/audit").status_code == 302


# --------------------------------------------------------------------------- stations, revoke


def test_stations_list_and_adding_a_station_shows_its_token_once(seeded, console):
    seeded.issue(1)
    html = console.get("/console/stations").get_data(as_text=True)
    assert 'data-station="440301"' in html and seeded.station.kid in html
    token = csrf(console, "/console/stations")
    added = console.post("/console/stations", data={"code": "440302", "name": "第二考核站",
                                                    "city": "广州市", "csrf_token": token},
                         follow_redirects=True).get_data(as_text=True)  # fmt: skip
    found = re.search(r'data-token="([A-Z2-7]+)"', added)
    assert found and 'data-station="440302"' in added
    assert "data-token" not in console.get("/console/stations").get_data(as_text=True)
    bad = console.post("/console/stations", data={"code": "12", "name": "x", "city": "y",
                                                  "csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "station_code" in bad and 'class="flash error"' in bad


def test_revoke_from_the_console(seeded, console):
    token = seeded.issue(1)
    number = seeded.number(1)
    page = console.get("/console/certificates", query_string={"q": number})
    assert page.status_code == 302 and page.headers["Location"].endswith(number)
    form = csrf(console, f"/console/certificates/{number}")
    no_reason = console.post(f"/console/certificates/{number}/revoke",
                             data={"reason": " ", "confirm": "yes", "csrf_token": form},
                             follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "reason" in no_reason and 'class="flash error"' in no_reason
    unconfirmed = console.post(f"/console/certificates/{number}/revoke",
                               data={"reason": "证书信息有误", "csrf_token": form},
                               follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert 'class="flash error"' in unconfirmed
    done = console.post(f"/console/certificates/{number}/revoke",
                        data={"reason": "证书信息有误", "confirm": "yes", "csrf_token": form},
                        follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert 'class="flash success"' in done and 'data-status="revoked"' in done
    with seeded.app.app_context(), db.transaction() as s:
        row = s.exec(select(Revocation)).one()
    assert (row.actor, row.origin, row.reason) == ("sun", "operator", "证书信息有误")
    public = seeded.app.test_client().get(f"/V/{token}").get_data(as_text=True)
    assert 'data-status="revoked"' in public
    # The station hears of it in its feed.
    events = seeded.station.feed().get_json()["events"]
    assert events[-1]["kind"] == "revocation" and events[-1]["payload"]["number"] == number
    audit = console.get("/console/audit", query_string={"kind": "certificate"})
    assert "证书信息有误" in audit.get_data(as_text=True)


def test_audit_lists_what_happened(seeded, console):
    seeded.issue(1)
    html = console.get("/console/audit").get_data(as_text=True)
    actions = re.findall(r'data-action="([a-z_.]+)"', html)
    assert actions == ["station.enroll", "station.enrollment_token", "station.add",
                       "operator.add", "root_key.create"]  # newest first  # fmt: skip
    assert "440301" in html and 'data-chain="ok"' in html
    stations_only = console.get("/console/audit", query_string={"kind": "station"})
    assert set(re.findall(r'data-kind="([a-z_]+)"', stations_only.get_data(as_text=True))) == {
        "station"}  # fmt: skip
    assert console.get("/console/audit", query_string={"kind": "bogus"}).status_code == 400


def test_the_audit_log_is_append_only_and_its_chain_is_checked(seeded, console):
    runner = seeded.app.test_cli_runner()
    assert runner.invoke(args=["message", "ALL", "--title", "停电通知", "--body", "周六停电"]
                         ).exit_code == 0  # fmt: skip
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "6 audit entries" in ok.output and "verified: OK" in ok.output
    with seeded.app.app_context(), db.transaction() as s, pytest.raises(Exception,
                                                                      match="append-only"):  # fmt: skip
        s.exec(text("UPDATE audit_entry SET reason = 'x' WHERE seq = 6"))
    with seeded.app.app_context(), db.transaction() as s, pytest.raises(Exception,
                                                                      match="append-only"):  # fmt: skip
        s.exec(text("DELETE FROM audit_entry WHERE seq = 6"))
    # Whoever can drop the trigger is still caught by the chain.
    with seeded.app.app_context(), db.transaction() as s:
        if s.get_bind().dialect.name == "postgresql":
            s.exec(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))
        else:
            s.exec(text("DROP TRIGGER audit_entry_no_update"))
        s.exec(text("UPDATE audit_entry SET actor = 'someone-else' WHERE seq = 2"))
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and "第 2 条记录内容被修改" in broken.output
    html = console.get("/console/audit").get_data(as_text=True)
    assert 'data-chain="broken"' in html and "第 2 条记录内容被修改" in html


# --------------------------------------------------------------------------- statistics


def certificate(seeded: Seeded, serial: int, *, digit: int, programme: tuple[str, str],
                issue_date: dt.date, id_seq: int) -> dict:  # fmt: skip
    sim = seeded.station
    level = {5: "五级/初级工", 4: "四级/中级工", 3: "三级/高级工"}[digit]
    record = CertificateRecord(
        holder_name="欧阳娜", id_type=IdType.resident_id, id_number=id_number(id_seq),
        occupation="工业机器人系统操作员", occupation_code="6-31-01-10", direction="",
        level=level, issuer="广东省机械行业职业技能鉴定中心", issue_date=issue_date,
        number=sim.number(serial, level=digit, year=issue_date.year),
        photo_sha256=hashlib.sha256(b"p").hexdigest(), programme_code=programme[0],
        programme_name=programme[1], session_code="S1", theory_score=80, practical_score=80,
        review_score=None, station_code=sim.code, kid=sim.kid,
    )  # fmt: skip
    token = cert_token.sign_token(cert_token.claims_from_record(record),
                                  private_key=sim.private_key, kid=sim.kid)  # fmt: skip
    return sim.record("certificate", {"signed_record": sign_record(record, sim.private_key)
                                      .to_dict(), "token": token})  # fmt: skip


def summary(seeded: Seeded, session: str, programme: str, level, signed_off: str, n: int,
            passed: int, city: str = "") -> dict:  # fmt: skip
    return seeded.station.record("result_summary", {
        "session": session, "programme": programme, "level": level, "signed_off_at": signed_off,
        "candidates": n, "passed": passed, "by_outcome": {"pass": passed, "fail": n - passed},
        "city": city})  # fmt: skip


IRAP, WEB = ("IRAP", "工业机器人应用编程"), ("WEB", "Web 前端开发")


@pytest.fixture
def year_data(seeded):
    """2026: 3 IRAP (levels 4, 4, 5) and 1 WEB certificate; 2 sessions; one in 2025."""
    records = [
        certificate(seeded, 1, digit=4, programme=IRAP, issue_date=dt.date(2026, 3, 5), id_seq=1),
        certificate(seeded, 2, digit=4, programme=IRAP, issue_date=dt.date(2026, 3, 9), id_seq=2),
        certificate(seeded, 3, digit=5, programme=IRAP, issue_date=dt.date(2026, 7, 1), id_seq=1),
        certificate(seeded, 4, digit=3, programme=WEB, issue_date=dt.date(2026, 12, 31), id_seq=3),
        certificate(seeded, 5, digit=4, programme=IRAP, issue_date=dt.date(2025, 6, 1), id_seq=4),
        # Signed off at 2025-12-31 20:00 UTC = 2026-01-01 04:00 in Shanghai: counts for 2026.
        summary(seeded, "S-A", "IRAP", "四级/中级工", "2025-12-31T20:00:00Z", 10, 8),
        summary(seeded, "S-B", "WEB", 3, "2026-06-10T02:00:00Z", 5, 1, city="珠海市"),
        summary(seeded, "S-C", "IRAP", 4, "2025-06-10T02:00:00Z", 7, 7),
    ]  # fmt: skip
    verdicts = results(seeded.station.push(records))
    assert {r["status"] for r in verdicts} == {"accepted"}, verdicts
    seeded.revoke(seeded.number(2))
    return seeded


def test_year_report_counts_certificates_candidates_and_pass_rates(year_data):
    with year_data.app.app_context(), db.transaction() as s:
        report = stats.year_report(s, 2026)
        assert stats.years_with_data(s) == [2026, 2025]
    t = report.totals
    assert (t.certificates, t.revoked, t.sessions, t.candidates, t.passed) == (4, 1, 2, 15, 9)
    assert t.pass_rate == pytest.approx(0.6) and report.holders == 3
    programmes = {b.key: b for b in report.by_programme}
    assert programmes["IRAP"].label == "工业机器人应用编程"
    assert (programmes["IRAP"].certificates, programmes["IRAP"].candidates) == (3, 10)
    assert programmes["WEB"].pass_rate == pytest.approx(0.2)
    levels = {b.key: (b.label, b.certificates, b.candidates) for b in report.by_level}
    assert levels == {"5": ("五级/初级工", 1, 0), "4": ("四级/中级工", 2, 10),
                      "3": ("三级/高级工", 1, 5)}  # fmt: skip
    months = {b.key: (b.certificates, b.candidates) for b in report.by_month}
    assert len(months) == 12 and months["01"] == (0, 10) and months["03"] == (2, 0)
    assert months["06"] == (0, 5) and months["12"] == (1, 0)
    cities = {b.key: (b.certificates, b.candidates) for b in report.by_city}
    assert cities == {"深圳市": (4, 10), "珠海市": (0, 5)}
    assert [b.key for b in report.by_station] == ["440301"]
    assert stats.percent(t.pass_rate) == "60.0%" and stats.percent(None) == "—"


def test_a_revised_summary_replaces_the_earlier_one(year_data):
    """After a regrade or an upheld appeal the station sends the session's summary again; the
    report counts the newest revision once, whatever order the records arrived in."""
    station = year_data.station
    base = {"session": "S-B", "programme": "WEB", "level": 3,
            "signed_off_at": "2026-06-10T02:00:00Z", "by_outcome": {}, "city": "珠海市"}  # fmt: skip
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)  # after the original summary
    revision3 = station.record("result_summary", {**base, "candidates": 5, "passed": 4,
                                                  "revision": 3}, created_at=later)  # fmt: skip
    revision2 = station.record("result_summary", {**base, "candidates": 5, "passed": 2,
                                                  "revision": 2},
                               created_at=later - dt.timedelta(days=1))  # fmt: skip
    verdicts = results(station.push([revision3, revision2]))  # out of order
    assert {r["status"] for r in verdicts} == {"accepted"}, verdicts
    with year_data.app.app_context(), db.transaction() as s:
        t = stats.year_report(s, 2026).totals
    assert (t.sessions, t.candidates, t.passed) == (2, 15, 12)  # S-A 10/8 + S-B 5/4


def test_dashboard_shows_charts_and_tables(year_data, console):
    page = console.get("/console/stats", query_string={"year": 2026})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "2026 年度效能评价报告" in html
    assert 'data-kpi="certificates">4<' in html and 'data-kpi="pass_rate">60.0%<' in html
    bars = dict(re.findall(r'<rect class="bar"[^>]*data-label="(\d+)" data-value="([\d.]+)"',
                           html))  # fmt: skip
    assert bars["3"] == "2" and bars["12"] == "1" and len(bars) == 12
    assert 'data-label="Web 前端开发" data-value="0.2"' in html
    assert "<script" not in html and "style=" not in html  # CSP: nothing inline
    assert console.get("/console/stats", query_string={"year": "1999"}).status_code == 400


def test_the_yearly_report_as_pdf(year_data, console):
    response = console.get("/console/stats/report.pdf", query_string={"year": 2026})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.get_data()))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "2026 年度效能评价报告" in text
    assert "工业机器人应用编程" in text and "60.0%" in text
    fonts = {str(f) for page in reader.pages
             for f in (page["/Resources"].get("/Font") or {}).values()}  # fmt: skip
    names = " ".join(str(page["/Resources"]["/Font"][k].get_object()["/BaseFont"])
                     for page in reader.pages for k in page["/Resources"]["/Font"])  # fmt: skip
    assert fonts and "WenQuanYi" in names


def test_every_console_page_renders_in_english(seeded, console):
    seeded.issue(1)
    seeded.issue(2)  # two of the same holder: the search lists them
    out = seeded.app.test_cli_runner().invoke(args=["message", "ALL", "--title", "停电通知",
                                                    "--body", "周六停电"])  # fmt: skip
    assert out.exit_code == 0, out.output
    pages = ["/console/stations", "/console/certificates?q=欧阳娜",
             f"/console/certificates/{seeded.number(1)}", "/console/audit",
             "/console/audit?kind=station", "/console/stats"]  # fmt: skip
    for url in pages:
        response = console.get(url + ("&" if "?" in url else "?") + "lang=en")
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert '<html lang="en">' in html, url
    assert "Message: 停电通知" in console.get("/console/audit").get_data(as_text=True)
    assert console.get("/console/certificates/S000144440301264999999").status_code == 404
