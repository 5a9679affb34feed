"""Column types shared by the registry's model modules."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel


def utcnow() -> datetime:
    """Aware UTC: the registry stores UTC everywhere and shows Asia/Shanghai."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL keeps the zone (``timestamptz``); SQLite drops it, so values are normalised to
    UTC on the way in and made aware again on the way out. Naive datetimes are refused: every
    timestamp the registry writes must say it is UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime: naive datetime refused (use an aware UTC value)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class RegistryModel(SQLModel, registry=registry()):
    """Base of every registry table. The registry's tables live in a metadata of their own, apart
    from the station's (both have a ``certificate`` table), so the two apps — and their tests —
    can be imported into one interpreter."""
