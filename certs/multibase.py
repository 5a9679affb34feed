"""Base58btc, multibase, unsigned varints, Ed25519 Multikey values and did:key.

The W3C Data Integrity suites and ``did:key`` write keys and signatures in the multiformats
family of encodings, which are small enough to implement here instead of adding a dependency:

- **base58btc** — the Bitcoin alphabet (no ``0``, ``O``, ``I``, ``l``). Each leading zero byte
  becomes a leading ``1``; the rest is the big-endian number written in base 58. Exactly one
  spelling decodes to a given byte string.
- **multibase** — one prefix character naming the base, then the encoded bytes. Only ``z``
  (base58btc) is accepted: it is the only base the EdDSA cryptosuites allow.
- **unsigned varint** — LEB128 as the multiformats spec defines it: 7 bits per byte, low
  group first, at most 9 bytes, minimal encoding only.
- **Multikey** — a multicodec varint naming the key type, then the raw key, in multibase.
  Ed25519 public keys use codec ``0xed`` (bytes ``ed 01``, so every value starts ``z6Mk``);
  Ed25519 private keys (the 32-byte seed) use ``0x1300`` (bytes ``80 26``, values start
  ``z3u2``). A private key value must never be published; the decoders name it when one turns
  up where a public key was expected.
- **did:key** — ``did:key:`` + an Ed25519 public Multikey; its one verification method is
  ``did:key:z6Mk…#z6Mk…``. Resolving it needs no network.

Every decoder raises :class:`MultibaseError` with the reason. A pure library module.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "BASE58_ALPHABET",
    "DID_KEY_PREFIX",
    "ED25519_PRIV",
    "ED25519_PUB",
    "DidKeyError",
    "MultibaseError",
    "b58decode",
    "b58encode",
    "decode_multikey",
    "did_key_from_public",
    "encode_multikey",
    "multibase_decode",
    "multibase_encode",
    "private_key_from_multibase",
    "private_key_multibase",
    "public_key_from_multibase",
    "public_from_did_key",
    "public_key_multibase",
    "varint_decode",
    "varint_encode",
    "verification_method_for",
]

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {char: index for index, char in enumerate(BASE58_ALPHABET)}

#: Multicodec codes (https://github.com/multiformats/multicodec, table.csv).
ED25519_PUB = 0xED
ED25519_PRIV = 0x1300
_CODEC_NAMES = {
    ED25519_PUB: "ed25519-pub",
    ED25519_PRIV: "ed25519-priv",
    0xEC: "x25519-pub",
    0xE7: "secp256k1-pub",
    0x1200: "p256-pub",
    0x1201: "p384-pub",
    0xEB: "bls12_381-g2-pub",
}
_MAX_VARINT_BYTES = 9
DID_KEY_PREFIX = "did:key:"
_ED25519_KEY_SIZE = 32


class MultibaseError(ValueError):
    """Text or bytes that are not the multiformats encoding they claim to be."""

    code = "bad_multibase"


class DidKeyError(MultibaseError):
    """A value that is not a did:key DID (or verification method URL) for an Ed25519 key."""

    code = "invalid_did_key"


# --------------------------------------------------------------------------- base58btc


def b58encode(data: bytes) -> str:
    """Base58btc (Bitcoin alphabet) of ``data``; leading zero bytes become leading ``1``."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(BASE58_ALPHABET[remainder])
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    """Decode :func:`b58encode` output; names the first character outside the alphabet."""
    if not isinstance(text, str):
        raise MultibaseError(f"base58btc: expected text, got {type(text).__name__}")
    number = 0
    for position, char in enumerate(text):
        digit = _B58_INDEX.get(char)
        if digit is None:
            raise MultibaseError(
                f"base58btc: character {char!r} at position {position} is not in the alphabet"
            )
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


# --------------------------------------------------------------------------- multibase


def multibase_encode(data: bytes) -> str:
    """``z`` + base58btc of ``data``."""
    return "z" + b58encode(data)


def multibase_decode(text: str) -> bytes:
    """The bytes of a base58btc multibase value (``z…``); any other base is refused."""
    if not isinstance(text, str) or not text:
        raise MultibaseError("multibase: expected a non-empty text value starting with 'z'")
    if text[0] != "z":
        raise MultibaseError(
            f"multibase: prefix {text[0]!r} is not 'z' (base58btc), the only base allowed here"
        )
    return b58decode(text[1:])


# --------------------------------------------------------------------------- varint


def varint_encode(value: int) -> bytes:
    """The unsigned varint (LEB128, low group first) of ``value`` (0 ≤ value < 2**63)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise MultibaseError(f"varint: {value!r} is not an integer in 0 … 2**63-1")
    out = bytearray()
    while True:
        group = value & 0x7F
        value >>= 7
        if value:
            out.append(group | 0x80)
        else:
            out.append(group)
            return bytes(out)


def varint_decode(data: bytes) -> tuple[int, int]:
    """``(value, bytes used)`` of the varint at the start of ``data``; strict and minimal."""
    value = 0
    for index, byte in enumerate(data[:_MAX_VARINT_BYTES]):
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if byte == 0 and index > 0:
                raise MultibaseError("varint: not minimally encoded (trailing zero group)")
            return value, index + 1
    if len(data) >= _MAX_VARINT_BYTES:
        raise MultibaseError(f"varint: longer than {_MAX_VARINT_BYTES} bytes")
    raise MultibaseError("varint: data ends inside the varint")


# --------------------------------------------------------------------------- Multikey


def encode_multikey(codec: int, key: bytes) -> str:
    """Multibase of ``varint(codec) || key``."""
    return multibase_encode(varint_encode(codec) + key)


def decode_multikey(text: str) -> tuple[int, bytes]:
    """``(codec, raw key bytes)`` of a Multikey value."""
    data = multibase_decode(text)
    codec, used = varint_decode(data)
    return codec, data[used:]


def _codec_name(codec: int) -> str:
    return _CODEC_NAMES.get(codec, "unknown")


def _ed25519_bytes(text: str, expected: int, what: str) -> bytes:
    codec, raw = decode_multikey(text)
    if codec != expected:
        if codec == ED25519_PRIV:
            raise MultibaseError(
                f"{what}: this is an Ed25519 PRIVATE key (multicodec 0x1300); "
                "it must never be published — replace it and rotate the key"
            )
        raise MultibaseError(
            f"{what}: multicodec 0x{codec:x} ({_codec_name(codec)}) is not "
            f"0x{expected:x} ({_codec_name(expected)}); only Ed25519 keys are supported"
        )
    if len(raw) != _ED25519_KEY_SIZE:
        raise MultibaseError(
            f"{what}: an Ed25519 key has {_ED25519_KEY_SIZE} bytes, this one has {len(raw)}"
        )
    return raw


def public_key_multibase(public_key: Ed25519PublicKey) -> str:
    """The Multikey ``publicKeyMultibase`` of an Ed25519 public key (``z6Mk…``, 48 characters)."""
    if not isinstance(public_key, Ed25519PublicKey):
        raise MultibaseError(
            f"public key: expected an Ed25519PublicKey, got {type(public_key).__name__}"
        )
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return encode_multikey(ED25519_PUB, raw)


def public_key_from_multibase(text: str) -> Ed25519PublicKey:
    """The Ed25519 public key of a ``publicKeyMultibase`` value."""
    raw = _ed25519_bytes(text, ED25519_PUB, "publicKeyMultibase")
    return Ed25519PublicKey.from_public_bytes(raw)


def private_key_multibase(private_key: Ed25519PrivateKey) -> str:
    """The Multikey ``secretKeyMultibase`` of an Ed25519 private key (``z3u2…``). Keep it secret."""
    if not isinstance(private_key, Ed25519PrivateKey):
        raise MultibaseError(
            f"private key: expected an Ed25519PrivateKey, got {type(private_key).__name__}"
        )
    raw = private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return encode_multikey(ED25519_PRIV, raw)


def private_key_from_multibase(text: str) -> Ed25519PrivateKey:
    """The Ed25519 private key of a ``secretKeyMultibase`` value (32-byte seed)."""
    codec, raw = decode_multikey(text)
    if codec != ED25519_PRIV:
        raise MultibaseError(
            f"secretKeyMultibase: multicodec 0x{codec:x} ({_codec_name(codec)}) is not "
            "0x1300 (ed25519-priv)"
        )
    if len(raw) != _ED25519_KEY_SIZE:
        raise MultibaseError(
            f"secretKeyMultibase: an Ed25519 seed has {_ED25519_KEY_SIZE} bytes, "
            f"this one has {len(raw)}"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


# --------------------------------------------------------------------------- did:key


def did_key_from_public(public_key: Ed25519PublicKey) -> str:
    """``did:key:z6Mk…`` for an Ed25519 public key: the DID is the key's Multikey value."""
    if not isinstance(public_key, Ed25519PublicKey):
        raise DidKeyError(
            f"did:key: 应为 Ed25519 公钥 (expected Ed25519PublicKey, got {type(public_key).__name__})"
        )
    return DID_KEY_PREFIX + public_key_multibase(public_key)


def verification_method_for(public_key: Ed25519PublicKey) -> str:
    """The did:key verification method URL of a key: ``did:key:z6Mk…#z6Mk…``."""
    did = did_key_from_public(public_key)
    return f"{did}#{did.removeprefix(DID_KEY_PREFIX)}"


def public_from_did_key(did: str) -> Ed25519PublicKey:
    """The Ed25519 key named by a ``did:key`` DID or its verification method URL (``…#z6Mk…``).

    The fragment, when present, must repeat the key (the one verification method a did:key
    document has). Raises :class:`DidKeyError` naming what is wrong.
    """
    if not isinstance(did, str):
        raise DidKeyError(f"did:key: 应为文本 (expected text, got {type(did).__name__})")
    if not did.startswith(DID_KEY_PREFIX):
        raise DidKeyError(f"did:key: {did!r} 不是 did:key 标识 (does not start with 'did:key:')")
    identifier, hash_sign, fragment = did.removeprefix(DID_KEY_PREFIX).partition("#")
    if not identifier:
        raise DidKeyError("did:key: 缺少密钥部分 (no key after 'did:key:')")
    try:
        key = public_key_from_multibase(identifier)
    except MultibaseError as exc:
        raise DidKeyError(f"did:key: {did!r} 无法解析 ({exc})") from exc
    if hash_sign and fragment != identifier:
        raise DidKeyError(
            f"did:key: 片段 #{fragment} 与密钥不一致 (fragment must repeat the key {identifier})"
        )
    return key
