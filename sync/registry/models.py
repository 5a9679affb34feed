"""Registry tables. One module per area; this module holds operators and re-exports the rest,
so ``import sync.registry.models`` registers every table (Alembic's env.py relies on that).

- :mod:`sync.registry.models_stations`: root key, stations, enrollment tokens, keys, nonces
- :mod:`sync.registry.models_records`: sync records, certificates, revocations, result summaries
- :mod:`sync.registry.models_log`: the transparency log
- :mod:`sync.registry.models_feed`: the pull feed and bank releases
- :mod:`sync.registry.models_audit`: the audit log
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from sync.registry.models_audit import AuditEntry, AuditHead
from sync.registry.models_common import RegistryModel, utcnow
from sync.registry.models_feed import BankRelease, FeedEvent, FeedState
from sync.registry.models_log import LogLeaf, LogNode, LogState, TreeHeadRow
from sync.registry.models_records import Certificate, ResultSummary, Revocation, SyncRecord
from sync.registry.models_stations import (
    EnrollmentToken,
    RequestNonce,
    RootKey,
    Station,
    StationKeyRow,
)

__all__ = [
    "AuditEntry",
    "AuditHead",
    "BankRelease",
    "Certificate",
    "EnrollmentToken",
    "FeedEvent",
    "FeedState",
    "LogLeaf",
    "LogNode",
    "LogState",
    "Operator",
    "RequestNonce",
    "ResultSummary",
    "Revocation",
    "RootKey",
    "Station",
    "StationKeyRow",
    "SyncRecord",
    "TreeHeadRow",
]


class Operator(RegistryModel, table=True):
    """A provincial operator: enrolls stations, publishes bank releases, revokes certificates."""

    __tablename__ = "operator"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    display_name: str = Field(max_length=100)
    password_hash: str
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
