"""Item banks at the station: import (any supported format), unlock, browse, coverage, assembly."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import PurePath

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from certs import keys
from question_bank import assembly, package, signing
from question_bank.blueprint import Blueprint
from question_bank.coverage import coverage
from question_bank.errors import BankImportError, BlueprintError, PackageError
from question_bank.importers import detect_format, import_file
from question_bank.items import BankContent, Item, ItemType, Task
from station.models import (
    Bank,
    BankBlueprint,
    BankItem,
    BankMedia,
    BankTask,
    BankVersion,
    TrustedIssuer,
)
from station.models.common import utcnow
from station.services import audit, bank_store
from station.services.errors import BankImportFailed, DomainError, NotFound


@dataclass
class ImportSummary:
    bank: str
    version: str
    format: str
    created: bool  # False: this exact version was already here, nothing changed
    locked: bool = False
    counts: dict[str, int] = field(default_factory=dict)  # item type -> count
    tasks: int = 0
    blueprints: int = 0
    warnings: list[str] = field(default_factory=list)


# --- trusted issuers ---------------------------------------------------------------------------


def add_trusted_issuer(db: Session, *, actor: str, public_pem: str, issuer_code: str = "",
                       issuer_name: str = "", kid: str | None = None) -> TrustedIssuer:  # fmt: skip
    try:
        public = keys.load_public_pem(public_pem)
    except (ValueError, keys.KeyLoadError) as exc:
        raise DomainError(f"无法读取发布机构公钥：{exc}") from None
    kid = kid or keys.key_id(public, prefix="iss-")
    existing = db.get(TrustedIssuer, kid)
    if existing is not None:
        if existing.public_pem.strip() != public_pem.strip():
            raise DomainError(f"密钥编号 {kid} 已登记为另一把公钥")
        return existing
    row = TrustedIssuer(kid=kid, issuer_code=issuer_code, issuer_name=issuer_name,
                        public_pem=public_pem)  # fmt: skip
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="issuer.trust", subject=f"issuer-key:{kid}",
                 data={"issuer_code": issuer_code, "issuer_name": issuer_name})  # fmt: skip
    return row


def trusted_issuers(db: Session) -> signing.TrustedIssuers:
    return signing.TrustedIssuers.from_pems(
        {row.kid: row.public_pem for row in db.exec(select(TrustedIssuer))}
    )


# --- import ------------------------------------------------------------------------------------


def import_bank(db: Session, *, actor: str, filename: str, data: bytes,
                bank_name: str | None = None) -> ImportSummary:  # fmt: skip
    """Import a bank file of any supported format, all or nothing.

    Packages carry their own bank code and version. Other formats go into ``bank_name`` (by
    default the file's name); each import whose content differs from the bank's newest version
    becomes the next version, and importing the same content again changes nothing.
    """
    try:
        fmt = detect_format(filename, data)
        if fmt == "package":
            return _import_package(db, actor=actor, filename=filename, data=data)
        content = import_file(filename, data)
    except BankImportError as exc:
        raise BankImportFailed(f"{filename} 无法导入", [str(p) for p in exc.problems]) from None
    except PackageError as exc:
        raise BankImportFailed(f"{filename} 无法导入", [str(exc)]) from None

    code = (bank_name or content.meta.get("bank") or PurePath(filename).stem).strip()
    bank = bank_store.get_or_create_bank(db, code=code, meta=content.meta, name=bank_name)
    digest = bank_store.content_digest(content)
    latest = bank_store.latest_version(db, bank)
    if latest is not None and latest.content_hash == digest:
        return _summary(db, bank, latest, fmt, created=False)
    wanted = str(content.meta.get("version") or "")
    if wanted and bank_store.version(db, bank, wanted) is not None:
        raise BankImportFailed(
            f"{filename} 无法导入",
            [f"题库 {code} 的版本 {wanted} 已存在，且内容不同；请提高版本号"],
        )
    version = wanted or str(bank_store.next_number(db, bank))
    row = BankVersion(bank_id=bank.id, version=version, source_format=fmt,
                      source_name=filename, content_hash=digest, manifest=content.meta,
                      imported_by=actor)  # fmt: skip
    warnings = bank_store.store_content(db, row, content)
    audit.record(db, actor=actor, action="bank.import", subject=f"bank:{code}",
                 data={"version": version, "format": fmt, "file": filename,
                       "items": len(content.items)})  # fmt: skip
    return _summary(db, bank, row, fmt, created=True, warnings=warnings)


def _import_package(db: Session, *, actor: str, filename: str, data: bytes) -> ImportSummary:
    opened = package.open_package(data, trusted=trusted_issuers(db))
    manifest = opened.manifest
    digest = hashlib.sha256(data).hexdigest()
    bank = bank_store.get_or_create_bank(db, code=manifest.bank, meta=manifest.to_dict())
    existing = bank_store.version(db, bank, str(manifest.version))
    if existing is not None:
        if existing.content_hash == digest:
            return _summary(db, bank, existing, "package", created=False)
        raise BankImportFailed(
            f"{filename} 无法导入",
            [f"题库 {bank.code} 的版本 {manifest.version} 已存在，且内容不同 (a different package "
             "with the same version)"],
        )  # fmt: skip
    row = BankVersion(bank_id=bank.id, version=str(manifest.version), source_format="package",
                      source_name=filename, content_hash=digest, manifest=manifest.to_dict(),
                      encrypted=opened.encrypted, imported_by=actor)  # fmt: skip
    warnings: list[str] = []
    if opened.encrypted:
        row.package = data  # kept as it came, encrypted, until a release code unlocks it
        db.add(row)
        db.flush()
    else:
        warnings = bank_store.store_content(db, row, opened.content())
    audit.record(db, actor=actor, action="bank.import", subject=f"bank:{bank.code}",
                 data={"version": row.version, "format": "package", "file": filename,
                       "encrypted": opened.encrypted, "sha256": digest})  # fmt: skip
    return _summary(db, bank, row, "package", created=True, warnings=warnings)


def unlock(db: Session, *, actor: str, bank_version_id: int, release_code: str) -> ImportSummary:
    """Unlock an encrypted package with its release code and load its content."""
    row = db.get(BankVersion, bank_version_id)
    if row is None:
        raise NotFound("题库版本不存在")
    bank = db.get(Bank, row.bank_id)
    if not row.locked:
        raise DomainError(f"题库 {bank.code} 版本 {row.version} 未加密或已解锁")
    try:
        key = package.parse_release_code(release_code)
        opened = package.open_package(row.package, trusted=trusted_issuers(db))
        content = opened.content(key)
    except (PackageError, BankImportError) as exc:
        raise DomainError(f"无法解锁题库 {bank.code} 版本 {row.version}", [str(exc)]) from None
    warnings = bank_store.store_content(db, row, content)
    row.unlocked_at = utcnow()
    db.add(row)
    audit.record(db, actor=actor, action="bank.unlock", subject=f"bank:{bank.code}",
                 data={"version": row.version})  # fmt: skip
    return _summary(db, bank, row, "package", created=True, warnings=warnings)


def _summary(db: Session, bank: Bank, row: BankVersion, fmt: str, *, created: bool,
             warnings: list[str] | None = None) -> ImportSummary:  # fmt: skip
    return ImportSummary(
        bank=bank.code, version=row.version, format=fmt, created=created, locked=row.locked,
        counts=item_counts(db, row.id),
        tasks=_count(db, BankTask, row.id), blueprints=_count(db, BankBlueprint, row.id),
        warnings=warnings or [],
    )  # fmt: skip


def _count(db: Session, model, version_id: int) -> int:
    return db.exec(
        select(func.count()).select_from(model).where(model.bank_version_id == version_id)
    ).one()


def item_counts(db: Session, version_id: int) -> dict[str, int]:
    rows = db.exec(
        select(BankItem.type, func.count())
        .where(BankItem.bank_version_id == version_id)
        .group_by(BankItem.type)
    ).all()
    return {t: n for t, n in rows}


# --- reading -----------------------------------------------------------------------------------


@dataclass
class BankOverview:
    bank: Bank
    latest: BankVersion | None
    versions: int
    counts: dict[str, int]
    tasks: int


def list_banks(db: Session) -> list[BankOverview]:
    result = []
    for bank in db.exec(select(Bank).order_by(Bank.code)):
        latest = bank_store.latest_version(db, bank)
        versions = db.exec(
            select(func.count()).select_from(BankVersion).where(BankVersion.bank_id == bank.id)
        ).one()
        counts = item_counts(db, latest.id) if latest else {}
        tasks = _count(db, BankTask, latest.id) if latest else 0
        result.append(BankOverview(bank, latest, versions, counts, tasks))
    return result


def get_bank(db: Session, code: str) -> Bank:
    bank = db.exec(select(Bank).where(Bank.code == code)).first()
    if bank is None:
        raise NotFound(f"题库 '{code}' 不存在")
    return bank


def versions(db: Session, bank: Bank) -> list[BankVersion]:
    return list(
        db.exec(
            select(BankVersion)
            .where(BankVersion.bank_id == bank.id)
            .order_by(col(BankVersion.id).desc())
        )
    )


def get_version(db: Session, bank: Bank, version: str | None = None) -> BankVersion:
    row = bank_store.version(db, bank, version) if version else bank_store.latest_version(db, bank)
    if row is None:
        raise NotFound(f"题库 '{bank.code}' 没有版本 {version or ''}".strip())
    return row


def search_items(db: Session, version: BankVersion, *, query: str = "", item_type: str = "",
                 knowledge_point: str = "", status: str = "", page: int = 1,
                 per_page: int = 50) -> tuple[list[BankItem], int]:  # fmt: skip
    _require_unlocked(version)
    stmt = select(BankItem).where(BankItem.bank_version_id == version.id)
    if query:
        stmt = stmt.where(
            or_(col(BankItem.search_text).contains(query), col(BankItem.uid) == query)
        )
    if item_type:
        stmt = stmt.where(BankItem.type == item_type)
    if knowledge_point:
        stmt = stmt.where(col(BankItem.knowledge_point).startswith(knowledge_point))
    if status:
        stmt = stmt.where(BankItem.status == status)
    total = db.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = db.exec(stmt.order_by(BankItem.uid).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def get_item(db: Session, version: BankVersion, uid: str) -> Item:
    _require_unlocked(version)
    row = db.exec(
        select(BankItem).where(BankItem.bank_version_id == version.id, BankItem.uid == uid)
    ).first()
    if row is None:
        raise NotFound(f"试题 '{uid}' 不存在")
    return Item.from_dict(row.data)


def get_media(db: Session, version: BankVersion, name: str) -> bytes:
    _require_unlocked(version)
    row = db.exec(
        select(BankMedia).where(BankMedia.bank_version_id == version.id, BankMedia.name == name)
    ).first()
    if row is None:
        raise NotFound(f"媒体文件 '{name}' 不存在")
    return row.content


def load_items(db: Session, version: BankVersion, uids: list[str] | None = None) -> list[Item]:
    _require_unlocked(version)
    stmt = select(BankItem.data).where(BankItem.bank_version_id == version.id)
    if uids is not None:
        stmt = stmt.where(col(BankItem.uid).in_(uids))
    rows = db.exec(stmt)
    return [Item.from_dict(d) for d in rows]


def load_tasks(db: Session, version: BankVersion) -> list[Task]:
    _require_unlocked(version)
    rows = db.exec(select(BankTask.data).where(BankTask.bank_version_id == version.id))
    return [Task.from_dict(d) for d in rows]


def load_blueprints(db: Session, version: BankVersion) -> list[Blueprint]:
    rows = db.exec(
        select(BankBlueprint.data)
        .where(BankBlueprint.bank_version_id == version.id)
        .order_by(BankBlueprint.name)
    )
    return [Blueprint.from_dict(d) for d in rows]


def get_blueprint(db: Session, version: BankVersion, name: str | None) -> Blueprint:
    blueprints = load_blueprints(db, version)
    if not blueprints:
        raise NotFound("该题库版本没有鉴定要素细目表")
    if name is None:
        return blueprints[0]
    for bp in blueprints:
        if bp.name == name:
            return bp
    names = "、".join(bp.name for bp in blueprints)
    raise NotFound(f"鉴定要素细目表 '{name}' 不存在；可选：{names}")


def blueprint_coverage(db: Session, version: BankVersion, name: str | None = None):
    bp = get_blueprint(db, version, name)
    return bp, coverage(bp, load_items(db, version))


def load_content(db: Session, version: BankVersion) -> BankContent:
    """The version's whole content, e.g. for export."""
    media = db.exec(select(BankMedia).where(BankMedia.bank_version_id == version.id))
    return BankContent(
        items=sorted(load_items(db, version), key=lambda i: i.uid),
        tasks=sorted(load_tasks(db, version), key=lambda t: t.uid),
        blueprints=load_blueprints(db, version),
        media={m.name: m.content for m in media},
        meta=dict(version.manifest),
        format=version.source_format,
    )


def assemble(db: Session, *, bank_code: str, blueprint: str | None, seed: int,
             version: str | None = None) -> assembly.Form:  # fmt: skip
    """One form for inspection from the shell or the console (nothing is stored)."""
    row = get_version(db, get_bank(db, bank_code), version)
    _require_unlocked(row)
    bp = get_blueprint(db, row, blueprint)
    try:
        return assembly.assemble(bp, load_items(db, row), seed=seed)
    except BlueprintError as exc:
        raise DomainError(f"无法按 {bp.name} 组卷", exc.shortfalls or [str(exc)]) from None


def _require_unlocked(version: BankVersion) -> None:
    if version.locked:
        raise DomainError(f"题库版本 {version.version} 已加密，请先输入解锁码")


ITEM_TYPES = [t.value for t in ItemType]
