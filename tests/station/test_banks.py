"""Bank import at the station: every format through one service, all or nothing, versions kept."""

from __future__ import annotations

import json

import pytest
from sqlmodel import func, select

from question_bank import package, signing
from station.demo.seed import load_content
from station.models import AuditEntry, Bank, BankItem, BankVersion
from station.services import banks
from station.services.errors import BankImportFailed, DomainError

GIFT = """\
::S1:: 工业机器人示教时应使用哪种运行模式？{=手动减速模式 ~自动模式 ~手动全速模式}

::T1:: 急停按钮按下后机器人应立即停止运动。{TRUE}
"""


@pytest.fixture
def issuer():
    return signing.IssuerKey.generate("iss-test")


def _trust(session, issuer):
    banks.add_trusted_issuer(session, actor="t", public_pem=issuer.public_pem(), kid=issuer.kid,
                             issuer_code="ORG", issuer_name="示例评价组织")  # fmt: skip


def _demo_package(issuer, *, version=1, encrypt=False):
    content = load_content()
    meta = dict(content.meta, version=version, created_at="2026-09-01T00:00:00Z")
    return package.build_package(content, manifest_meta=meta, key=issuer, encrypt=encrypt)


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_gift_import_into_named_bank_then_same_file_is_a_no_op(session):
    first = banks.import_bank(session, actor="t", filename="safety.gift", data=GIFT.encode(),
                              bank_name="SAFETY")  # fmt: skip
    assert first.created and first.version == "1"
    assert first.counts == {"single_choice": 1, "true_false": 1}
    again = banks.import_bank(session, actor="t", filename="safety.gift", data=GIFT.encode(),
                              bank_name="SAFETY")  # fmt: skip
    assert not again.created
    assert _count(session, BankVersion) == 1


def test_changed_file_becomes_a_new_version_and_the_old_is_kept(session):
    banks.import_bank(session, actor="t", filename="b.gift", data=GIFT.encode(), bank_name="B")
    changed = GIFT.replace("急停按钮", "紧急停止按钮")
    second = banks.import_bank(session, actor="t", filename="b.gift", data=changed.encode(),
                               bank_name="B")  # fmt: skip
    assert second.version == "2"
    bank = banks.get_bank(session, "B")
    old = banks.get_version(session, bank, "1")
    assert "急停按钮" in " ".join(i.stem for i in banks.load_items(session, old))


def test_bank_defaults_to_the_file_name(session):
    summary = banks.import_bank(
        session, actor="t", filename="robot-safety.gift", data=GIFT.encode()
    )
    assert summary.bank == "robot-safety"


def test_broken_file_reports_every_problem_and_saves_nothing(session):
    broken = "::Q1:: 简述零点校准步骤。{}\n\n::Q2:: 2+2=?{#4}\n"
    audited = _count(session, AuditEntry)
    with pytest.raises(BankImportFailed) as caught:
        banks.import_bank(session, actor="t", filename="x.gift", data=broken.encode())
    assert len(caught.value.details) >= 2
    assert _count(session, Bank) == 0 and _count(session, AuditEntry) == audited


def test_signed_package_imports_with_counts_and_is_audited(session, issuer):
    _trust(session, issuer)
    data, _ = _demo_package(issuer)
    summary = banks.import_bank(session, actor="admin", filename="irap.zip", data=data)
    assert summary.bank == "IRAP-M" and summary.format == "package"
    assert summary.counts["single_choice"] >= 100
    assert summary.tasks == 3 and summary.blueprints == 1
    assert summary.warnings == []
    actions = session.exec(select(AuditEntry.action)).all()
    assert "bank.import" in actions
    again = banks.import_bank(session, actor="admin", filename="irap.zip", data=data)
    assert not again.created


def test_untrusted_or_tampered_package_is_refused(session, issuer):
    data, _ = _demo_package(issuer)
    with pytest.raises(BankImportFailed):
        banks.import_bank(session, actor="t", filename="p.zip", data=data)  # nobody trusts it
    _trust(session, issuer)
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "content.json":
                body = body.replace(b"250", b"500", 1)
            dst.writestr(info, body)
    with pytest.raises(BankImportFailed):
        banks.import_bank(session, actor="t", filename="p.zip", data=out.getvalue())
    assert _count(session, BankItem) == 0


def test_same_version_with_other_content_is_refused(session, issuer):
    _trust(session, issuer)
    data, _ = _demo_package(issuer)
    banks.import_bank(session, actor="t", filename="p.zip", data=data)
    content = load_content()
    content.items = content.items[1:]
    meta = dict(content.meta, created_at="2026-09-02T00:00:00Z")
    other, _ = package.build_package(content, manifest_meta=meta, key=issuer)
    with pytest.raises(BankImportFailed, match="已存在"):
        banks.import_bank(session, actor="t", filename="p2.zip", data=other)


def test_encrypted_package_is_locked_until_the_release_code(session, issuer):
    _trust(session, issuer)
    data, key = _demo_package(issuer, encrypt=True)
    summary = banks.import_bank(session, actor="t", filename="enc.zip", data=data)
    assert summary.locked and summary.counts == {}
    bank = banks.get_bank(session, "IRAP-M")
    row = banks.get_version(session, bank)
    with pytest.raises(DomainError, match="解锁码"):
        banks.search_items(session, row)
    with pytest.raises(DomainError, match="解锁码"):
        banks.assemble(session, bank_code="IRAP-M", blueprint=None, seed=1)
    wrong, _ = _demo_package(issuer, encrypt=True)  # another key
    with pytest.raises(DomainError):
        banks.unlock(session, actor="t", bank_version_id=row.id,
                     release_code=package.release_code_for(b"\x01" * 32))  # fmt: skip
    unlocked = banks.unlock(session, actor="t", bank_version_id=row.id,
                            release_code=package.release_code_for(key))  # fmt: skip
    assert unlocked.counts["multiple_choice"] >= 40
    items, total = banks.search_items(session, row, query="TCP")
    assert total > 0


def test_assembly_from_the_station_meets_the_blueprint(session, issuer):
    _trust(session, issuer)
    banks.import_bank(session, actor="t", filename="p.zip", data=_demo_package(issuer)[0])
    form = banks.assemble(session, bank_code="IRAP-M", blueprint=None, seed=7)
    assert form.total_points == 100
    assert (
        banks.assemble(session, bank_code="IRAP-M", blueprint=None, seed=7).to_dict()
        == form.to_dict()
    )


def test_cli_import_list_assemble(app, runner, tmp_path):
    path = tmp_path / "robot.gift"
    path.write_text(GIFT, encoding="utf-8")
    imported = runner.invoke(args=["bank", "import", str(path), "--bank", "ROBOT"])
    assert imported.exit_code == 0, imported.output
    assert "single_choice    1" in imported.output and "true_false       1" in imported.output
    listed = runner.invoke(args=["bank", "list"])
    assert "ROBOT" in listed.output


def test_cli_import_of_a_broken_file_exits_non_zero_listing_every_problem(runner, tmp_path):
    path = tmp_path / "bad.gift"
    path.write_text("::Q1:: 简述零点校准步骤。{}\n\n::Q2:: 2+2=?{#4}\n", encoding="utf-8")
    result = runner.invoke(args=["bank", "import", str(path)])
    assert result.exit_code == 1
    assert "Q1" in result.output and "Q2" in result.output
    assert "no banks" in runner.invoke(args=["bank", "list"]).output


def test_demo_seeds_and_is_safe_to_run_twice(app, runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "IRAP-M v1 imported" in first.output
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    assert "already present" in second.output
    assembled = runner.invoke(args=["bank", "assemble", "IRAP-M", "--seed", "3", "--json"])
    assert assembled.exit_code == 0, assembled.output
    form = json.loads(assembled.output)
    assert form["seed"] == 3 and len(form["entries"]) == 85
    # The demo's theory exam is open: a candidate can log in at a terminal straight away.
    line = next(x for x in first.output.splitlines() if "theory exam in progress" in x)
    number, last6 = line.split(" as ")[1].split(" with ID ending ")
    login = app.test_client().post("/api/exam/login", json={
        "admission_number": number, "id_last6": last6.strip(), "terminal_id": "demo-terminal"})  # fmt: skip
    assert login.status_code == 200, login.json


def test_demo_has_a_session_in_grading_and_a_certified_one(app, runner):
    out = runner.invoke(args=["demo"])
    assert out.exit_code == 0, out.output
    grading = json.loads(runner.invoke(args=["results", "IRAP-M-GRADE", "--json"]).output)
    assert grading["state"] == "grading" and grading["signed_off_by"] is None
    gaps = runner.invoke(args=["grade", "IRAP-M-GRADE"])
    assert gaps.exit_code == 2 and "待考评组长裁定" in gaps.output and "张伟" in gaps.output
    done = json.loads(runner.invoke(args=["results", "IRAP-M-DONE", "--json"]).output)
    assert done["state"] == "certified" and done["signed_off_by"] == "supervisor"
    number = next(x for x in out.output.splitlines() if "certificates issued" in x)
    number = number.split("(e.g. ")[1].rstrip(")")
    assert runner.invoke(args=["certs", "verify", number]).exit_code == 0
