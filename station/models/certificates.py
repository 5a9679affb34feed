"""Certificates the station has issued, the serial counters behind their numbers, and
revocation requests."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import JSON, Column, Field, SQLModel

from station.models.common import utcnow


class CertificateSerial(SQLModel, table=True):
    """The last serial used under one number prefix (everything but the 6-digit serial).

    Taken with an UPSERT … RETURNING inside the issuing transaction: a rollback gives the serial
    back (no gaps), and SQLite's single writer means no two certificates share one.
    """

    __tablename__ = "certificate_serial"

    prefix: str = Field(primary_key=True, max_length=16)
    last: int = 0


class Certificate(SQLModel, table=True):
    __tablename__ = "certificate"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, index=True, max_length=22)
    candidate_id: int = Field(foreign_key="candidate.id", unique=True)
    session_id: int = Field(foreign_key="exam_session.id", index=True)
    result_version: int
    issue_date: date
    kid: str = Field(max_length=40)
    record: dict = Field(sa_column=Column(JSON, nullable=False))  # the signed record, as signed
    signature: str  # base64 Ed25519 over the record's RFC 8785 canonical form
    token: str  # the QR token (base32)
    issued_by: str = Field(max_length=64)
    issued_at: datetime = Field(default_factory=utcnow)


class Revocation(SQLModel, table=True):
    """A revocation the station asked for. Honoured by its own verifier at once; sent to the
    registry by sync."""

    __tablename__ = "certificate_revocation"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, index=True, max_length=22)
    reason: str
    requested_by: str = Field(max_length=64)
    requested_at: datetime = Field(default_factory=utcnow)
    synced_at: datetime | None = None
