"""The provincial root key (Ed25519, kid ``rg-…``): made once by ``registry init``.

It signs the trust list and the transparency log's tree heads. The private half is stored in
the ``root_key`` table as PKCS#8 PEM encrypted with a passphrase that lives elsewhere — the
instance config (``ROOT_KEY_PASSPHRASE``, written by ``registry init``) or the
``REGISTRY_KEY_PASSPHRASE`` environment variable, which wins — so a database dump alone does not
give the key away, and every gunicorn worker (on any machine) finds the same key.

Decrypting the PEM is deliberately slow (a password KDF), so a decrypted key is cached per
process, keyed by the encrypted PEM and the passphrase.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session, col, select

from certs import keys as key_tools
from sync.registry.models import RootKey
from sync.registry.services import audit

KID_PREFIX = "rg-"
PASSPHRASE_ENV = "REGISTRY_KEY_PASSPHRASE"
MIN_PASSPHRASE = 12

_cache: dict[tuple[str, str], Ed25519PrivateKey] = {}


class RootKeyError(Exception):
    """No root key yet, a missing or wrong passphrase, or a damaged key."""


@dataclass(frozen=True)
class RootSigner:
    """The active root key, decrypted: what signs trust lists and tree heads."""

    kid: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_pem(self) -> str:
        return key_tools.public_pem(self.public_key)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


def passphrase_from(config: Mapping) -> str:
    """The passphrase: ``$REGISTRY_KEY_PASSPHRASE``, else the config's ``ROOT_KEY_PASSPHRASE``."""
    value = os.environ.get(PASSPHRASE_ENV) or config.get("ROOT_KEY_PASSPHRASE") or ""
    if not value:
        raise RootKeyError(
            f"根密钥口令未配置：请设置环境变量 {PASSPHRASE_ENV} 或在实例配置中写入 "
            "ROOT_KEY_PASSPHRASE (no root key passphrase configured)"
        )
    return value


def active_root_key(session: Session) -> RootKey:
    row = session.exec(select(RootKey).where(col(RootKey.active).is_(True))).first()
    if row is None:
        raise RootKeyError("尚未生成根密钥：请先运行 `registry init` (no root key yet)")
    return row


def create_root_key(session: Session, *, passphrase: str) -> tuple[RootKey, bool]:
    """The active root key, made now if there is none. Returns ``(row, created)``."""
    existing = session.exec(select(RootKey).where(col(RootKey.active).is_(True))).first()
    if existing is not None:
        return existing, False
    if len(passphrase) < MIN_PASSPHRASE:
        raise RootKeyError(f"根密钥口令至少 {MIN_PASSPHRASE} 个字符 (passphrase too short)")
    private = key_tools.generate()
    public = private.public_key()
    row = RootKey(
        kid=key_tools.key_id(public, KID_PREFIX),
        public_pem=key_tools.public_pem(public),
        private_pem=key_tools.encrypted_private_pem(private, passphrase),
    )
    session.add(row)
    session.flush()
    audit.record(session, actor="registry init", action="root_key.create",
                 subject=f"root_key:{row.kid}")  # fmt: skip
    return row, True


def load_signer(session: Session, *, passphrase: str) -> RootSigner:
    """The active root key, decrypted with ``passphrase`` (cached per process)."""
    row = active_root_key(session)
    cache_key = (row.private_pem, hashlib.sha256(passphrase.encode()).hexdigest())
    private = _cache.get(cache_key)
    if private is None:
        try:
            private = key_tools.load_private_pem(row.private_pem, passphrase)
        except key_tools.KeyLoadError as exc:
            raise RootKeyError(f"根密钥 {row.kid} 无法解密：{exc}") from exc
        if key_tools.key_id(private.public_key(), KID_PREFIX) != row.kid:
            raise RootKeyError(f"根密钥 {row.kid} 与其公钥不符 (root key damaged)")
        _cache[cache_key] = private
    return RootSigner(kid=row.kid, private_key=private)


def root_public(session: Session) -> tuple[str, Ed25519PublicKey]:
    """``(kid, public key)`` of the active root key: enough to check its signatures."""
    row = active_root_key(session)
    return row.kid, key_tools.load_public_pem(row.public_pem)
