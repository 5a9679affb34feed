"""Signed tree heads, inclusion receipts and the offline auditor of the transparency log.

Pure library (``cryptography`` and :mod:`sync.merkle`), shared by the registry, the station and
auditors. A tree head is RFC 9162's TreeHeadDataV2 behind a context string, signed with the
registry's Ed25519 root key; a receipt is where a leaf sits and its inclusion proof against one
tree head. :func:`verify_certificate_inclusion` needs only those and the root key's public half.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs.keys import verify as verify_signature
from sync.merkle import (
    HASH_SIZE,
    MerkleError,
    ProofError,
    checked_hash,
    checked_u64,
    leaf_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

TREE_HEAD_VERSION = 1
_TREE_HEAD_CONTEXT = b"SkillCert transparency log tree head v1\x00"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _field(d: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if not isinstance(d, Mapping):
        raise MerkleError(f"{where} must be a JSON object")
    if key not in d:
        raise MerkleError(f"{where}: field '{key}' is missing")
    value = d[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise MerkleError(f"{where}: field '{key}' must be {kind.__name__}")
    return value


def _unb64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise MerkleError(f"{name} is not valid base64") from exc


@dataclass(frozen=True)
class TreeHead:
    """What the log commits to: its size, root hash and the time it was produced (ms, UTC)."""

    tree_size: int
    root_hash: bytes
    timestamp_ms: int

    def __post_init__(self) -> None:
        checked_u64(self.tree_size, "tree_size")
        checked_u64(self.timestamp_ms, "timestamp_ms")
        object.__setattr__(self, "root_hash", checked_hash(self.root_hash, "root_hash"))

    def to_bytes(self) -> bytes:
        """The signed encoding: a context string, then TreeHeadDataV2 of RFC 9162 §4.9
        (uint64 timestamp, uint64 tree_size, root_hash<32..255>, no extensions)."""
        return (
            _TREE_HEAD_CONTEXT
            + struct.pack(">QQB", self.timestamp_ms, self.tree_size, HASH_SIZE)
            + self.root_hash
            + b"\x00\x00"
        )


@dataclass(frozen=True)
class SignedTreeHead:
    head: TreeHead
    key_id: str
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": TREE_HEAD_VERSION,
            "tree_size": self.head.tree_size,
            "timestamp_ms": self.head.timestamp_ms,
            "root_hash": _b64(self.head.root_hash),
            "key_id": self.key_id,
            "signature": _b64(self.signature),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SignedTreeHead:
        where = "signed tree head"
        if _field(d, "version", int, where) != TREE_HEAD_VERSION:
            raise MerkleError(f"{where}: version {d['version']} is not supported")
        head = TreeHead(
            tree_size=checked_u64(_field(d, "tree_size", int, where), f"{where}: tree_size"),
            root_hash=checked_hash(
                _unb64(_field(d, "root_hash", str, where), f"{where}: root_hash"),
                f"{where}: root_hash",
            ),
            timestamp_ms=checked_u64(
                _field(d, "timestamp_ms", int, where), f"{where}: timestamp_ms"
            ),
        )
        key_id = _field(d, "key_id", str, where)
        if not key_id:
            raise MerkleError(f"{where}: field 'key_id' is empty")
        signature = _unb64(_field(d, "signature", str, where), f"{where}: signature")
        return cls(head, key_id, signature)


def sign_tree_head(head: TreeHead, private_key: Ed25519PrivateKey, key_id: str) -> SignedTreeHead:
    """Sign ``head`` with the registry's Ed25519 key; ``key_id`` tells verifiers which key."""
    if not isinstance(key_id, str) or not key_id:
        raise MerkleError("key_id must be a non-empty string")
    return SignedTreeHead(head, key_id, private_key.sign(head.to_bytes()))


def verify_tree_head(sth: SignedTreeHead, public_key: Ed25519PublicKey) -> bool:
    """Return True if the signature over the tree head verifies with ``public_key``; else raise."""
    try:
        verify_signature(public_key, sth.signature, sth.head.to_bytes())
    except InvalidSignature as exc:
        raise ProofError(
            f"signature on tree head of size {sth.head.tree_size} does not verify "
            f"with key {sth.key_id!r}"
        ) from exc
    return True


@dataclass(frozen=True)
class InclusionReceipt:
    """What the registry returns for an accepted leaf and the station keeps: where the leaf sits
    and the inclusion proof against the tree head of ``tree_size``."""

    leaf_index: int
    tree_size: int
    proof: tuple[bytes, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "inclusion_proof": [_b64(h) for h in self.proof],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InclusionReceipt:
        where = "inclusion receipt"
        items = _field(d, "inclusion_proof", list, where)
        proof = []
        for i, item in enumerate(items):
            name = f"{where}: inclusion_proof[{i}]"
            if not isinstance(item, str):
                raise MerkleError(f"{name} must be a base64 string")
            proof.append(checked_hash(_unb64(item, name), name))
        return cls(
            checked_u64(_field(d, "leaf_index", int, where), f"{where}: leaf_index"),
            checked_u64(_field(d, "tree_size", int, where), f"{where}: tree_size"),
            tuple(proof),
        )


def verify_certificate_inclusion(
    leaf_data: bytes,
    receipt: InclusionReceipt,
    sth: SignedTreeHead,
    public_key: Ed25519PublicKey,
    *,
    consistency: Sequence[bytes] | None = None,
) -> bool:
    """Offline audit: is ``leaf_data`` in the log that ``sth`` (signed by ``public_key``) commits to?

    Needs no network and no log access. A receipt for the tree head's own size is checked
    directly. A receipt for an older, smaller tree also needs ``consistency``, the consistency
    proof from ``receipt.tree_size`` to ``sth`` (the receipt's proof yields the old root).
    Returns True or raises :class:`ProofError` saying what failed.
    """
    verify_tree_head(sth, public_key)
    h = leaf_hash(leaf_data)
    if receipt.tree_size == sth.head.tree_size:
        if consistency:
            raise ProofError("a consistency proof was given for a receipt of the same tree size")
        return verify_inclusion(h, receipt.leaf_index, receipt.tree_size, receipt.proof,
                                sth.head.root_hash)  # fmt: skip
    if receipt.tree_size > sth.head.tree_size:
        raise ProofError(
            f"receipt is for a tree of size {receipt.tree_size}, newer than the tree head "
            f"(size {sth.head.tree_size})"
        )
    if consistency is None:
        raise ProofError(
            f"receipt is for tree size {receipt.tree_size}; checking it against a tree head of "
            f"size {sth.head.tree_size} needs a consistency proof"
        )
    old_root = root_from_inclusion_proof(h, receipt.leaf_index, receipt.tree_size, receipt.proof)
    return verify_consistency(receipt.tree_size, sth.head.tree_size, old_root,
                              sth.head.root_hash, consistency)  # fmt: skip
