"""The registry's append-only, hash-chained audit log (:mod:`sync.registry.services.audit`).

Who did what that matters, and why: stations added and enrolled, keys rotated, certificates
revoked (by an operator or a station), messages sent, bank releases published, operators added,
the root key made. The database refuses to change or delete an entry (a trigger on PostgreSQL
and on SQLite); ``registry audit verify`` walks the chain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field

from sync.registry.models_common import RegistryModel, UTCDateTime, utcnow


class AuditEntry(RegistryModel, table=True):
    __tablename__ = "audit_entry"

    seq: int = Field(primary_key=True)  # dense (1, 2, 3 …): a gap means a deleted entry
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(max_length=64)  # "operator:<username>", "station:<code>", "cli", …
    action: str = Field(max_length=64, index=True)  # "certificate.revoke", "station.add", …
    subject: str = Field(default="", max_length=200)  # "certificate:<number>", "station:<code>"
    reason: str = ""
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(RegistryModel, table=True):
    """The chain's tip in a row of its own: every append locks it (appends are serialised across
    gunicorn workers) and writes it, so deleting the newest entries is detected."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default="0" * 64, max_length=64)
