"""The append-only, hash-chained audit log.

Each entry's hash covers its own fields and the previous entry's hash, so editing any row
breaks the chain from there on; ``seq`` is dense, so deleting a row leaves a gap; and the
chain's tip is kept in ``audit_head`` in the same transaction, so deleting the newest rows is
caught too.
"""

from __future__ import annotations

from sqlmodel import Session, select

from station.models import AuditEntry, AuditHead
from station.models.common import utcnow
from sync.audit_chain import GENESIS, ChainReport, append, check_chain

__all__ = ["GENESIS", "ChainReport", "record", "verify"]


def record(db: Session, *, actor: str, action: str, subject: str = "", reason: str = "",
           data: dict | None = None) -> AuditEntry:  # fmt: skip
    """Append an entry in the caller's transaction."""
    return append(db, AuditEntry, at=utcnow(), actor=actor, action=action, subject=subject,
                  reason=reason, data=data)  # fmt: skip


def verify(db: Session) -> ChainReport:
    """Walk the whole chain and report every break: edited, deleted or reordered rows."""
    head = db.get(AuditHead, 1)
    return check_chain(db.exec(select(AuditEntry).order_by(AuditEntry.seq)),
                        None if head is None else (head.seq, head.hash))  # fmt: skip
