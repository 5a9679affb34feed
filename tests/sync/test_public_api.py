"""The employer JSON API, candidates' lookup, the CSV bulk page and the rate limits."""

from __future__ import annotations

import csv
import io
import os

import pytest

from certs import cert_token
from tests.sync.registry_helpers import id_number, init_registry
from tests.sync.test_public_verify import Seeded, register_public


@pytest.fixture
def seeded(registry_app) -> Seeded:
    register_public(registry_app)
    registry_app.config["RATELIMIT_ENABLED"] = False
    init_registry(registry_app)
    return Seeded(registry_app)


@pytest.fixture
def api(seeded):
    return seeded.app.test_client()


# --------------------------------------------------------------------------- by number


def test_lookup_by_number_masks_the_name_unless_it_is_given(seeded, api):
    seeded.issue(1)
    number = seeded.number(1)
    body = api.get(f"/api/v1/certificates/{number}").get_json()
    assert body["status"] == "valid" and body["kind"] == "number"
    c = body["certificate"]
    assert c["holder_name"] == "欧**" and c["holder_name_masked"] is True
    assert c["id_number_masked"] == "440***********0011" and id_number(1) not in str(body)
    assert c["occupation"] == "工业机器人系统操作员" and c["station"]["code"] == "440301"
    assert body["holder_name_matches"] is None and body["revocation"] is None
    named = api.get(f"/api/v1/certificates/{number}", query_string={"name": "欧阳娜"}).get_json()
    assert named["holder_name_matches"] is True and named["certificate"]["holder_name"] == "欧阳娜"
    wrong = api.get(f"/api/v1/certificates/{number}", query_string={"name": "张三"}).get_json()
    assert wrong["holder_name_matches"] is False and wrong["certificate"]["holder_name"] == "欧**"
    # Lower case and full-width digits are the same number.
    assert api.get(f"/api/v1/certificates/{number.lower()}").status_code == 200


def test_lookup_errors_are_clear(seeded, api):
    bad = api.get("/api/v1/certificates/S123")
    assert bad.status_code == 400 and bad.get_json()["error"] == "malformed"
    assert bad.get_json()["message"].startswith("number:")
    missing = api.get(f"/api/v1/certificates/{seeded.number(5)}")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    assert "server_time" in missing.get_json()
    nowhere = api.get("/api/v1/nothing-here")
    assert nowhere.status_code == 404 and nowhere.get_json()["error"] == "not_found"


def test_revoked_by_number_carries_the_revocation(seeded, api):
    seeded.issue(1)
    seeded.revoke(seeded.number(1), "证书信息有误")
    body = api.get(f"/api/v1/certificates/{seeded.number(1)}").get_json()
    assert body["status"] == "revoked"
    assert body["revocation"]["reason"] == "证书信息有误"
    assert body["revocation"]["origin"] == "operator"


def test_confirm_the_holder_through_the_api(seeded, api):
    seeded.issue(1, id_seq=3)
    url = f"/api/v1/certificates/{seeded.number(1)}/holder"
    assert api.post(url, json={"id_number": id_number(3).lower()}).get_json()["match"] is True
    assert api.post(url, json={"id_number": id_number(4)}).get_json()["match"] is False
    missing = api.post(url, json={})
    assert missing.status_code == 400 and missing.get_json()["message"].startswith("id_number")
    assert api.post(url, data=b"\xff\xfe").status_code == 400


# --------------------------------------------------------------------------- batch


def test_batch_verify_gives_one_verdict_per_item_in_order(seeded, api):
    valid = seeded.issue(1)
    revoked = seeded.issue(2)
    seeded.revoke(seeded.number(2))
    offline = seeded.issue(3, push=False)
    link = cert_token.token_url("https://verify.example.cn", valid)
    items = [valid, link.lower(), revoked, offline, seeded.number(1), seeded.number(9),
             valid[:-5] + "AAAAA", "not a certificate"]  # fmt: skip
    body = api.post("/api/v1/verify", json={"items": items}).get_json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["valid", "valid", "revoked", "unrecorded", "valid", "not_found",
                        "invalid", "invalid"]  # fmt: skip
    assert [r["index"] for r in body["results"]] == list(range(8))
    assert body["summary"] == {"valid": 3, "revoked": 1, "unrecorded": 1, "not_found": 1,
                               "invalid": 2}  # fmt: skip
    first = body["results"][0]
    assert first["certificate"]["holder_name"] == "欧阳娜"  # a token shows the name it carries
    assert first["verify_url"] == f"/V/{valid}"
    assert body["results"][4]["certificate"]["holder_name"] == "欧**"  # a number does not
    assert body["results"][6]["error"] == "bad_signature"
    assert body["results"][7]["error"] == "unrecognised"
    assert body["results"][3]["certificate"]["station"]["name"] == "示例考核站"


def test_batch_verify_refuses_bad_envelopes(seeded, api):
    seeded.app.config["REGISTRY_BATCH_MAX"] = 3
    cases = [
        ({"items": []}, "items:"),
        ({"items": ["a"] * 4}, "items:"),
        ({"tokens": ["a"]}, "items:"),
        ({"items": ["a", 7]}, "items[1]"),
        ([1], "body:"),
    ]
    for payload, field in cases:
        response = api.post("/api/v1/verify", json=payload)
        assert response.status_code == 400, payload
        assert response.get_json()["message"].startswith(field), payload
    english = api.post("/api/v1/verify?lang=en", json={"items": []}).get_json()["message"]
    assert english == "items: expected a list of 1 to 3 texts"


# --------------------------------------------------------------------------- candidates


def test_candidates_find_their_own_certificates(seeded, api):
    seeded.issue(1, id_seq=2)
    seeded.issue(2, id_seq=2)
    seeded.issue(3, id_seq=3)
    body = api.post("/api/v1/candidates/lookup",
                    json={"name": "欧阳娜", "id_number": id_number(2)}).get_json()  # fmt: skip
    assert body["count"] == 2
    assert {c["number"] for c in body["certificates"]} == {seeded.number(1), seeded.number(2)}
    assert all(c["verify_url"].startswith("/V/") for c in body["certificates"])
    # The name alone, or the number with another name, finds nothing.
    other = api.post("/api/v1/candidates/lookup",
                     json={"name": "张三", "id_number": id_number(2)}).get_json()  # fmt: skip
    assert other["count"] == 0
    missing = api.post("/api/v1/candidates/lookup", json={"name": "欧阳娜"})
    assert missing.status_code == 400 and missing.get_json()["message"].startswith("id_number")


def test_candidate_lookup_page(seeded, api):
    seeded.issue(1, id_seq=2)
    page = api.post("/lookup", data={"name": "欧阳娜", "id_number": id_number(2)})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-count="1"' in html and seeded.number(1) in html
    assert id_number(2) not in html  # never echoed
    none = api.post("/lookup", data={"name": "欧阳娜", "id_number": id_number(9)})
    assert 'data-count="0"' in none.get_data(as_text=True)
    bad = api.post("/lookup", data={"name": "", "id_number": id_number(2)})
    assert bad.status_code == 400 and "姓名" in bad.get_data(as_text=True)


# --------------------------------------------------------------------------- bulk CSV


def test_bulk_upload_reads_the_right_column_and_downloads_csv(seeded, api):
    token = seeded.issue(1)
    seeded.issue(2)
    seeded.revoke(seeded.number(2))
    n1, n2, n8 = seeded.number(1), seeded.number(2), seeded.number(8)
    text = f"姓名,证书编号\n欧阳娜,{n1}\n欧阳娜,{n2}\n,\n李四,{n8}\n"
    data = {"file": (io.BytesIO(text.encode("gb18030")), "list.csv")}
    page = api.post("/bulk", data=data, content_type="multipart/form-data")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count('<tr class="row-') == 3
    assert 'class="row-valid"' in html and 'class="row-revoked"' in html
    assert 'class="row-not_found"' in html
    # The download re-checks the same lines (kept in the page) and answers CSV.
    lines = "\n".join([token, seeded.number(2), "=HYPERLINK(1)"])
    download = api.post("/bulk", data={"format": "csv", "items": lines})
    assert download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    raw = download.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:4] == ["行号", "输入内容", "状态", "核验结果"]
    assert [r[2] for r in rows[1:]] == ["valid", "revoked", "invalid"]
    assert rows[1][5] == "欧阳娜" and rows[2][11] == "以欺骗手段取得证书"
    assert rows[3][1] == "'=HYPERLINK(1)"  # no formulas into a spreadsheet


def test_bulk_errors(seeded, api):
    seeded.app.config["REGISTRY_BULK_MAX_ROWS"] = 2
    empty = api.post("/bulk", data={"items": ""})
    assert empty.status_code == 400
    many = api.post("/bulk", data={"items": "a\nb\nc"})
    assert many.status_code == 400 and "3" in many.get_data(as_text=True)
    binary = {"file": (io.BytesIO(b"\x81\x30\xff\xfe\x00" * 3), "x.csv")}
    wrong = api.post("/bulk", data=binary, content_type="multipart/form-data")
    assert wrong.status_code == 400
    huge_cell = {"file": (io.BytesIO(b'"' + b"x" * 200_000 + b'"\n'), "x.csv")}
    unreadable = api.post("/bulk", data=huge_cell, content_type="multipart/form-data")
    assert unreadable.status_code == 400 and "CSV" in unreadable.get_data(as_text=True)


# --------------------------------------------------------------------------- rate limits


@pytest.fixture
def limited(registry_app):
    """Limits on, tiny budgets; Redis when REDIS_URL is set (as in CI), else memory."""
    registry_app.config.update(REGISTRY_LIMIT_VERIFY="3 per minute",
                               REGISTRY_LIMIT_PERSONAL="2 per minute")  # fmt: skip
    register_public(registry_app)
    init_registry(registry_app)
    return Seeded(registry_app)


def test_public_endpoints_are_rate_limited_per_ip(limited):
    app = limited.app
    storage = app.extensions["registry_limiter"]._storage
    expected = "RedisStorage" if os.environ.get("REDIS_URL") else "MemoryStorage"
    assert type(storage).__name__ == expected
    client = app.test_client()
    number = limited.number(1)
    for _ in range(3):
        assert client.get(f"/api/v1/certificates/{number}").status_code == 404
    refused = client.get(f"/api/v1/certificates/{number}")
    assert refused.status_code == 429 and refused.get_json()["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    # Another address has its own budget.
    other = client.get(f"/api/v1/certificates/{number}",
                       environ_overrides={"REMOTE_ADDR": "10.0.0.9"})  # fmt: skip
    assert other.status_code == 404


def test_id_number_guesses_share_one_budget_between_page_and_api(limited):
    token = limited.issue(1)
    client = limited.app.test_client()
    assert client.post(f"/V/{token}", data={"id_number": id_number(2)}).status_code == 200
    api = client.post("/api/v1/candidates/lookup", json={"name": "x", "id_number": id_number(3)})
    assert api.status_code == 200
    page = client.post(f"/V/{token}", data={"id_number": id_number(4)})
    assert page.status_code == 429
    html = page.get_data(as_text=True)
    assert "请求过于频繁" in html and "<html" in html
    # Looking at the page is a separate (larger) budget.
    assert client.get(f"/V/{token}").status_code == 200
