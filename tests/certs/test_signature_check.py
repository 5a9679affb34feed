"""``certs.keys.verify``: libsodium's Ed25519 check agrees with OpenSSL's on every honest and
tampered case, and refuses the small-order forgery OpenSSL lets through; such keys are refused
where keys come in (``public_key_from_raw``, ``load_public_pem``)."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs import keys

# The group order L of edwards25519 (RFC 8032 §5.1).
ORDER = 2**252 + 27742317777372353535851937790883648493
IDENTITY = bytes([1]) + bytes(31)  # the neutral point, encoded


def _openssl_accepts(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _ours_accepts(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        keys.verify(public_key, signature, message)
    except InvalidSignature:
        return False
    return True


def _cases():
    key = Ed25519PrivateKey.generate()
    other = Ed25519PrivateKey.generate()
    message = "证书记录 S0001444030026400000001".encode()
    signature = key.sign(message)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    s = int.from_bytes(signature[32:], "little")
    unreduced = signature[:32] + (s + ORDER).to_bytes(32, "little")  # same point, S >= L
    public = key.public_key()
    return {
        "honest": (public, signature, message, True),
        "empty message": (public, key.sign(b""), b"", True),
        "tampered message": (public, signature, message + b"!", False),
        "tampered signature": (public, flipped, message, False),
        "another key": (other.public_key(), signature, message, False),
        "short signature": (public, signature[:63], message, False),
        "long signature": (public, signature + b"\0", message, False),
        "signature moved into the message": (
            public,
            signature[:63],
            signature[63:] + message,
            False,
        ),
        "S not reduced": (public, unreduced, message, False),
    }


CASES = _cases()


@pytest.mark.parametrize("name", CASES)
def test_agrees_with_openssl(name):
    public_key, signature, message, expected = CASES[name]
    assert _openssl_accepts(public_key, signature, message) is expected
    assert _ours_accepts(public_key, signature, message) is expected


def test_refuses_a_small_order_key_that_verifies_anything():
    """With the identity as key, R = identity and S = 0 satisfy the verification equation for
    every message. OpenSSL took it as valid when this was written (not asserted: it may grow
    stricter); libsodium, and so every verifier here, does not."""
    weak = Ed25519PublicKey.from_public_bytes(IDENTITY)
    forged = IDENTITY + bytes(32)
    for message in (b"", b"any certificate", "撤销".encode()):
        assert not _ours_accepts(weak, forged, message)


def test_bytes_like_inputs_and_type_errors():
    key = Ed25519PrivateKey.generate()
    message = b"record"
    signature = key.sign(message)
    keys.verify(key.public_key(), bytearray(signature), memoryview(message))
    keys.verify(key.public_key(), memoryview(signature), bytearray(message))
    for bad in (signature.hex(), None, 42):
        with pytest.raises(TypeError):
            keys.verify(key.public_key(), bad, message)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        keys.verify(key.public_key(), signature, "record")  # type: ignore[arg-type]


# Encodings of points of small order (RFC 8032 test vectors and the curve's torsion points):
# the identity, a point of order 2 (y = -1), and one of order 4 (y = 0).
SMALL_ORDER = {
    "identity": IDENTITY,
    "order 2": (2**255 - 19 - 1).to_bytes(32, "little"),
    "order 4": bytes(32),
}


@pytest.mark.parametrize("name", SMALL_ORDER)
def test_small_order_keys_are_refused_where_keys_come_in(name):
    raw = SMALL_ORDER[name]
    with pytest.raises(keys.KeyLoadError, match="small-order"):
        keys.public_key_from_raw(raw)
    pem = (
        Ed25519PublicKey.from_public_bytes(raw)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(keys.KeyLoadError, match="small-order"):
        keys.load_public_pem(pem)


def test_honest_keys_load():
    public = Ed25519PrivateKey.generate().public_key()
    raw = public.public_bytes_raw()
    assert keys.public_key_from_raw(raw).public_bytes_raw() == raw
    assert keys.load_public_pem(keys.public_pem(public)).public_bytes_raw() == raw
    for bad in (raw[:31], raw + b"\0", raw.hex()):
        with pytest.raises(keys.KeyLoadError, match="32"):
            keys.public_key_from_raw(bad)  # type: ignore[arg-type]
