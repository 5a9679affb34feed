"""The cryptography of bank packages: file encryption, release codes and content-key wrapping.

See ``docs/bank-package.md`` for the byte-level description; this module is its reference
implementation, and :mod:`question_bank.package` uses it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from question_bank.errors import PackageError

FORMAT = "skillcert-bank/1"
CIPHER = "AES-256-GCM"
KEY_BYTES = 32
NONCE_BYTES = 12
WRAP_ALG = "X25519-HKDF-SHA256-A256GCM"
WRAP_INFO = b"skillcert-bank/1 content-key wrap"
KEY_CHECK_INFO = b"skillcert-bank/1 key check"

# Release codes: Crockford base32 of key (32 bytes) + CRC-24 (3 bytes) = 35 bytes = 56 symbols.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(CROCKFORD)} | {"O": 0, "I": 1, "L": 1}
RELEASE_CODE_SYMBOLS = 56
RELEASE_CODE_GROUP = 4

WRONG_KEY = "解锁码与该题库包不匹配 (the release code does not unlock this package)"


# --- base64url -------------------------------------------------------------------------------


def b64u(data: bytes) -> str:
    """base64url without padding (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise PackageError(f"{what} 不是 base64url 字符串 (not base64url)")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise PackageError(f"{what} 不是有效的 base64url (not base64url)") from exc


# --- file encryption ---------------------------------------------------------------------------


def new_content_key() -> bytes:
    return os.urandom(KEY_BYTES)


def file_aad(bank: str, version: int, name: str) -> bytes:
    """Associated data: binds a ciphertext to its file name and to the bank code and version."""
    return f"{FORMAT}|{bank}|{version}|{name}".encode()


def key_check(key: bytes) -> str:
    """A value that tells a wrong key from a tampered file without revealing the key."""
    return b64u(hmac.new(key, KEY_CHECK_INFO, hashlib.sha256).digest()[:16])


def encrypt_file(
    key: bytes, *, bank: str, version: int, name: str, data: bytes
) -> tuple[bytes, bytes]:
    """``(nonce, ciphertext || tag)`` for one file."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, data, file_aad(bank, version, name))


def decrypt_file(
    key: bytes, *, bank: str, version: int, name: str, nonce: bytes, data: bytes
) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, data, file_aad(bank, version, name))
    except InvalidTag:
        raise PackageError(
            f"文件 {name} 解密失败：密文与题库包 {bank} 版本 {version} 不符，可能被替换或篡改 "
            "(authentication failed)"
        ) from None


def check_content_key(key: bytes, expected_check: str) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise PackageError(WRONG_KEY)
    if not hmac.compare_digest(key_check(bytes(key)), expected_check):
        raise PackageError(WRONG_KEY)


# --- release codes -----------------------------------------------------------------------------


def crc24(data: bytes) -> int:
    """CRC-24 as in OpenPGP (RFC 4880 §6.1): init 0xB704CE, polynomial 0x1864CFB."""
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def release_code_for(key: bytes) -> str:
    """The content key as a release code (解锁码) a person can type: 14 groups of 4 symbols.

    Crockford base32 of ``key || CRC-24(key)``; the checksum catches every single-symbol
    typo, every swap of two neighbouring symbols and any error within 4 consecutive symbols.
    """
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise ValueError("a content key is 32 bytes")
    payload = bytes(key) + crc24(bytes(key)).to_bytes(3, "big")
    number = int.from_bytes(payload, "big")
    symbols = "".join(
        CROCKFORD[(number >> (5 * i)) & 31] for i in reversed(range(RELEASE_CODE_SYMBOLS))
    )
    return "-".join(
        symbols[i : i + RELEASE_CODE_GROUP]
        for i in range(0, RELEASE_CODE_SYMBOLS, RELEASE_CODE_GROUP)
    )


def parse_release_code(code: str) -> bytes:
    """The content key from a release code; :class:`PackageError` ("解锁码校验失败") on a typo.

    Case, spaces and hyphens do not matter; O reads as 0, and I and L as 1.
    """
    text = "".join(ch for ch in str(code).upper() if ch not in " -\t\r\n")
    groups = RELEASE_CODE_SYMBOLS // RELEASE_CODE_GROUP
    if len(text) != RELEASE_CODE_SYMBOLS:
        raise PackageError(
            f"解锁码校验失败：应为 {RELEASE_CODE_SYMBOLS} 个字符（{groups} 组，每组 "
            f"{RELEASE_CODE_GROUP} 个），实际输入了 {len(text)} 个 (wrong length)"
        )
    number = 0
    for position, ch in enumerate(text):
        if ch not in _DECODE:
            group = position // RELEASE_CODE_GROUP + 1
            raise PackageError(
                f"解锁码校验失败：第 {group} 组中的字符 {ch!r} 不是有效字符 (invalid character)"
            )
        number = (number << 5) | _DECODE[ch]
    payload = number.to_bytes(KEY_BYTES + 3, "big")
    key, check = payload[:KEY_BYTES], int.from_bytes(payload[KEY_BYTES:], "big")
    if crc24(key) != check:
        raise PackageError(
            "解锁码校验失败：输入有误，请逐组核对后重新输入 (checksum mismatch: a typo)"
        )
    return key


# --- key wrapping ------------------------------------------------------------------------------


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def recipient_id(public: X25519PublicKey) -> str:
    """Which X25519 key a wrapped key is for: hex of the first 8 bytes of SHA-256(raw key)."""
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def _kek(shared: bytes, epk: bytes, rpk: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + rpk, info=WRAP_INFO)
    return hkdf.derive(shared)


def wrap_content_key(key: bytes, recipient_public: X25519PublicKey, *, context: str = "") -> dict:
    """Encrypt a content key to one recipient (e.g. one station's X25519 key).

    ECDH with a fresh ephemeral key, HKDF-SHA256 to a key-encryption key, AES-256-GCM with
    ``context`` (e.g. ``"IRAP-M/3"``) as associated data. The result is JSON-ready.
    """
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise ValueError("a content key is 32 bytes")
    ephemeral = X25519PrivateKey.generate()
    epk, rpk = _raw(ephemeral.public_key()), _raw(recipient_public)
    kek = _kek(ephemeral.exchange(recipient_public), epk, rpk)
    nonce = os.urandom(NONCE_BYTES)
    return {
        "alg": WRAP_ALG,
        "recipient": recipient_id(recipient_public),
        "context": context,
        "epk": b64u(epk),
        "nonce": b64u(nonce),
        "ct": b64u(AESGCM(kek).encrypt(nonce, bytes(key), context.encode())),
    }


def unwrap_content_key(
    wrapped: dict, recipient_private: X25519PrivateKey, *, expected_context: str | None = None
) -> bytes:
    """The content key from :func:`wrap_content_key`'s output, for the matching private key."""
    if not isinstance(wrapped, dict) or wrapped.get("alg") != WRAP_ALG:
        alg = wrapped.get("alg") if isinstance(wrapped, dict) else None
        raise PackageError(f"不支持的密钥封装算法 {alg!r} (unsupported key wrapping)")
    context = wrapped.get("context", "")
    if not isinstance(context, str):
        raise PackageError("封装的密钥 context 无效 (bad context)")
    if expected_context is not None and context != expected_context:
        raise PackageError(
            f"封装的密钥属于 {context!r}，而不是 {expected_context!r} (wrong context)"
        )
    public = recipient_private.public_key()
    if wrapped.get("recipient") != recipient_id(public):
        raise PackageError(
            "该解锁密钥不是发给本站点的：接收方密钥不符 (wrapped for another recipient)"
        )
    epk = b64u_decode(wrapped.get("epk"), "epk")
    nonce = b64u_decode(wrapped.get("nonce"), "nonce")
    ct = b64u_decode(wrapped.get("ct"), "ct")
    if len(epk) != 32 or len(nonce) != NONCE_BYTES:
        raise PackageError("封装的密钥格式无效 (malformed wrapped key)")
    try:
        shared = recipient_private.exchange(X25519PublicKey.from_public_bytes(epk))
        key = AESGCM(_kek(shared, epk, _raw(public))).decrypt(nonce, ct, context.encode())
    except (InvalidTag, ValueError):
        raise PackageError(
            "封装的密钥无法解开：数据被篡改或不是发给本站点的 (unwrap failed)"
        ) from None
    if len(key) != KEY_BYTES:
        raise PackageError("封装的密钥长度无效 (malformed wrapped key)")
    return key
