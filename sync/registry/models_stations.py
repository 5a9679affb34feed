"""Registry tables for trust: the root key, stations, enrollment tokens, station keys, nonces."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field

from sync.registry.models_common import RegistryModel, UTCDateTime, utcnow


def _ts(*, nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class RootKey(RegistryModel, table=True):
    """The provincial root key (Ed25519). Signs trust lists and the log's tree heads.

    The private half is PKCS#8 PEM encrypted with the instance passphrase (instance config
    ``ROOT_KEY_PASSPHRASE`` or the ``REGISTRY_KEY_PASSPHRASE`` environment variable): a copy of
    the database alone does not give the key away. Exactly one row is ``active``.
    """

    __tablename__ = "root_key"

    id: int | None = Field(default=None, primary_key=True)
    kid: str = Field(unique=True, max_length=32)
    public_pem: str
    private_pem: str  # encrypted PKCS#8
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Station(RegistryModel, table=True):
    """An exam station (考核站点) known to the province. ``code`` is its 6-digit site code."""

    __tablename__ = "station"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=64)
    name: str = Field(max_length=100)
    city: str = Field(max_length=50)
    status: str = Field(default="pending", max_length=16)  # pending | enrolled | suspended
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    enrolled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_seen_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class EnrollmentToken(RegistryModel, table=True):
    """A one-time enrollment token: only its SHA-256 is kept; single use, 7-day expiry."""

    __tablename__ = "enrollment_token"

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True)
    token_sha256: str = Field(unique=True, max_length=64)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class StationKeyRow(RegistryModel, table=True):
    """A station's signing key and the dates (inclusive, Asia/Shanghai) it may sign for."""

    __tablename__ = "station_key"

    id: int | None = Field(default=None, primary_key=True)
    kid: str = Field(unique=True, max_length=32)
    station_id: int = Field(foreign_key="station.id", index=True)
    public_key: str = Field(max_length=64)  # 32 raw bytes, base64url without padding
    valid_from: date
    valid_until: date | None = None
    source: str = Field(max_length=16)  # enroll | rotation
    endorsed_by: str | None = Field(default=None, max_length=32)
    added_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class RequestNonce(RegistryModel, table=True):
    """A ``(keyid, nonce)`` pair of a signed request already seen: the primary key makes a
    replay fail in every worker at once. Rows older than the replay window are purged."""

    __tablename__ = "request_nonce"
    __table_args__ = (
        UniqueConstraint("keyid", "nonce", name="uq_request_nonce"),
        Index("ix_request_nonce_seen_at", "seen_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    keyid: str = Field(max_length=32)
    nonce: str = Field(max_length=64)
    seen_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
