"""Registry tables."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class Operator(SQLModel, table=True):
    """A provincial operator: enrolls stations, publishes bank releases, revokes certificates."""

    __tablename__ = "operator"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    display_name: str = Field(max_length=100)
    password_hash: str
    active: bool = True
    created_at: datetime = Field(default_factory=_now)
