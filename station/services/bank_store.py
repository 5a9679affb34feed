"""Writing a bank version's content at the station: checks that need the whole content
(blueprints against the items, media), the rows, and the bookkeeping of banks and versions.
:mod:`station.services.banks` calls these inside its import and unlock transactions."""

from __future__ import annotations

import hashlib
import json

from sqlmodel import Session, col, select

from question_bank.blueprint import validate_blueprint
from question_bank.coverage import check_feasibility
from question_bank.errors import BlueprintError
from question_bank.items import BankContent, Item
from question_bank.media import media_problems
from question_bank.richtext import html_to_text
from station.models import Bank, BankBlueprint, BankItem, BankMedia, BankTask, BankVersion
from station.services.errors import BankImportFailed


def store_content(db: Session, row: BankVersion, content: BankContent) -> list[str]:
    """Validate blueprints against the content, then write every row (caller's transaction)."""
    problems, warnings = [], []
    for bp in content.blueprints:
        try:
            validate_blueprint(bp)
        except BlueprintError as exc:
            problems.append(f"鉴定要素细目表 {bp.name}: {exc}")
            continue
        try:
            check_feasibility(bp, content.items)
        except BlueprintError as exc:
            warnings.append(f"鉴定要素细目表 {bp.name} 暂不能满足: " + "；".join(exc.shortfalls))
    problems += media_problems(content.media)
    if problems:
        raise BankImportFailed("题库内容有误", problems)
    db.add(row)
    db.flush()
    db.add_all(item_row(row.id, item) for item in content.items)
    db.add_all(
        BankTask(bank_version_id=row.id, uid=t.uid, title=t.title, data=t.to_dict())
        for t in content.tasks
    )
    db.add_all(
        BankBlueprint(bank_version_id=row.id, name=bp.name, data=bp.to_dict())
        for bp in content.blueprints
    )
    db.add_all(
        BankMedia(bank_version_id=row.id, name=name, content=blob)
        for name, blob in content.media.items()
    )
    db.flush()
    return warnings


def item_row(version_id: int, item: Item) -> BankItem:
    option_text = " ".join(html_to_text(o.text) for o in item.options)
    return BankItem(
        bank_version_id=version_id,
        uid=item.uid,
        version=item.version,
        type=item.type.value,
        knowledge_point=item.knowledge_point,
        importance=item.importance.value if item.importance else None,
        difficulty=item.difficulty,
        status=item.status.value,
        search_text=f"{item.uid} {html_to_text(item.stem)} {option_text}",
        data=item.to_dict(),
    )


def content_digest(content: BankContent) -> str:
    body = {
        "items": [i.to_dict() for i in sorted(content.items, key=lambda i: i.uid)],
        "tasks": [t.to_dict() for t in sorted(content.tasks, key=lambda t: t.uid)],
        "blueprints": [b.to_dict() for b in content.blueprints],
        "media": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(content.media.items())},
    }
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()


def get_or_create_bank(db: Session, *, code: str, meta: dict, name: str | None = None) -> Bank:
    if not code:
        raise BankImportFailed("缺少题库名称", ["请用 --bank 指定题库名称"])
    bank = db.exec(select(Bank).where(Bank.code == code)).first()
    if bank is not None:
        return bank
    programme = meta.get("programme") or {}
    issuer = meta.get("issuer") or {}
    bank = Bank(
        code=code,
        name=name or meta.get("name") or bank_title(programme, meta.get("level")) or code,
        programme_code=programme.get("code", "") if isinstance(programme, dict) else "",
        programme_name=programme.get("name", "") if isinstance(programme, dict) else str(programme),
        level=str(meta.get("level") or ""),
        issuer_name=issuer.get("name", "") if isinstance(issuer, dict) else str(issuer),
    )
    db.add(bank)
    db.flush()
    return bank


def bank_title(programme, level) -> str:
    name = programme.get("name", "") if isinstance(programme, dict) else str(programme or "")
    return f"{name}（{level}）" if name and level else name


def version(db: Session, bank: Bank, version: str) -> BankVersion | None:
    return db.exec(
        select(BankVersion).where(BankVersion.bank_id == bank.id, BankVersion.version == version)
    ).first()


def latest_version(db: Session, bank: Bank) -> BankVersion | None:
    return db.exec(
        select(BankVersion)
        .where(BankVersion.bank_id == bank.id)
        .order_by(col(BankVersion.id).desc())
    ).first()


def next_number(db: Session, bank: Bank) -> int:
    versions = db.exec(select(BankVersion.version).where(BankVersion.bank_id == bank.id)).all()
    numbers = [int(v) for v in versions if v.isdigit()]
    return max(numbers, default=0) + 1
