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


def test_candidates_download_their_certificate_from_the_results_page(app, client, exam_site):
    from station.services import certificates
    from tests.station.grading import run

    people, _ = publish(app, client)
    run(app, certificates.issue_session, actor="admin", session_code=SESSION,
        passphrase=app.config["KEY_PASSPHRASE"],
        settings=certificates.Settings.from_config(app.config))  # fmt: skip
    number, id_number, _name = people[0]  # all right in theory, 90 in practical: passed
    page = client.post("/results/", data={"admission_number": number, "id_number": id_number})
    assert page.status_code == 200 and 'id="certificate"' in page.text
    link = page.text.split('href="/results/certificate/')[1].split('"')[0]
    pdf = client.get(f"/results/certificate/{link}")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Cache-Control"] == "no-store"
    assert client.get("/results/certificate/forged.pdf").status_code == 404
    failed = client.post("/results/", data={"admission_number": people[2][0],
                                            "id_number": people[2][1]})  # fmt: skip
    assert failed.status_code == 200 and 'id="certificate"' not in failed.text
