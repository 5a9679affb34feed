"""Registry tables for what stations push: sync records, certificates, revocations, summaries.

Personal data: the registry never keeps a full ID number. A certificate row holds the number's
keyed hash (``id_hash``, HMAC-SHA256 with the instance's ``ID_HASH_SECRET``) for lookups and its
masked form for display; the stored copy of the signed record has ``id_number`` replaced by the
masked form, so the signature no longer verifies against it. What was signed is pinned instead
by ``record_sha256``: SHA-256 of the original record's RFC 8785 bytes (the signed bytes without
the signing context), computed before the ID number was dropped. The sync record's stored payload
is the same masked copy.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field

from sync.registry.models_common import RegistryModel, UTCDateTime, utcnow


def _ts(*, nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class SyncRecord(RegistryModel, table=True):
    """One accepted record from a station's outbox, stored once forever under its uuid.

    ``content_sha256`` is SHA-256 of JCS({id, kind, created_at, payload}) as received (what the
    station signed): a resend with the same id is a duplicate when it matches, a conflict when
    not. ``receipt`` is what the station was told the first time; duplicates get it again.
    """

    __tablename__ = "sync_record"

    id: str = Field(primary_key=True, max_length=36)
    station_id: int = Field(foreign_key="station.id", index=True)
    kind: str = Field(max_length=32, index=True)
    created_at: datetime = Field(sa_column=_ts())  # the station's clock
    received_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))
    batch: str | None = Field(default=None, max_length=36)
    kid: str = Field(max_length=32)
    content_sha256: str = Field(max_length=64)
    payload: dict = Field(sa_column=Column(JSON, nullable=False))  # ID numbers masked
    receipt: dict = Field(sa_column=Column(JSON, nullable=False))


class Certificate(RegistryModel, table=True):
    """A certificate as recorded by the registry: the verify page and lookups read this."""

    __tablename__ = "certificate"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=22)
    station_id: int = Field(foreign_key="station.id", index=True)
    record_id: str = Field(foreign_key="sync_record.id", unique=True, max_length=36)
    kid: str = Field(max_length=32)
    holder_name: str = Field(max_length=50, index=True)
    id_type: str = Field(max_length=32)
    id_hash: str = Field(max_length=64, index=True)  # HMAC-SHA256(ID_HASH_SECRET, number)
    id_masked: str = Field(max_length=32)
    occupation: str = Field(max_length=200)
    occupation_code: str = Field(max_length=32)
    direction: str = Field(max_length=200)
    level: str = Field(max_length=20)
    level_digit: int
    issuer: str = Field(max_length=200)
    issue_date: date = Field(index=True)
    programme_code: str = Field(max_length=64, index=True)
    programme_name: str = Field(max_length=200)
    session_code: str = Field(max_length=32)
    theory_score: float | None = None
    practical_score: float | None = None
    review_score: float | None = None
    photo_sha256: str | None = Field(default=None, max_length=64)
    record: dict = Field(sa_column=Column(JSON, nullable=False))  # SignedRecord, ID masked
    record_sha256: str = Field(max_length=64)  # SHA-256 of the original record's JCS bytes
    token: str  # the QR token (carries only the masked ID)
    accepted_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    leaf_index: int = Field(unique=True)


class Revocation(RegistryModel, table=True):
    """A revoked certificate (one row per certificate), by an operator or the issuing station."""

    __tablename__ = "revocation"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=22)
    certificate_id: int = Field(foreign_key="certificate.id", unique=True)
    reason: str = Field(max_length=500)
    revoked_at: datetime = Field(sa_column=_ts())
    origin: str = Field(max_length=16)  # operator | station
    actor: str = Field(max_length=64)  # operator username or station code
    record_id: str | None = Field(default=None, foreign_key="sync_record.id", max_length=36)
    leaf_index: int = Field(unique=True)
    feed_seq: int


class ResultSummary(RegistryModel, table=True):
    """A signed-off session's outcome counts (for the province's yearly statistics)."""

    __tablename__ = "result_summary"

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(foreign_key="sync_record.id", unique=True, max_length=36)
    station_id: int = Field(foreign_key="station.id", index=True)
    session_code: str = Field(max_length=64)
    programme_code: str = Field(max_length=64, index=True)
    level: str = Field(max_length=20)
    signed_off_at: datetime = Field(sa_column=_ts(index=True))
    candidates: int
    passed: int
    city: str = Field(max_length=64)
    by_outcome: dict = Field(sa_column=Column(JSON, nullable=False))
