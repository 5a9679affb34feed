"""The station's Ed25519 signing keys, created at ``station init``."""

from __future__ import annotations

from sqlmodel import Session, select

from certs import keys
from station.models import StationKey
from station.services import audit


def active_key(db: Session) -> StationKey | None:
    return db.exec(select(StationKey).where(StationKey.active)).first()


def ensure_key(db: Session, *, actor: str, passphrase: str) -> tuple[StationKey, bool]:
    """Return the active key, creating the first one if there is none (True when created)."""
    existing = active_key(db)
    if existing is not None:
        return existing, False
    private = keys.generate()
    public = private.public_key()
    row = StationKey(
        kid=keys.key_id(public, prefix="st-"),
        public_pem=keys.public_pem(public),
        private_pem=keys.encrypted_private_pem(private, passphrase),
    )
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="key.create", subject=f"key:{row.kid}")
    return row, True
