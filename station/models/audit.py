"""The append-only, hash-chained audit log."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import JSON, Column, Field, SQLModel

from station.models.common import utcnow


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"

    # seq is dense (1, 2, 3, ...): a gap means a deleted row.
    seq: int = Field(primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=64)  # username, or "system" / "cli:<user>" for jobs and the shell
    action: str = Field(max_length=64, index=True)
    subject: str = Field(default="", max_length=200)  # "bank:IRAP-M", "user:zhang", ...
    reason: str = ""
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's tip, kept in its own row so that deleting the newest entries is detected."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default="0" * 64, max_length=64)
