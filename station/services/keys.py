"""The station's Ed25519 signing keys, created at ``station init``."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session, select

from certs import keys
from station.models import StationKey
from station.services import audit
from station.services.errors import DomainError


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


def signer(db: Session, *, passphrase: str) -> tuple[str, Ed25519PrivateKey]:
    """The active key id and private key, unlocked with the instance passphrase."""
    row = active_key(db)
    if row is None:
        raise DomainError("站点没有签名密钥：请先运行 `station init`")
    try:
        return row.kid, keys.load_private_pem(row.private_pem, passphrase)
    except keys.KeyLoadError as exc:
        raise DomainError(f"无法解锁站点签名密钥：{exc}") from None


def public_keys(db: Session) -> dict[str, Ed25519PublicKey]:
    """Every key this station ever used, so that what an old key signed keeps verifying."""
    return {row.kid: keys.load_public_pem(row.public_pem) for row in db.exec(select(StationKey))}
