"""The verify page a certificate's QR code opens (``/v/<token>``): every verdict, honestly.

Test data goes in the way it does in production: a simulated station enrolls, signs
certificate records and QR tokens with its own key and pushes them through the signed sync API.
The helpers here (``public_registry``, ``Seeded``) are shared by the other public tests.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask

from certs import cert_token
from certs import keys as key_tools
from sync.registry import console, db, public, public_api
from sync.registry import keys as root_keys
from sync.registry.services import revocations
from sync.registry.services.verification import TrustCache
from tests.sync.registry_helpers import StationSim, id_number, init_registry, results


def register_public(app: Flask) -> Flask:
    """The public and console blueprints, unless ``create_app`` registers them already."""
    for blueprint in (public.bp, public_api.bp, console.bp):
        if blueprint.name not in app.blueprints:
            app.register_blueprint(blueprint)
    return app


class Seeded:
    """An initialised registry with one enrolled station (440301) and helpers to issue."""

    def __init__(self, app: Flask, *, valid_from: dt.date = dt.date(2026, 1, 1)):
        self.app = app
        self.station = StationSim(app, "440301", valid_from=valid_from)
        self.station.enroll()

    def issue(self, serial: int, *, push: bool = True, **options) -> str:
        """Sign a certificate (and push it unless ``push`` is false); return its QR token."""
        signed, token = self.station.certificate_record(serial, **options)
        if push:
            record = self.station.record("certificate", {"signed_record": signed.to_dict(),
                                                         "token": token})  # fmt: skip
            [verdict] = results(self.station.push([record]))
            assert verdict["status"] == "accepted", verdict
        return token

    def revoke(self, number: str, reason: str = "以欺骗手段取得证书") -> None:
        with self.app.app_context(), db.transaction() as session:
            signer = root_keys.load_signer(
                session, passphrase=root_keys.passphrase_from(self.app.config)
            )
            revocations.revoke(session, number=number, reason=reason, actor="sun",
                               signer=signer)  # fmt: skip

    def number(self, serial: int) -> str:
        return self.station.number(serial)


@pytest.fixture
def public_registry(registry_app) -> Seeded:
    register_public(registry_app)
    registry_app.config["RATELIMIT_ENABLED"] = False
    init_registry(registry_app)
    return Seeded(registry_app)


@pytest.fixture
def client(public_registry):
    return public_registry.app.test_client()


def status_of(html: str) -> str:
    found = re.search(r'class="verdict verdict-[a-z_]+" data-status="([a-z_]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def field(html: str, name: str) -> str:
    found = re.search(rf'data-field="{name}">([^<]*)<', html)
    assert found, f"{name} not on the page"
    return found.group(1)


def test_a_recorded_certificate_is_valid_in_chinese_with_the_id_masked(public_registry, client):
    token = public_registry.issue(1)
    response = client.get(f"/V/{token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert status_of(html) == "valid"
    assert "有效证书" in html and '<html lang="zh-CN">' in html
    assert field(html, "holder_name") == "欧阳娜"
    assert field(html, "id_number_masked") == "440***********0011"
    assert id_number(1) not in html  # never the full ID number
    assert field(html, "number") == public_registry.number(1)
    # Privacy and caching: the URL carries the name, so no referrer and no cache.
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "http" not in re.sub(r'xmlns="http://www.w3.org/2000/svg"', "", html)  # all local


@pytest.mark.parametrize("prefix", ["/v/", "/V/"])
def test_any_case_of_path_and_token_and_a_trailing_slash(public_registry, client, prefix):
    token = public_registry.issue(1)
    for variant in (token, token.lower(), token + "/"):
        assert status_of(client.get(prefix + variant).get_data(as_text=True)) == "valid"


def test_english_on_request(public_registry, client):
    token = public_registry.issue(1)
    html = client.get(f"/V/{token}?lang=en").get_data(as_text=True)
    assert "Valid certificate" in html and '<html lang="en">' in html
    # Remembered for the session.
    assert "Valid certificate" in client.get(f"/V/{token}").get_data(as_text=True)


def test_revoked_says_when_and_why(public_registry, client):
    token = public_registry.issue(1)
    public_registry.revoke(public_registry.number(1), "证书信息有误")
    html = client.get(f"/V/{token}").get_data(as_text=True)
    assert status_of(html) == "revoked"
    assert field(html, "reason") == "证书信息有误"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", field(html, "revoked_at"))
    assert "省级登记平台" in html  # revoked by the registry, not the station


def test_genuine_but_not_yet_synced_is_said_honestly(public_registry, client):
    token = public_registry.issue(7, push=False)
    html = client.get(f"/V/{token}").get_data(as_text=True)
    assert status_of(html) == "unrecorded"
    assert "签名真实，尚未登记" in html
    assert "示例考核站" in html  # the station whose key signed it
    assert 'id="holder"' not in html  # nothing to compare an ID number with yet


def test_forged_tampered_and_unknown_tokens_are_invalid_with_the_reason(public_registry, client):
    token = public_registry.issue(1)
    cases = {}
    # Another key claiming to be the station's: unknown to the trust list.
    rogue = key_tools.generate()
    _, forged = public_registry.station.certificate_record(2, kid="st-rogue",
                                                           private_key=rogue)  # fmt: skip
    cases["unknown_key"] = forged
    # One character changed inside the signed bytes.
    pos = 40
    flipped = "A" if token[pos] != "A" else "B"
    cases["bad_signature"] = token[:pos] + flipped + token[pos + 1 :]
    cases["malformed"] = token[:60]
    for code, text in cases.items():
        html = client.get(f"/V/{text}").get_data(as_text=True)
        assert status_of(html) == "invalid", code
        assert f"{code}:" in html, code  # the technical detail names the check


def test_a_key_outside_its_window_is_refused(public_registry, client):
    # The station's key is valid from 2026-01-01; a certificate dated before that is not.
    token = public_registry.issue(3, push=False, issue_date=dt.date(2025, 12, 31))
    html = client.get(f"/V/{token}").get_data(as_text=True)
    assert status_of(html) == "invalid" and "key_not_valid:" in html


def test_a_genuine_token_that_differs_from_the_record_is_a_mismatch(public_registry, client):
    public_registry.issue(1)
    # The station signs a second token for the same number with another holder name.
    _, other = public_registry.station.certificate_record(1, holder="李四")
    html = client.get(f"/V/{other}").get_data(as_text=True)
    assert status_of(html) == "mismatch"


def test_confirm_the_holder_by_full_id_number(public_registry, client):
    token = public_registry.issue(1, id_seq=5)
    url = f"/V/{token}"
    match = client.post(url, data={"id_number": id_number(5)}).get_data(as_text=True)
    assert 'data-holder="match"' in match and id_number(5) not in match
    # Lower case and full-width characters are the same number.
    fullwidth = id_number(5).translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    again = client.post(url, data={"id_number": f" {fullwidth} "}).get_data(as_text=True)
    assert 'data-holder="match"' in again
    other = client.post(url, data={"id_number": id_number(6)}).get_data(as_text=True)
    assert 'data-holder="no-match"' in other
    empty = client.post(url, data={"id_number": ""})
    assert empty.status_code == 400 and "证件号码" in empty.get_data(as_text=True)


def test_confirming_needs_a_recorded_certificate(public_registry, client):
    token = public_registry.issue(9, push=False)
    response = client.post(f"/V/{token}", data={"id_number": id_number(1)})
    assert response.status_code == 400
    assert "holder-result" not in response.get_data(as_text=True)


def test_check_form_sends_links_to_their_page_and_looks_up_numbers(public_registry, client):
    token = public_registry.issue(1)
    link = cert_token.token_url("https://verify.example.cn", token)
    redirect = client.get("/check", query_string={"q": link})
    assert redirect.status_code == 303 and redirect.headers["Location"] == f"/V/{token}"
    by_number = client.get("/check", query_string={"q": public_registry.number(1)})
    html = by_number.get_data(as_text=True)
    assert status_of(html) == "valid"
    assert field(html, "holder_name") == "欧**"  # a bare number does not reveal the name
    missing = client.get("/check", query_string={"q": public_registry.number(2)})
    assert status_of(missing.get_data(as_text=True)) == "not_found"
    nonsense = client.get("/check", query_string={"q": "hello"})
    assert status_of(nonsense.get_data(as_text=True)) == "invalid"


def test_verify_inputs_is_one_pass_for_many(public_registry):
    tokens = [public_registry.issue(i) for i in range(1, 4)]
    with public_registry.app.test_request_context():
        cache = TrustCache(max_age=0)
        verdicts = public_api.verify_inputs(
            [*tokens, public_registry.number(2), "", "S123", 42], cache=cache
        )
        assert [v.status for v in verdicts] == ["valid"] * 4 + ["invalid"] * 3
        assert [v.error for v in verdicts[4:]] == ["empty", "unrecognised", "empty"]
        # The trust list is rebuilt only when the key table changes.
        built = cache.snapshot.trust
        public_api.verify_inputs(tokens[:1], cache=cache)
        assert cache.snapshot.trust is built


def test_a_newly_enrolled_station_verifies_at_once(public_registry, client):
    token = public_registry.issue(1)
    assert status_of(client.get(f"/V/{token}").get_data(as_text=True)) == "valid"  # cached
    other = StationSim(public_registry.app, "440302")
    other.enroll()
    _, fresh = other.certificate_record(1)
    assert status_of(client.get(f"/V/{fresh}").get_data(as_text=True)) == "unrecorded"


def test_a_key_signing_another_stations_number_is_refused(public_registry, client):
    station = public_registry.station
    claims = cert_token.TokenClaims(number="S000144440302264000001", occupation_code="6-31-01-10",
                                    issue_date=dt.date(2026, 12, 5), holder_name="欧阳娜",
                                    masked_id="440***********0011")  # fmt: skip
    token = cert_token.sign_token(claims, private_key=station.private_key, kid=station.kid)
    html = client.get(f"/V/{token}").get_data(as_text=True)
    assert status_of(html) == "invalid" and "wrong_station:" in html
