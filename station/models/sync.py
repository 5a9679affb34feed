"""Sync with the provincial registry: the transactional outbox, the link to the registry, and
what the station has pulled from it (revocations, messages, bank releases).

See ``docs/sync-protocol.md``. Rows of ``sync_outbox`` are written in the same transaction as
the change they report (a certificate, a sign-off, a revocation request, a key rotation); the
push job sends them in ``seq`` order and records the registry's answer on each. A rejected
record is *parked* with the reason, never deleted.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import JSON, Column, Field, SQLModel

from station.models.common import utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting to be pushed (or re-queued after a retry)
    ACCEPTED = "accepted"  # stored by the registry; receipt kept
    DUPLICATE = "duplicate"  # the registry already had it; the original receipt kept
    REJECTED = "rejected"  # parked with the registry's reason until someone retries it


class OutboxRecord(SQLModel, table=True):
    """One record that must reach the province (``sync.protocol.SyncRecord`` minus the
    signature, which is made when it is pushed, with a key the registry knows)."""

    __tablename__ = "sync_outbox"

    seq: int | None = Field(default=None, primary_key=True)  # outbox order
    id: str = Field(unique=True, index=True, max_length=36)  # the record's uuid4
    kind: str = Field(max_length=32)
    subject: str = Field(default="", max_length=100)  # e.g. "certificate:S0001…", for people
    payload: dict = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime  # UTC, whole seconds: part of the signed record
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, max_length=12, index=True)
    attempts: int = 0  # pushes that carried this record
    next_attempt_at: datetime | None = None  # after a failed push: not before this
    last_error: str = ""  # the last transport error while sending it
    reason: str = ""  # the registry's rejection reason ("code: field: why")
    receipt: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    kid: str = Field(default="", max_length=40)  # the key that signed it when last sent
    sent_at: datetime | None = None  # when the registry last answered for it
    parked_at: datetime | None = None
    retried_by: str = Field(default="", max_length=64)  # who re-queued it after parking


class SyncState(SQLModel, table=True):
    """The station's link to the registry (one row, id 1): where it is, how to trust it, how
    far the feed has been read, and how the last attempts went."""

    __tablename__ = "sync_state"

    id: int = Field(default=1, primary_key=True)
    registry_url: str = Field(default="", max_length=500)
    station_code: str = Field(default="", max_length=64)  # as enrolled
    root_kid: str = Field(default="", max_length=40)
    root_public_pem: str = ""
    trust_list: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # signed
    trust_list_issued_at: datetime | None = None
    known_kids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    enrolled_at: datetime | None = None
    feed_cursor: str = Field(default="", max_length=200)
    clock_offset: float = 0.0  # seconds the registry's clock is ahead of ours
    offset_measured_at: datetime | None = None
    last_push_at: datetime | None = None  # last push that got an answer
    last_pull_at: datetime | None = None  # last feed read that got an answer
    last_success_at: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    push_failures: int = 0  # consecutive failed pushes (network, 5xx, refused request)
    push_backoff_until: datetime | None = None
    pull_failures: int = 0
    pull_backoff_until: datetime | None = None


class RegistryRevocation(SQLModel, table=True):
    """A revocation announced in the registry's feed: the offline verifier honours it."""

    __tablename__ = "sync_registry_revocation"

    number: str = Field(primary_key=True, max_length=22)
    revoked_at: datetime
    reason: str
    origin: str = Field(default="", max_length=64)  # "operator" or "station"
    feed_seq: int
    received_at: datetime = Field(default_factory=utcnow)


class RegistryMessage(SQLModel, table=True):
    """A message from the provincial operator, shown on the console's sync page."""

    __tablename__ = "sync_registry_message"

    feed_seq: int = Field(primary_key=True)
    title: str
    body: str
    sent_at: datetime | None = None
    received_at: datetime = Field(default_factory=utcnow)


class BankReleaseStatus(StrEnum):
    PENDING = "pending"  # announced; to be downloaded and imported
    IMPORTED = "imported"
    FAILED = "failed"  # tried; retried with backoff (e.g. once the issuer's key is trusted)


class RegistryBankRelease(SQLModel, table=True):
    """An item-bank release announced in the feed, and how importing it went."""

    __tablename__ = "sync_bank_release"

    feed_seq: int = Field(primary_key=True)
    bank: str = Field(max_length=64)
    version: str = Field(max_length=64)
    package_url: str = Field(max_length=2000)
    sha256: str = Field(max_length=64)
    release_code: str = ""  # kept only until the package is imported and unlocked
    status: BankReleaseStatus = Field(default=BankReleaseStatus.PENDING, max_length=12)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    error: str = ""
    imported_at: datetime | None = None
    received_at: datetime = Field(default_factory=utcnow)
