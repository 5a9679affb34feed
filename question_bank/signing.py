"""Issuer keys: the Ed25519 keys an issuing organisation (培训评价组织) signs bank packages with.

An issuer keeps an :class:`IssuerKey` (key id + private key, encrypted at rest with a
passphrase); a station keeps :class:`TrustedIssuers`, the public keys it accepts, by key id.
The key id travels in every package signature, so an issuer can rotate keys and a station
can trust old and new keys side by side.

The private PEM written by :meth:`IssuerKey.private_pem` is a standard PKCS#8 PEM block
preceded by one ``Key-Id: <kid>`` line, so that the kid is kept with the key; OpenSSL and
``cryptography`` skip text before ``-----BEGIN``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.bindings import crypto_core_ed25519_is_valid_point

from question_bank.errors import PackageError

KID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_KID_LINE = re.compile(r"^Key-Id:\s*(\S+)\s*$", re.MULTILINE)


class IssuerKeyError(PackageError):
    """An issuer key could not be loaded or is not acceptable."""


def key_id_for(public: Ed25519PublicKey, prefix: str = "iss-") -> str:
    """The default key id of a public key: ``prefix`` + 10 base32 characters of its SHA-256.

    The same rule as ``certs.keys.key_id``, so a station that registers an issuer key without
    naming a kid derives the same one.
    """
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return prefix + base64.b32encode(hashlib.sha256(raw).digest()).decode()[:10].lower()


def check_kid(kid: str) -> str:
    if not isinstance(kid, str) or not KID_PATTERN.match(kid):
        raise IssuerKeyError(
            f"密钥编号 {kid!r} 无效：只能用字母、数字和 . _ : -，最长 64 个字符 (invalid key id)"
        )
    return kid


def _passphrase(passphrase: bytes | str | None) -> bytes | None:
    if passphrase is None or passphrase == b"" or passphrase == "":
        return None
    return passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)


@dataclass(frozen=True)
class IssuerKey:
    """An issuer's signing key and its key id (kid)."""

    kid: str
    private: Ed25519PrivateKey

    def __post_init__(self) -> None:
        check_kid(self.kid)

    @classmethod
    def generate(cls, kid: str | None = None) -> IssuerKey:
        private = Ed25519PrivateKey.generate()
        return cls(kid or key_id_for(private.public_key()), private)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private.public_key()

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)

    def public_pem(self) -> str:
        """The public key as a plain SubjectPublicKeyInfo PEM (give it to stations)."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def private_pem(self, passphrase: bytes | str | None) -> str:
        """``Key-Id:`` line + PKCS#8 PEM, encrypted when a passphrase is given (it should be)."""
        secret = _passphrase(passphrase)
        encryption = (
            serialization.BestAvailableEncryption(secret)
            if secret
            else serialization.NoEncryption()
        )
        pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ).decode()
        return f"Key-Id: {self.kid}\n{pem}"

    @classmethod
    def load(
        cls, pem: str | bytes, passphrase: bytes | str | None = None, kid: str | None = None
    ) -> IssuerKey:
        """Load a key written by :meth:`private_pem` (or any Ed25519 PKCS#8 PEM).

        The kid comes from ``kid`` if given, else from the ``Key-Id:`` line, else it is
        derived from the public key (:func:`key_id_for`).
        """
        text = pem.decode("utf-8", "replace") if isinstance(pem, bytes) else pem
        try:
            private = serialization.load_pem_private_key(text.encode(), _passphrase(passphrase))
        except TypeError as exc:
            raise IssuerKeyError(
                "发布机构私钥已加密，需要口令；或未加密却给了口令 (passphrase missing or not expected)"
            ) from exc
        except ValueError as exc:
            raise IssuerKeyError(
                "发布机构私钥无法读取：口令错误或文件已损坏 (wrong passphrase or damaged key)"
            ) from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise IssuerKeyError("不是 Ed25519 私钥 (not an Ed25519 key)")
        if kid is None:
            found = _KID_LINE.search(text.split("-----BEGIN", 1)[0])
            kid = found.group(1) if found else key_id_for(private.public_key())
        return cls(kid, private)


def load_public(pem: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; :class:`IssuerKeyError` if it is anything else."""
    raw = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError) as exc:
        raise IssuerKeyError("无法读取发布机构公钥 PEM (not a PEM public key)") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise IssuerKeyError("不是 Ed25519 公钥 (not an Ed25519 key)")
    if not crypto_core_ed25519_is_valid_point(key.public_bytes_raw()):
        # A small-order key (the identity, say) lets a forged signature verify for any package.
        raise IssuerKeyError(
            "不是可用的 Ed25519 公钥：小阶点或非规范编码 (small-order or non-canonical key)"
        )
    return key


@dataclass(frozen=True)
class TrustedKey:
    kid: str
    public: Ed25519PublicKey
    issuer_code: str | None = None  # when set, packages signed by this key must name this issuer

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.public.verify(signature, data)
        except InvalidSignature:
            return False
        return True


class TrustedIssuers(Mapping[str, TrustedKey]):
    """The issuer public keys a station accepts, by key id."""

    def __init__(self, keys: Mapping[str, TrustedKey] | None = None):
        self._keys: dict[str, TrustedKey] = dict(keys or {})

    @classmethod
    def from_pems(cls, pems: Mapping[str, str | bytes | Mapping]) -> TrustedIssuers:
        """Build from ``{kid: pem}`` or ``{kid: {"pem": ..., "issuer_code": ...}}``."""
        trusted = cls()
        for kid, value in pems.items():
            if isinstance(value, Mapping):
                pem, code = value["pem"], value.get("issuer_code") or None
            else:
                pem, code = value, None
            try:
                public = load_public(pem)
            except IssuerKeyError as exc:
                raise IssuerKeyError(f"受信任的发布机构密钥 {kid}: {exc}") from None
            trusted.add(kid, public, issuer_code=code)
        return trusted

    def add(self, kid: str, public: Ed25519PublicKey, *, issuer_code: str | None = None) -> None:
        self._keys[check_kid(kid)] = TrustedKey(kid, public, issuer_code)

    def __getitem__(self, kid: str) -> TrustedKey:
        return self._keys[kid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"TrustedIssuers({sorted(self._keys)})"
