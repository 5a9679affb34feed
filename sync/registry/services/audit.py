"""The registry's audit log: append in the caller's transaction, verify the whole chain.

The chain itself (hashing, appending, checking) is :mod:`sync.audit_chain`, shared with the
station. An append first bumps the single ``audit_head`` row: on PostgreSQL that row lock is
held until the caller commits, so appends from several gunicorn workers queue in the database
and never chain onto the same tip.
"""

from __future__ import annotations

from sqlmodel import Session, select

from sync.audit_chain import ChainReport, append, check_chain
from sync.registry.models import AuditEntry, AuditHead
from sync.registry.models_common import utcnow


def record(session: Session, *, actor: str, action: str, subject: str = "", reason: str = "",
           data: dict | None = None) -> AuditEntry:  # fmt: skip
    """Append an entry in the caller's transaction (it commits or rolls back with the change)."""
    return append(session, AuditEntry, at=utcnow(), actor=actor[:64], action=action,
                  subject=subject[:200], reason=reason, data=data)  # fmt: skip


def verify(session: Session) -> ChainReport:
    """Walk the whole chain: every edited, deleted, reordered or replaced entry is reported."""
    head = session.get(AuditHead, 1)
    entries = session.exec(select(AuditEntry).order_by(AuditEntry.seq).execution_options(
        yield_per=1000))  # fmt: skip
    return check_chain(entries, None if head is None else (head.seq, head.hash))


def entries(session: Session, *, action_prefix: str | None = None,
            limit: int = 200) -> list[AuditEntry]:  # fmt: skip
    """The newest entries first, optionally those whose action starts with ``action_prefix``."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)  # type: ignore[union-attr]
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix))  # type: ignore[union-attr]
    return list(session.exec(query))
