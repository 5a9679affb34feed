"""``station demo``: a realistic site to click through, seeded from content written for it.

Everything goes through the same services a real site uses; running it twice changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlmodel import select

from question_bank import package, signing
from question_bank.blueprint import Blueprint
from question_bank.items import BankContent, Item, Task
from station import db
from station.demo.site import seed_site
from station.models import StaffUser
from station.models.common import utcnow
from station.services import banks, users

CONTENT = Path(__file__).parent / "irap_intermediate.json"
PASSWORD = "Demo@2026"
STAFF = [
    ("admin", "王建国", ["admin"], "北京示例职业技能考核站"),
    ("examiner1", "李敏", ["examiner"], "北京市示例技师学院"),
    ("examiner2", "张伟", ["examiner"], "北京示例智能装备有限公司"),
    ("examiner3", "刘洋", ["examiner"], "北京市示例职业学校"),
    ("examiner4", "孙丽", ["examiner"], "北京示例机器人系统集成有限公司"),
    ("chief", "陈静", ["chief_examiner", "examiner"], "北京市示例技师学院"),
    ("supervisor", "赵磊", ["supervisor"], "北京市职业技能鉴定指导中心"),
]
ISSUER_KID = "demo-issuer-2026"


def load_content() -> BankContent:
    raw = json.loads(CONTENT.read_text(encoding="utf-8"))
    return BankContent(
        items=[Item.from_dict(d) for d in raw["items"]],
        tasks=[Task.from_dict(d) for d in raw["tasks"]],
        blueprints=[Blueprint.from_dict(d) for d in raw["blueprints"]],
        meta=raw["meta"],
    )


def demo_issuer(instance: Path) -> signing.IssuerKey:
    """The demo issuing organisation's key, made once and kept in the instance."""
    path = instance / "demo-issuer" / "issuer-private.pem"
    if path.exists():
        return signing.IssuerKey.load(path.read_text(), None)
    key = signing.IssuerKey.generate(ISSUER_KID)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key.private_pem(None))
    path.chmod(0o600)
    (path.parent / "issuer-public.pem").write_text(key.public_pem())
    return key


def graded_lines(app: Flask, session, *, bank: str) -> list[str]:
    """The sessions after the exam: one in grading, one certified (certificates issued)."""
    from certs import cert_token
    from station import config as station_config
    from station.demo.graded import DONE_CODE, seed_done, seed_grading
    from station.services import certificates

    now = utcnow()
    lines = seed_grading(session, now=now, bank=bank)
    if not seed_done(session, now=now, bank=bank):
        return [*lines, f"session {DONE_CODE} already present"]
    issued = certificates.issue_session(
        session, actor="admin", session_code=DONE_CODE,
        passphrase=station_config.key_passphrase(app.config),
        settings=certificates.Settings.from_config(app.config), now=now)  # fmt: skip
    first = issued[0] if issued else None
    lines.append(f"session {DONE_CODE}: published, {len(issued)} certificates issued"
                 + (f" (e.g. {first.number})" if first else ""))  # fmt: skip
    if first:
        url = cert_token.token_url(app.config["REGISTRY_URL"], first.token)
        lines.append(f"its QR code opens {url}")
    return lines


def seed_demo(app: Flask) -> list[str]:
    instance = Path(app.instance_path)
    content = load_content()
    issuer = demo_issuer(instance)
    # A fixed publication time keeps the demo package byte-identical across runs, so running
    # the demo again is recognised as the same version rather than a conflicting one.
    meta = dict(content.meta)
    meta.setdefault("created_at", "2026-09-01T00:00:00Z")
    plain, _ = package.build_package(content, manifest_meta=meta, key=issuer)
    # A second version, encrypted, left beside the instance for the import-and-unlock flow.
    encrypted_meta = dict(meta, version=int(meta.get("version", 1)) + 1)
    locked, content_key = package.build_package(
        content, manifest_meta=encrypted_meta, key=issuer, encrypt=True
    )
    packages = instance / "demo-packages"
    packages.mkdir(exist_ok=True)
    plain_name = f"{meta['bank']}-v{meta['version']}.zip"
    (packages / plain_name).write_bytes(plain)
    locked_path = packages / f"{meta['bank']}-v{encrypted_meta['version']}-encrypted.zip"
    locked_path.write_bytes(locked)
    release_code = package.release_code_for(content_key)
    (packages / "release-code.txt").write_text(release_code + "\n")

    with db.transaction() as session:
        for username, name, roles, org in STAFF:
            exists = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
            if exists is None:
                users.add_user(session, actor="demo", username=username, display_name=name,
                               password=PASSWORD, roles=roles, organisation=org)  # fmt: skip
        issuer_meta = meta.get("issuer") or {}
        banks.add_trusted_issuer(session, actor="demo", public_pem=issuer.public_pem(),
                                 kid=issuer.kid, issuer_code=issuer_meta.get("code", ""),
                                 issuer_name=issuer_meta.get("name", ""))  # fmt: skip
        summary = banks.import_bank(session, actor="demo", filename=plain_name, data=plain)
        site_lines = seed_site(session, now=utcnow(), bank=summary.bank)
    with db.transaction() as session:
        site_lines += graded_lines(app, session, bank=summary.bank)
    state = "imported" if summary.created else "already present"
    counts = ", ".join(f"{t} {n}" for t, n in sorted(summary.counts.items()))
    return [
        f"bank {summary.bank} v{summary.version} {state}: {counts}, tasks {summary.tasks}",
        f"staff logins (password {PASSWORD}): " + ", ".join(u[0] for u in STAFF),
        f"encrypted package to try importing: {locked_path}",
        f"its release code: {release_code}",
        *site_lines,
    ]
