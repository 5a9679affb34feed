"""Signed tree heads, inclusion receipts and the offline auditor (sync/tree_heads.py), over
the Merkle tree and reference data of tests/sync/test_merkle.py."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync import merkle, tree_heads
from sync.merkle import EMPTY_ROOT, MemoryStore, MerkleError, ProofError
from sync.tree_heads import InclusionReceipt, SignedTreeHead, TreeHead
from tests.sync.test_merkle import DATA, ROOTS_HEX, N, flip

# ----------------------------------------------------------------------------------------------
# Signed tree heads
# ----------------------------------------------------------------------------------------------

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def test_tree_head_encoding_is_fixed():
    head = TreeHead(tree_size=8, root_hash=bytes.fromhex(ROOTS_HEX[7]), timestamp_ms=1767225600000)
    assert head.to_bytes() == (
        b"SkillCert transparency log tree head v1\x00"
        + bytes.fromhex("0000019b76daa800000000000000000820")
        + bytes.fromhex(ROOTS_HEX[7])
        + b"\x00\x00"
    )


def test_sign_verify_and_json_round_trip():
    head = TreeHead(8, bytes.fromhex(ROOTS_HEX[7]), 1767225600000)
    sth = tree_heads.sign_tree_head(head, KEY, "registry-root-1")
    assert tree_heads.verify_tree_head(sth, KEY.public_key()) is True
    d = json.loads(json.dumps(sth.to_dict()))
    assert set(d) == {"version", "tree_size", "timestamp_ms", "root_hash", "key_id", "signature"}
    assert base64.b64decode(d["root_hash"]) == head.root_hash
    back = SignedTreeHead.from_dict(d)
    assert back == sth
    assert tree_heads.verify_tree_head(back, KEY.public_key())


def test_tampered_tree_heads_are_rejected():
    head = TreeHead(8, bytes.fromhex(ROOTS_HEX[7]), 1767225600000)
    sth = tree_heads.sign_tree_head(head, KEY, "registry-root-1")
    tampered = [
        SignedTreeHead(TreeHead(9, head.root_hash, head.timestamp_ms), sth.key_id, sth.signature),
        SignedTreeHead(
            TreeHead(8, flip(head.root_hash, 1), head.timestamp_ms), sth.key_id, sth.signature
        ),  # fmt: skip
        SignedTreeHead(
            TreeHead(8, head.root_hash, head.timestamp_ms + 1), sth.key_id, sth.signature
        ),  # fmt: skip
        SignedTreeHead(head, sth.key_id, flip(sth.signature, 1)),
        SignedTreeHead(head, sth.key_id, sth.signature[:-1]),
        SignedTreeHead(head, sth.key_id, b""),
    ]
    for bad in tampered:
        with pytest.raises(ProofError, match="does not verify"):
            tree_heads.verify_tree_head(bad, KEY.public_key())
    with pytest.raises(ProofError, match="registry-root-1"):
        tree_heads.verify_tree_head(sth, OTHER_KEY.public_key())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "version 2 is not supported"),
        ({"tree_size": None}, "'tree_size' must be int"),
        ({"tree_size": True}, "'tree_size' must be int"),
        ({"tree_size": -1}, "tree_size must be an integer from 0"),
        ({"timestamp_ms": "2026"}, "'timestamp_ms' must be int"),
        ({"root_hash": "not base64!"}, "root_hash is not valid base64"),
        ({"root_hash": "AAAA"}, "root_hash must be a 32-byte SHA-256 hash, got 3 bytes"),
        ({"key_id": ""}, "'key_id' is empty"),
        ({"signature": 5}, "'signature' must be str"),
    ],
)
def test_tree_head_from_dict_errors_name_the_field(change, message):
    sth = tree_heads.sign_tree_head(TreeHead(1, EMPTY_ROOT, 0), KEY, "k1")
    with pytest.raises(MerkleError, match=message):
        SignedTreeHead.from_dict(sth.to_dict() | change)
    d = sth.to_dict()
    del d["key_id"]
    with pytest.raises(MerkleError, match="field 'key_id' is missing"):
        SignedTreeHead.from_dict(d)
    with pytest.raises(MerkleError, match="must be a JSON object"):
        SignedTreeHead.from_dict(["not", "a", "dict"])


# ----------------------------------------------------------------------------------------------
# The offline auditor: leaf data + receipt + signed tree head (+ consistency proof)
# ----------------------------------------------------------------------------------------------


def make_sth(store: MemoryStore, size: int, key=KEY) -> SignedTreeHead:
    return tree_heads.sign_tree_head(TreeHead(size, merkle.root_at(size, store), 1767225600000 + size),
                                 key, "registry-root-1")  # fmt: skip


def test_auditor_checks_receipts_offline(big_store):
    pub = KEY.public_key()
    for size in (1, 13, 20, N):
        sth = make_sth(big_store, size)
        for index in range(size):
            receipt = InclusionReceipt(index, size,
                                       tuple(merkle.inclusion_proof(index, size, big_store)))  # fmt: skip
            kept = InclusionReceipt.from_dict(json.loads(json.dumps(receipt.to_dict())))
            assert kept == receipt
            assert tree_heads.verify_certificate_inclusion(DATA[index], kept, sth, pub)
            with pytest.raises(ProofError):
                tree_heads.verify_certificate_inclusion(DATA[index] + b"!", kept, sth, pub)


def test_auditor_old_receipt_against_newer_head(big_store):
    pub = KEY.public_key()
    receipt = InclusionReceipt(7, 13, tuple(merkle.inclusion_proof(7, 13, big_store)))
    sth = make_sth(big_store, 20)
    consistency = merkle.consistency_proof(13, 20, big_store)
    assert tree_heads.verify_certificate_inclusion(DATA[7], receipt, sth, pub,
                                               consistency=consistency)  # fmt: skip
    with pytest.raises(ProofError, match="needs a consistency proof"):
        tree_heads.verify_certificate_inclusion(DATA[7], receipt, sth, pub)
    with pytest.raises(ProofError):  # a proof for other sizes
        tree_heads.verify_certificate_inclusion(DATA[7], receipt, sth, pub,
                                            consistency=merkle.consistency_proof(12, 20, big_store))  # fmt: skip
    with pytest.raises(ProofError):  # a different leaf at that index
        tree_heads.verify_certificate_inclusion(DATA[8], receipt, sth, pub, consistency=consistency)
    with pytest.raises(ProofError, match="newer than the tree head"):
        tree_heads.verify_certificate_inclusion(DATA[7], receipt, make_sth(big_store, 10), pub)
    with pytest.raises(ProofError, match="does not verify"):
        tree_heads.verify_certificate_inclusion(DATA[7], receipt, make_sth(big_store, 20, OTHER_KEY),
                                            pub, consistency=consistency)  # fmt: skip


def test_receipt_from_dict_errors_name_the_field():
    good = InclusionReceipt(0, 2, (EMPTY_ROOT,)).to_dict()
    cases = [
        (good | {"leaf_index": "0"}, "'leaf_index' must be int"),
        (good | {"inclusion_proof": "AAAA"}, "'inclusion_proof' must be list"),
        (good | {"inclusion_proof": [1]}, r"inclusion_proof\[0\] must be a base64 string"),
        (good | {"inclusion_proof": ["AAAA"]}, r"inclusion_proof\[0\] must be a 32-byte"),
    ]
    for d, message in cases:
        with pytest.raises(MerkleError, match=message):
            InclusionReceipt.from_dict(d)
