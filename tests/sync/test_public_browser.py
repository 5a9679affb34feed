"""The verify page in a real browser on a phone-sized screen (Debian's chromium, Playwright).

The registry runs on a loopback port (werkzeug in a thread); the browser opens the URL a
phone camera would open from the certificate's QR code.
"""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from certs import cert_token
from certs.identity import mask_id
from tests.sync.registry_helpers import id_number, init_registry
from tests.sync.test_public_verify import Seeded, register_public

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3,
         "is_mobile": True, "has_touch": True, "locale": "zh-CN"}  # fmt: skip


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture
def live(registry_app):
    register_public(registry_app)
    init_registry(registry_app)
    seeded = Seeded(registry_app)
    server = make_server("127.0.0.1", 0, registry_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seeded.base = f"http://127.0.0.1:{server.server_port}"  # type: ignore[attr-defined]
    yield seeded
    server.shutdown()
    thread.join(timeout=10)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_scan_a_valid_certificate_and_confirm_the_holder(live, phone):
    token = live.issue(1, id_seq=5)
    # What the QR code holds: scheme and host upper case, /V/ and the token.
    url = cert_token.token_url(live.base, token)
    phone.goto(url)
    verdict = phone.locator(".verdict")
    assert verdict.get_attribute("data-status") == "valid"
    assert "有效证书" in verdict.inner_text()
    assert phone.locator('[data-field="holder_name"]').inner_text() == "欧阳娜"
    masked = phone.locator('[data-field="id_number_masked"]').inner_text()
    assert masked == mask_id(id_number(5)) and "*" * 11 in masked
    assert fits_the_screen(phone)
    assert phone.locator(".verdict").bounding_box()["y"] < 844  # the answer is on the first screen

    phone.fill("#id_number", id_number(6))
    phone.click("#holder button[type=submit]")
    assert phone.locator(".holder-result").get_attribute("data-holder") == "no-match"
    assert phone.input_value("#id_number") == ""  # the number typed is not echoed back
    phone.fill("#id_number", id_number(5).lower())
    phone.click("#holder button[type=submit]")
    result = phone.locator(".holder-result")
    assert result.get_attribute("data-holder") == "match"
    assert "一致" in result.inner_text()
    assert phone.problems == []  # no CSP violation, no script error


def test_a_revoked_certificate_shows_when_and_why(live, phone):
    token = live.issue(2)
    live.revoke(live.number(2), "以欺骗手段取得证书")
    phone.goto(f"{live.base}/v/{token.lower()}")
    verdict = phone.locator(".verdict")
    assert verdict.get_attribute("data-status") == "revoked"
    text = verdict.inner_text()
    assert "证书已撤销" in text and "以欺骗手段取得证书" in text
    assert phone.locator('[data-field="revoked_at"]').inner_text().startswith("20")
    assert fits_the_screen(phone)
    phone.click("text=English")
    assert "Certificate revoked" in phone.locator(".verdict").inner_text()
    assert phone.problems == []
