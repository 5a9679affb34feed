"""Helpers shared by the model modules."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Aware UTC: the station stores UTC everywhere and shows Asia/Shanghai."""
    return datetime.now(UTC)
