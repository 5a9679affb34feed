"""The append-only, hash-chained audit log.

Each entry's hash covers its own fields and the previous entry's hash, so editing any row
breaks the chain from there on; ``seq`` is dense, so deleting a row leaves a gap; and the
chain's tip is kept in ``audit_head`` in the same transaction, so deleting the newest rows is
caught too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, select

from station.models import AuditEntry, AuditHead
from station.models.common import utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, seq: int, at: datetime, actor: str, action: str, subject: str,
            reason: str, data: dict) -> str:  # fmt: skip
    body = json.dumps(
        [seq, at.isoformat(timespec="microseconds"), actor, action, subject, reason, data],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def record(db: Session, *, actor: str, action: str, subject: str = "", reason: str = "",
           data: dict | None = None) -> AuditEntry:  # fmt: skip
    """Append an entry in the caller's transaction."""
    # Taking the head with an UPDATE first gets SQLite's write lock before we read it, so two
    # writers can never chain onto the same tip.
    row = (
        db.connection()
        .execute(text("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash"))
        .one()
    )
    seq, prev_hash = row
    at = utcnow()
    data = json.loads(json.dumps(data or {}, ensure_ascii=False, default=str))
    digest = _digest(prev_hash, seq, at, actor, action, subject, reason, data)
    entry = AuditEntry(seq=seq, at=at, actor=actor, action=action, subject=subject,
                       reason=reason, data=data, prev_hash=prev_hash, hash=digest)  # fmt: skip
    db.add(entry)
    db.connection().execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": digest})
    db.flush()
    return entry


@dataclass
class ChainReport:
    entries: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(db: Session) -> ChainReport:
    """Walk the whole chain and report every break: edited, deleted or reordered rows."""
    problems: list[str] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for entry in db.exec(select(AuditEntry).order_by(AuditEntry.seq)):
        count += 1
        if entry.seq != expected_seq:
            problems.append(f"第 {expected_seq}–{entry.seq - 1} 条记录缺失 (entries deleted)")
        if entry.prev_hash != prev_hash:
            problems.append(f"第 {entry.seq} 条记录的前序哈希不符 (chain broken before it)")
        at = entry.at
        digest = _digest(entry.prev_hash, entry.seq, at, entry.actor, entry.action,
                         entry.subject, entry.reason, entry.data)  # fmt: skip
        if digest != entry.hash:
            problems.append(f"第 {entry.seq} 条记录内容被修改 (entry edited)")
        prev_hash, expected_seq = entry.hash, entry.seq + 1
    head = db.get(AuditHead, 1)
    if head is None:
        problems.append("审计链头记录缺失 (audit head missing)")
    else:
        if head.seq != expected_seq - 1:
            problems.append(
                f"链头记录为第 {head.seq} 条，但日志只到第 {expected_seq - 1} 条 (newest entries deleted)"
            )
        elif head.hash != prev_hash:
            problems.append("链头哈希与最后一条记录不符 (last entry replaced)")
    return ChainReport(entries=count, problems=problems)
