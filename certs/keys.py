"""Ed25519 signing keys: generation, key ids, private keys encrypted at rest, and the one
signature check every verifier here uses (:func:`verify`)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.bindings import crypto_core_ed25519_is_valid_point, crypto_sign_BYTES, crypto_sign_open
from nacl.exceptions import BadSignatureError

_BYTES = (bytes, bytearray, memoryview)


class KeyLoadError(Exception):
    """A key could not be loaded: wrong passphrase, or not an Ed25519 key."""


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verify(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> None:
    """Check ``signature`` over ``message``; raise :class:`InvalidSignature` if it is not
    ``public_key``'s (``TypeError`` if either is not bytes-like), as ``public_key.verify`` does.

    The check is libsodium's (PyNaCl): about twice as fast as OpenSSL's here, which counts at the
    registry (three checks per pushed certificate), and stricter. Besides RFC 8032's checks it
    refuses small-order keys and ``R`` values, so no signature verifies for every message (OpenSSL
    takes ``R`` = identity, ``S`` = 0 under the identity key as valid for anything). Whatever it
    accepts, OpenSSL accepts too. Keys are also checked where they come in
    (:func:`public_key_from_raw`, :func:`load_public_pem`), so no such key is ever trusted, and
    the checks left to OpenSSL (RFC 9421 request signatures) are as safe.
    """
    if not isinstance(signature, _BYTES) or not isinstance(message, _BYTES):
        raise TypeError("signature and message must be bytes")
    if len(signature) != crypto_sign_BYTES:  # crypto_sign_open reads signature ‖ message
        raise InvalidSignature
    try:
        crypto_sign_open(bytes(signature) + message, public_key.public_bytes_raw())
    except BadSignatureError:
        raise InvalidSignature from None


def public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    """The Ed25519 public key of 32 raw bytes, if it is one a signer can really hold: a
    canonical encoding of a point of the prime-order subgroup (libsodium's check). Else
    :class:`KeyLoadError`: a small-order key (the identity, say) would make forged signatures
    verify for any message in OpenSSL's check."""
    if not isinstance(raw, bytes) or len(raw) != 32:
        raise KeyLoadError("Ed25519 公钥应为 32 字节 (expected 32 bytes)")
    if not crypto_core_ed25519_is_valid_point(raw):
        raise KeyLoadError(
            "不是可用的 Ed25519 公钥：小阶点或非规范编码，签名无法证明持有者 "
            "(small-order or non-canonical key)"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(key: Ed25519PublicKey, prefix: str = "") -> str:
    """A short, stable id for a public key: ``prefix`` + 10 base32 characters of its SHA-256."""
    digest = hashlib.sha256(public_bytes(key)).digest()
    return prefix + base64.b32encode(digest).decode()[:10].lower()


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def encrypted_private_pem(key: Ed25519PrivateKey, passphrase: str) -> str:
    """PKCS#8 PEM encrypted with the best scheme ``cryptography`` offers for the passphrase."""
    if not passphrase:
        raise ValueError("a passphrase is required to store a private key")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()


def load_private_pem(pem: str, passphrase: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), passphrase.encode())
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(
            "私钥无法解密：口令错误或文件已损坏 (wrong passphrase or damaged key)"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyLoadError("不是 Ed25519 私钥 (not an Ed25519 key)")
    return key


def load_public_pem(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise KeyLoadError("不是 Ed25519 公钥 (not an Ed25519 key)")
    return public_key_from_raw(key.public_bytes_raw())
