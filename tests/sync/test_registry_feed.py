"""The pull feed: cursors, targeting, messages, bank releases and their download."""

from __future__ import annotations

import hashlib

import pytest
from sqlmodel import select

from question_bank import package, signing
from question_bank.package_crypto import release_code_for
from sync.protocol_messages import parse_feed_response
from sync.registry import db
from sync.registry.models import BankRelease
from tests.question_bank.test_package import make_content, make_meta
from tests.sync.registry_helpers import StationSim, init_registry


@pytest.fixture
def app(registry_app):
    init_registry(registry_app)
    return registry_app


@pytest.fixture
def stations(app):
    first, second = StationSim(app, "440301"), StationSim(app, "440302")
    first.enroll()
    second.enroll()
    return first, second


def events(response) -> list[dict]:
    assert response.status_code == 200, response.get_json()
    return response.get_json()["events"]


def test_messages_reach_their_station_in_order_and_cursors_advance(app, stations):
    first, second = stations
    runner = app.test_cli_runner()
    for station, title in (("440301", "一"), ("440302", "二"), ("ALL", "全体"), ("440301", "三")):
        out = runner.invoke(args=["message", station, "--title", title, "--body", "正文\n第二行"])
        assert out.exit_code == 0, out.output
    mine = events(first.feed())
    titles = [e["payload"]["title"] for e in mine if e["kind"] == "message"]
    assert titles == ["一", "全体", "三"]
    assert [e["seq"] for e in mine] == sorted(e["seq"] for e in mine)
    theirs = [e["payload"]["title"] for e in events(second.feed()) if e["kind"] == "message"]
    assert theirs == ["二", "全体"]
    page = first.feed(limit=2).get_json()
    assert page["more"] is True and len(page["events"]) == 2
    rest = first.feed(after=page["next"]).get_json()
    assert rest["more"] is False
    assert [e["seq"] for e in page["events"] + rest["events"]] == [e["seq"] for e in mine]
    assert events(first.feed(after=rest["next"])) == []
    assert first.feed(after=rest["next"]).get_json()["next"] == rest["next"]
    parsed = parse_feed_response(first.feed().get_json())  # the station's own parser agrees
    assert [e.seq for e in parsed.events] == [e["seq"] for e in mine]
    unknown = runner.invoke(args=["message", "999999", "--title", "x", "--body", "y"])
    assert unknown.exit_code == 1 and "999999" in unknown.output
    empty = runner.invoke(args=["message", "ALL", "--title", " ", "--body", "y"])
    assert empty.exit_code == 1 and "title" in empty.output


def test_bad_cursors_and_limits_name_the_parameter(app, stations):
    first, _ = stations
    for query, name in (("after=-1", "after"), ("limit=0", "limit"), ("limit=501", "limit")):
        response = first.signed("GET", f"/api/v1/sync/feed?{query}")
        assert response.status_code == 400 and response.get_json()["message"].startswith(name)


def test_a_bank_release_is_announced_and_downloaded(app, stations, tmp_path):
    first, second = stations
    issuer = signing.IssuerKey.generate("issuer-2026")
    plain, _ = package.build_package(make_content(), manifest_meta=make_meta(), key=issuer)
    secret, key = package.build_package(
        make_content(), manifest_meta=make_meta(version=4), key=issuer, encrypt=True
    )
    (tmp_path / "plain.skb").write_bytes(plain)
    (tmp_path / "secret.skb").write_bytes(secret)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["banks", "publish", str(tmp_path / "plain.skb")])
    assert out.exit_code == 0, out.output
    code = release_code_for(key)
    refused = runner.invoke(
        args=["banks", "publish", str(tmp_path / "secret.skb"), "--release-code", code]
    )
    assert refused.exit_code == 1 and "--station" in refused.output
    wrong = runner.invoke(
        args=[
            "banks",
            "publish",
            str(tmp_path / "secret.skb"),
            "--station",
            "440302",
            "--release-code",
            release_code_for(bytes(32)),
        ]
    )
    assert wrong.exit_code == 1 and "release_code" in wrong.output
    out = runner.invoke(
        args=[
            "banks",
            "publish",
            str(tmp_path / "secret.skb"),
            "--station",
            "440302",
            "--release-code",
            code,
        ]
    )
    assert out.exit_code == 0, out.output
    junk = tmp_path / "junk.skb"
    junk.write_bytes(b"not a zip")
    bad = runner.invoke(args=["banks", "publish", str(junk)])
    assert bad.exit_code == 1 and "package" in bad.output

    seen_first = [e["payload"] for e in events(first.feed()) if e["kind"] == "bank_release"]
    seen_second = [e["payload"] for e in events(second.feed()) if e["kind"] == "bank_release"]
    assert [p["version"] for p in seen_first] == ["3"]
    assert [(p["version"], p["release_code"]) for p in seen_second] == [("3", None), ("4", code)]
    download = second.signed("GET", seen_second[1]["package_url"])
    assert download.status_code == 200 and download.data == secret
    assert hashlib.sha256(download.data).hexdigest() == seen_second[1]["sha256"]
    assert first.signed("GET", seen_second[1]["package_url"]).status_code == 404
    assert first.signed("GET", seen_first[0]["package_url"]).data == plain
    with app.app_context(), db.transaction() as session:
        rows = session.exec(select(BankRelease).order_by(BankRelease.id)).all()
        assert [(r.bank, r.version, r.encrypted) for r in rows] == [
            ("IRAP-M", 3, False),
            ("IRAP-M", 4, True),
        ]
