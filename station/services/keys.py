"""The station's Ed25519 signing keys, created at ``station init``."""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session, select

from certs import keys
from station.models import StationKey
from station.models.common import utcnow
from station.services import audit
from station.services.errors import DomainError
from sync import outbox


def active_key(db: Session) -> StationKey | None:
    return db.exec(select(StationKey).where(StationKey.active)).first()


def ensure_key(db: Session, *, actor: str, passphrase: str) -> tuple[StationKey, bool]:
    """Return the active key, creating the first one if there is none (True when created)."""
    existing = active_key(db)
    if existing is not None:
        return existing, False
    return _new_key(db, actor=actor, passphrase=passphrase), True


def _new_key(db: Session, *, actor: str, passphrase: str, now: datetime | None = None,
             action: str = "key.create") -> StationKey:  # fmt: skip
    private = keys.generate()
    public = private.public_key()
    row = StationKey(
        kid=keys.key_id(public, prefix="st-"),
        public_pem=keys.public_pem(public),
        private_pem=keys.encrypted_private_pem(private, passphrase),
        not_before=now or utcnow(),
    )
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action=action, subject=f"key:{row.kid}")
    return row


def rotate(db: Session, *, actor: str, passphrase: str, reason: str = "",
           now: datetime | None = None) -> tuple[StationKey, StationKey]:  # fmt: skip
    """Retire the active key (its window closes now) and make a new one. What the old key
    signed inside its window keeps verifying; from now on only the new key signs."""
    now = now or utcnow()
    old = active_key(db)
    if old is None:
        raise DomainError("站点没有签名密钥：请先运行 `station init`")
    _, old_private = signer(db, passphrase=passphrase)  # the passphrase must open it first
    old.active = False
    old.not_after = now
    db.add(old)
    db.flush()
    new = _new_key(db, actor=actor, passphrase=passphrase, now=now, action="key.rotate")
    outbox.station_key(db, old=old, new=new, old_private=old_private)  # tell the registry
    audit.record(db, actor=actor, action="key.retire", subject=f"key:{old.kid}", reason=reason,
                 data={"successor": new.kid})  # fmt: skip
    return old, new


def all_keys(db: Session) -> list[StationKey]:
    return list(db.exec(select(StationKey).order_by(StationKey.not_before)))


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


def load_public(row: StationKey) -> Ed25519PublicKey:
    return keys.load_public_pem(row.public_pem)
