"""Registry tables for what stations pull: the event feed and bank releases.

Feed sequence numbers are handed out under a row lock on ``feed_state`` (like the log), so a
reader that has seen event ``n`` can never later find a committed event below ``n``: with a
plain database sequence, a slower transaction could commit seq 19 after seq 20 was read and
the station's cursor would skip it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field

from sync.registry.models_common import RegistryModel, UTCDateTime, utcnow


class FeedState(RegistryModel, table=True):
    __tablename__ = "feed_state"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = 0


class FeedEvent(RegistryModel, table=True):
    """One event of the pull feed. ``station_id`` None: for every station."""

    __tablename__ = "feed_event"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    kind: str = Field(max_length=16)  # revocation | trust_list | message | bank_release
    station_id: int | None = Field(default=None, foreign_key="station.id", index=True)
    payload: dict = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class BankRelease(RegistryModel, table=True):
    """A published bank package (题库包) a station downloads; the release code (the content key
    of an encrypted bank) travels only in the feed event for the targeted station."""

    __tablename__ = "bank_release"

    id: int | None = Field(default=None, primary_key=True)
    bank: str = Field(max_length=64, index=True)
    version: int
    name: str = Field(default="", max_length=200)
    programme_code: str = Field(max_length=64)
    level: str = Field(max_length=20)
    encrypted: bool = False
    sha256: str = Field(max_length=64)
    size: int
    package: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    release_code: str | None = Field(default=None, max_length=128)
    station_id: int | None = Field(default=None, foreign_key="station.id", index=True)
    feed_seq: int
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
