"""The station's own signing keys (Ed25519), private halves encrypted at rest."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from station.models.common import utcnow


class StationKey(SQLModel, table=True):
    __tablename__ = "station_key"

    kid: str = Field(primary_key=True, max_length=40)
    public_pem: str
    private_pem: str  # PKCS#8, encrypted with the instance passphrase
    not_before: datetime = Field(default_factory=utcnow)
    not_after: datetime | None = None  # set when the key is rotated out
    active: bool = True
