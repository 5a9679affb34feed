"""Registry tables for the transparency log (RFC 9162 Merkle tree, see :mod:`sync.merkle`).

``log_state`` is one row: the tree size and its frontier (the right edge of the tree). Every
append locks that row first (an UPDATE, which takes a row lock on PostgreSQL and the write lock
on SQLite), so appends from several gunicorn workers are serialised by the database and each
sees the size the previous one committed. ``log_node`` keeps every complete perfect subtree,
enough to compute any root, inclusion or consistency proof; ``log_leaf`` keeps each leaf's data
so that ``registry log verify`` can recompute the whole tree; ``tree_head`` keeps every signed
tree head the registry has handed out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, LargeBinary
from sqlmodel import Field

from sync.registry.models_common import RegistryModel, UTCDateTime, utcnow


class LogState(RegistryModel, table=True):
    __tablename__ = "log_state"

    id: int = Field(default=1, primary_key=True)
    tree_size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    frontier: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class LogNode(RegistryModel, table=True):
    """Hash of the perfect subtree ``(level, idx)``: leaves idx·2^level … (idx+1)·2^level − 1."""

    __tablename__ = "log_node"

    level: int = Field(primary_key=True)
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogLeaf(RegistryModel, table=True):
    """One leaf: ``data`` is the RFC 8785 JSON the leaf hash covers (see docs/sync-protocol.md)."""

    __tablename__ = "log_leaf"

    leaf_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    kind: str = Field(max_length=16)  # certificate | revocation
    number: str = Field(max_length=22, index=True)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class TreeHeadRow(RegistryModel, table=True):
    """A signed tree head (one per push that appended, and per operator revocation)."""

    __tablename__ = "tree_head"

    tree_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    timestamp_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    key_id: str = Field(max_length=32)
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
