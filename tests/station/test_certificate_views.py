"""The certificate pages: issue, print with progress, download, revoke, verify offline."""

from __future__ import annotations

import io
import time

from tests.station.grading import SESSION, publish


def _wait_for_print(client, code):
    for _ in range(600):
        data = client.get(f"/console/sessions/{code}/certificates/progress.json").json
        if data["job"] and not data["job"]["running"]:
            return data
        time.sleep(0.1)
    raise AssertionError("printing did not finish")


def test_issue_print_download_revoke_and_verify(app, client, exam_site, auth):
    publish(app, client)
    auth.login("boss", roles=("admin",))
    page = client.get(f"/console/sessions/{SESSION}/certificates")
    assert page.status_code == 200 and "G10001" in page.text
    issued = client.post(f"/console/sessions/{SESSION}/certificates/issue", follow_redirects=True)
    assert issued.status_code == 200
    done = _wait_for_print(client, SESSION)
    assert (
        done["printed"] and not done["job"]["error"] and done["job"]["done"] == done["job"]["total"]
    )
    combined = client.get(f"/console/sessions/{SESSION}/certificates.pdf")
    assert combined.status_code == 200 and combined.data.startswith(b"%PDF")
    page = client.get(f"/console/sessions/{SESSION}/certificates").text
    number = page.split("/console/certificates/")[1].split(".pdf")[0]
    single = client.get(f"/console/certificates/{number}.pdf")
    assert single.status_code == 200 and single.data.startswith(b"%PDF")
    checked = client.post("/console/verify", data={"text": number})
    assert "有效" in checked.text and number in checked.text
    uploaded = client.post(
        "/console/verify",
        data={"file": (io.BytesIO(single.data), "c.pdf")},
        content_type="multipart/form-data",
    )
    assert "有效" in uploaded.text
    client.post(f"/console/certificates/{number}/revoke", data={"reason": "证书信息有误，收回重发"})
    again = client.post("/console/verify", data={"text": number})
    assert "已撤销" in again.text and "证书信息有误" in again.text


def test_only_admins_issue_and_revoke(app, client, exam_site, auth):
    publish(app, client)
    auth.login("someone", roles=("examiner",))
    assert client.post(f"/console/sessions/{SESSION}/certificates/issue").status_code == 403
    assert client.get(f"/console/sessions/{SESSION}/certificates").status_code == 200
    assert client.post("/console/verify", data={"text": "NOT-A-TOKEN"}).status_code == 200
