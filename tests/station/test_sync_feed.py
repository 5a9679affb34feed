"""Pull: the feed's trust lists (newest only, root-signed only), other stations' keys and the
province's revocations in the offline verifier, messages, and bank releases imported from the
registry."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import requests
from sqlmodel import select

from certs import cert_token
from certs import keys as key_tools
from certs.identity import IdType, check_character
from certs.record import CertificateRecord
from certs.trust import Revocation, StationKey, TrustList
from station import db
from station.models import BankReleaseStatus, BankVersion, RegistryBankRelease, RegistryMessage
from station.services import banks, sync_state
from station.services.certificates import Settings
from station.services.verification import check_token
from sync import client as sync_client
from sync.protocol_keys import EnrollRequest, sign_trust_list
from sync.protocol_messages import FeedEvent
from tests.station import test_sync_support as support
from tests.station.test_sync_support import sync_row

registry, enrolled, ctx = support.registry, support.enrolled, support.ctx  # fixtures

OTHER = "440301"
T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def other_station_certificate(private_key, kid: str) -> tuple[str, str]:
    """A certificate (number, QR token) issued by another station with its own key."""
    first17 = "44030519900301123"
    record = CertificateRecord(
        holder_name="欧阳娜", id_type=IdType.resident_id, id_number=first17 + check_character(first17),
        occupation="工业机器人系统操作员", occupation_code="6-31-01-10", direction="",
        level="四级/中级工", issuer="广东省机械行业职业技能鉴定中心", issue_date=dt.date(2026, 12, 5),
        number=f"S000144{OTHER}264000007", photo_sha256=hashlib.sha256(b"p").hexdigest(),
        programme_code="IRAP", programme_name="工业机器人应用编程", session_code="S1",
        theory_score=80, practical_score=90, review_score=None, station_code=OTHER, kid=kid,
    )  # fmt: skip
    token = cert_token.sign_token(cert_token.claims_from_record(record), private_key=private_key,
                                  kid=kid)  # fmt: skip
    return record.number, token


def enroll_other_station(registry) -> tuple[object, str]:
    """Record and enroll a second station at the registry, as that station would."""
    output = registry.cli("stations", "add", OTHER, "--name", "深圳站", "--city", "深圳市")
    lines = [line.strip() for line in output.splitlines()]
    token = lines[next(i for i, t in enumerate(lines) if t.startswith("enrollment token")) + 1]
    private = key_tools.generate()
    kid = key_tools.key_id(private.public_key(), "st-")
    key = StationKey(kid=kid, station_code=OTHER, public_key=private.public_key(),
                     valid_from=dt.date(2026, 1, 1))  # fmt: skip
    body = EnrollRequest.build(token=token, station_code=OTHER, station_name="深圳站", keys=[key],
                               active_private_key=private).to_dict()  # fmt: skip
    response = requests.post(f"{registry.url}/api/v1/enroll", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return private, kid


def test_trust_list_updates_bring_other_stations_keys_to_the_offline_verifier(app, enrolled,
                                                                              ctx):  # fmt: skip
    settings = Settings.from_config(app.config)
    private, kid = enroll_other_station(enrolled)
    number, token = other_station_certificate(private, kid)
    with app.app_context(), db.transaction(write=False) as s:
        assert check_token(s, settings, token).code == "unknown_key"  # not in our list yet
    before = sync_row(app).trust_list_issued_at
    report = sync_client.pull(ctx)
    assert report.ok and report.applied.get("trust_list", 0) >= 1
    assert sync_row(app).trust_list_issued_at > before
    with app.app_context(), db.transaction(write=False) as s:
        verdict = check_token(s, settings, token)
        assert verdict.code == "valid" and verdict.fields["station_code"] == OTHER


def test_messages_are_kept_for_the_console(app, enrolled, ctx, auth, client):
    enroll_other_station(enrolled)
    enrolled.cli(
        "message", "110101", "--title", "系统维护通知", "--body", "12 月 6 日 22:00 起维护。"
    )
    enrolled.cli("message", "ALL", "--title", "全省通知", "--body", "请及时同步。")
    enrolled.cli("message", OTHER, "--title", "别的站点", "--body", "不是发给本站的")
    report = sync_client.pull(ctx)
    assert report.applied.get("message") == 2
    with app.app_context(), db.transaction(write=False) as s:
        titles = [
            m.title for m in s.exec(select(RegistryMessage).order_by(RegistryMessage.feed_seq))
        ]
    assert titles == ["系统维护通知", "全省通知"]
    auth.login()
    page = client.get("/console/sync").get_data(as_text=True)
    assert "系统维护通知" in page and "12 月 6 日 22:00 起维护。" in page


@pytest.fixture
def stored_root(app):
    """The station enrolled (as far as its database knows) with a root key made here, so the
    feed's trust-list rules can be checked event by event."""
    root = key_tools.generate()
    kid = key_tools.key_id(root.public_key(), "rg-")
    first = TrustList([], issued_at=T0)
    with app.app_context(), db.transaction() as s:
        sync_state.save_enrollment(s, actor="test", registry_url="https://registry.invalid",
                                   station_code="110101", root_kid=kid,
                                   root_public_pem=key_tools.public_pem(root.public_key()),
                                   signed_trust_list=sign_trust_list(first, root, kid),
                                   trust_list=first, kids=[], offset=dt.timedelta(0))  # fmt: skip
    return root, kid


def _apply(app, events, cursor):
    with app.app_context(), db.transaction() as s:
        return sync_state.apply_feed(s, events, cursor=cursor)


def test_an_older_trust_list_never_replaces_a_newer_one(app, stored_root):
    root, kid = stored_root
    revoked = {"S000144110101264000001": Revocation(T0, "以欺骗手段取得证书")}
    newer = TrustList([], revoked, issued_at=T0 + dt.timedelta(hours=2))
    older = TrustList([], {}, issued_at=T0 + dt.timedelta(hours=1))
    _apply(app, [FeedEvent(1, "trust_list", sign_trust_list(newer, root, kid))], "1")
    _apply(app, [FeedEvent(2, "trust_list", sign_trust_list(older, root, kid))], "2")
    row = sync_row(app)
    assert row.trust_list_issued_at == newer.issued_at and row.feed_cursor == "2"
    with app.app_context(), db.transaction(write=False) as s:
        listed = sync_state.registry_trust_list(s)
    assert "S000144110101264000001" in listed.revocations  # the replayed list hid nothing


def test_a_trust_list_not_signed_by_the_root_stops_the_feed(app, stored_root):
    root, kid = stored_root
    forged = sign_trust_list(TrustList([], issued_at=T0 + dt.timedelta(days=1)),
                             key_tools.generate(), kid)  # fmt: skip
    message = FeedEvent(1, "message", {"title": "t", "body": "b"})
    with pytest.raises(sync_state.SyncError, match="未通过根密钥验证"):
        _apply(app, [message, FeedEvent(2, "trust_list", forged)], "2")
    row = sync_row(app)
    assert row.feed_cursor == "" and row.trust_list_issued_at == T0  # nothing of the page kept
    with app.app_context(), db.transaction(write=False) as s:
        assert s.exec(select(RegistryMessage)).all() == []


def test_feed_revocations_are_idempotent_and_reach_the_verifier(app, stored_root):
    number = "S000144110101264000001"
    event = FeedEvent(5, "revocation", {"number": number, "revoked_at": "2026-12-06T02:00:00Z",
                                        "reason": "违规取得", "origin": "operator"})  # fmt: skip
    _apply(app, [event], "5")
    _apply(app, [event], "5")  # a replayed page changes nothing
    with app.app_context(), db.transaction(write=False) as s:
        merged = sync_state.with_registry(s, TrustList([]))
    assert merged.revocation(number).reason == "违规取得"


# --------------------------------------------------------------------------- bank releases


@pytest.fixture
def packages(tmp_path, demo_package):
    """The demo bank as published by the province: plain v1, and v2 encrypted (+ its code)."""
    from question_bank import package
    from question_bank.package_crypto import release_code_for
    from station.demo.seed import load_content

    issuer, plain = demo_package
    content = load_content()
    meta = dict(content.meta, version="2", created_at="2026-11-01T00:00:00Z")
    locked, key = package.build_package(content, manifest_meta=meta, key=issuer, encrypt=True)
    (tmp_path / "plain.zip").write_bytes(plain)
    (tmp_path / "locked.zip").write_bytes(locked)
    return issuer, tmp_path / "plain.zip", tmp_path / "locked.zip", release_code_for(key)


def test_bank_releases_are_imported_once_the_issuer_is_trusted(app, enrolled, ctx, packages):
    issuer, plain, locked, code = packages
    enrolled.cli("banks", "publish", str(plain))
    enrolled.cli("banks", "publish", str(locked), "--station", "110101", "--release-code", code)
    first = sync_client.pull(ctx)
    assert first.ok and first.applied.get("bank_release") == 2  # the feed goes on regardless
    assert len(first.banks_failed) == 2 and not first.banks_imported
    with app.app_context(), db.transaction(write=False) as s:
        rows = s.exec(select(RegistryBankRelease)).all()
        assert {r.status for r in rows} == {BankReleaseStatus.FAILED}
        assert all(r.next_attempt_at > r.received_at for r in rows)
    with app.app_context(), db.transaction() as s:
        banks.add_trusted_issuer(s, actor="admin", public_pem=issuer.public_pem(), kid=issuer.kid)
    assert sync_client.pull(ctx).banks_imported == []  # backing off: not retried at once
    later = sync_client.pull(ctx, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
    assert len(later.banks_imported) == 2, later.banks_failed
    with app.app_context(), db.transaction(write=False) as s:
        rows = s.exec(select(RegistryBankRelease)).all()
        assert {r.status for r in rows} == {BankReleaseStatus.IMPORTED}
        assert all(r.release_code == "" for r in rows)  # the code is not kept once used
        versions = s.exec(select(BankVersion)).all()
        assert len(versions) == 2 and not any(v.locked for v in versions)
