"""Issuing certificates at the station: numbers, signed records, QR tokens, PDFs, offline
verification, key rotation, revocation and the VC export."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import text

from certs import cert_token, numbers, record
from certs.vc import verify_proof
from station import db
from station.services import appeals, certificates, keys, lifecycle, results
from station.services.certificates import Settings
from station.services.errors import DomainError
from station.services.verification import check_token
from tests.station.grading import SESSION, issue_certificates, publish, run, schedule


@pytest.fixture
def settings(app):
    return Settings.from_config(app.config)


@pytest.fixture
def published(app, client, exam_site):
    return publish(app, client)


def test_only_passing_candidates_of_a_signed_off_session_get_certificates(app, published,
                                                                           settings):  # fmt: skip
    people, expected = published
    issued = issue_certificates(app)
    passing = [p[0] for p, t in zip(people, expected, strict=False) if t >= 60]
    with app.app_context(), db.transaction() as s:
        from station.models import Candidate

        holders = sorted(s.get(Candidate, c.candidate_id).admission_number for c in issued)
        assert holders == sorted(passing)
        assert lifecycle.get_session(s, SESSION).state == "certified"
        trusted = certificates.trust_list(s, settings)
        for cert in issued:
            parsed = numbers.parse_number(cert.number)
            assert parsed.level == numbers.level_digit("中级") == 4
            code = app.config["STATION_CODE"]
            assert cert.number.startswith(f"S0001{code[:2]}{code}")  # province from the station
            rec = record.verify_record(certificates.signed_record(cert), trusted)
            assert rec.number == cert.number and rec.theory_score >= 60
            assert check_token(s, settings, cert.token).valid
            assert rec.id_number not in cert.token
    serials = sorted(numbers.parse_number(c.number).serial for c in issued)
    assert serials == list(range(1, len(issued) + 1))
    assert issue_certificates(app) == []  # nothing is issued twice


def test_no_certificates_before_sign_off(app, client, exam_site, settings):
    schedule(app)
    with pytest.raises(DomainError, match="签字确认并发布后"):
        issue_certificates(app)


def test_numbers_have_no_gaps_after_rollback_and_no_duplicates_under_concurrency(app, settings):
    from datetime import date

    def take(fail: bool = False) -> str:
        with app.app_context(), db.transaction() as s:
            number = certificates.allocate_number(
                s, settings, level="中级", issued=date(2026, 11, 29)
            )
            if fail:
                raise RuntimeError("rolled back")
            return number

    with pytest.raises(RuntimeError):
        take(fail=True)
    assert take().endswith("000001")  # the rolled-back serial was given back
    got: list[str] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        for i in range(10):
            try:
                got.append(take(fail=(n + i) % 4 == 0))
            except RuntimeError:
                pass
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    serials = sorted(int(n[-6:]) for n in got)
    assert len(set(got)) == len(got) == 45  # 60 attempts, 15 rolled back
    assert serials == list(range(2, 47))  # dense: no gaps, no repeats
    with app.app_context(), db.transaction() as s:
        assert s.exec(text("SELECT last FROM certificate_serial")).scalar_one() == 46


def test_rotation_old_certificates_still_verify_new_ones_use_the_new_key(app, published, settings):
    people, _ = published
    first = issue_certificates(app)
    with app.app_context(), db.transaction() as s:
        old, new = keys.rotate(s, actor="admin", passphrase=app.config["KEY_PASSPHRASE"])
    # an appeal makes candidate 4 (no answers) pass; the certificate now comes from the new key
    appeal = run(app, appeals.lodge, actor="sup", admission_number=people[3][0], part="theory",
                 statement="复核")  # fmt: skip
    run(app, appeals.resolve, actor="sup", appeal_id=appeal.id, upheld=True, reason="复核改分",
        score=75)  # fmt: skip
    second = issue_certificates(app)
    assert [c.kid for c in first] == [old.kid] * len(first) and [c.kid for c in second] == [new.kid]
    with app.app_context(), db.transaction() as s:
        for cert in first + second:
            assert check_token(s, settings, cert.token).valid
        assert second[0].result_version == 2


def test_revocation_is_honoured_offline(app, published, settings, runner):
    cert = issue_certificates(app)[0]
    assert runner.invoke(args=["certs", "verify", cert.token]).exit_code == 0
    with pytest.raises(DomainError, match="须填写原因"):
        run(app, certificates.revoke, actor="admin", number=cert.number, reason=" ")
    out = runner.invoke(args=["certs", "revoke", cert.number, "--reason", "考试违纪，经查实"])
    assert out.exit_code == 0, out.output
    verdict = runner.invoke(args=["certs", "verify", cert.token, "--json"])
    assert verdict.exit_code == 1
    payload = json.loads(verdict.output)[0]
    assert (
        payload["code"] == "revoked" and payload["fields"]["revoked_reason"] == "考试违纪，经查实"
    )
    again = runner.invoke(args=["certs", "revoke", cert.number, "--reason", "x"])
    assert again.exit_code == 1 and "已申请撤销" in again.output


def test_a_tampered_token_fails(app, published, settings, runner):
    cert = issue_certificates(app)[0]
    flipped = cert.token[:40] + ("A" if cert.token[40] != "A" else "B") + cert.token[41:]
    out = runner.invoke(args=["certs", "verify", flipped, "--json"])
    assert out.exit_code == 1
    assert json.loads(out.output)[0]["code"] in ("bad_signature", "malformed")


def test_issue_writes_pdfs_whose_qr_verifies_and_reprints_are_identical(app, published, runner,
                                                                         tmp_path):  # fmt: skip
    out = runner.invoke(args=["certs", "issue", SESSION, "--out", str(tmp_path / "a"),
                              "--workers", "1"])  # fmt: skip
    assert out.exit_code == 0, out.output
    pdfs = sorted((tmp_path / "a").glob("S*.pdf"))
    combined = tmp_path / "a" / f"{SESSION}-certificates.pdf"
    assert pdfs and combined.read_bytes().startswith(b"%PDF")
    checked = runner.invoke(args=["certs", "verify", str(pdfs[0]), "--json"])
    assert checked.exit_code == 0, checked.output
    verdict = json.loads(checked.output)[0]
    assert verdict["fields"]["number"] == pdfs[0].stem and "*" in verdict["fields"]["masked_id"]
    again = runner.invoke(args=["certs", "issue", SESSION, "--out", str(tmp_path / "b"),
                                "--workers", "1"])  # fmt: skip
    assert "issued 0 new" in again.output
    assert (tmp_path / "b" / pdfs[0].name).read_bytes() == pdfs[0].read_bytes()


def test_vc_export_verifies(app, published, settings, runner):
    cert = issue_certificates(app)[0]
    out = runner.invoke(args=["certs", "vc", cert.number])
    assert out.exit_code == 0, out.output
    document = json.loads(out.output)
    assert verify_proof(document)
    subject = document["credentialSubject"]
    assert subject["certificateNumber"] == cert.number and "*" in subject["maskedIdNumber"]
    assert document["issuer"]["id"].startswith("did:key:z6Mk")


def test_results_stay_after_certification(app, published, settings):
    issue_certificates(app)
    with app.app_context(), db.transaction() as s:
        assert results.signoff(s, lifecycle.get_session(s, SESSION)) is not None
        assert cert_token.FORMAT_VERSION == 1
