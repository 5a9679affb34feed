"""The append-only, hash-chained audit log.

Each entry's hash covers its own fields and the previous entry's hash, so editing any row
breaks the chain from there on; ``seq`` is dense, so deleting a row leaves a gap; and the
chain's tip is kept in ``audit_head`` in the same transaction, so deleting the newest rows is
caught too.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session, select

from station.models import AuditEntry, AuditHead
from station.models.common import utcnow
from sync.audit_chain import GENESIS, ChainReport, check_chain, digest, plain_data

__all__ = ["GENESIS", "ChainReport", "record", "verify"]


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
    data = plain_data(data)
    entry_hash = digest(prev_hash, seq, at, actor, action, subject, reason, data)
    entry = AuditEntry(seq=seq, at=at, actor=actor, action=action, subject=subject,
                       reason=reason, data=data, prev_hash=prev_hash, hash=entry_hash)  # fmt: skip
    db.add(entry)
    db.connection().execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"),
                            {"h": entry_hash})  # fmt: skip
    db.flush()
    return entry


def verify(db: Session) -> ChainReport:
    """Walk the whole chain and report every break: edited, deleted or reordered rows."""
    head = db.get(AuditHead, 1)
    return check_chain(db.exec(select(AuditEntry).order_by(AuditEntry.seq)),
                        None if head is None else (head.seq, head.hash))  # fmt: skip
