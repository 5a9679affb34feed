"""The transparency log's Merkle tree (sync/merkle.py).

Known answers are the RFC 6962 reference-tree vectors published with google/certificate-
transparency (cpp/merkletree/merkle_tree_test.cc) and transparency-dev/merkle
(testonly/constants.go, testonly/reference_test.go, proof/verify_test.go). Everything else is
checked against a naive transcription of the RFC 9162 §2.1 definitions below, written
independently of the module under test.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from sync import merkle
from sync.merkle import (
    EMPTY_ROOT,
    Frontier,
    MemoryStore,
    MerkleError,
    MissingNodeError,
    ProofError,
)

# ----------------------------------------------------------------------------------------------
# Published test vectors: the 8-leaf reference tree
# ----------------------------------------------------------------------------------------------

INPUTS = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]  # fmt: skip

EMPTY_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# Root of the tree of the first n inputs, n = 1..8.
ROOTS_HEX = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# Every complete subtree of the 8-leaf tree, by (level, index).
NODES_HEX = {
    (0, 0): "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    (0, 1): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    (0, 2): "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    (0, 3): "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    (0, 4): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    (0, 5): "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    (0, 6): "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    (0, 7): "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

# (leaf_index, tree_size) -> inclusion proof (0-based indices).
INCLUSION_HEX = {
    (0, 1): [],
    (0, 2): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
    (1, 2): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}

# (old_size, new_size) -> consistency proof.
CONSISTENCY_HEX = {
    (1, 1): [],
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (6, 7): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def unhex(items: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in items]


def reference_store() -> MemoryStore:
    store = MemoryStore()
    for data in INPUTS:
        store.append(data)
    return store


# ----------------------------------------------------------------------------------------------
# Naive reference: RFC 9162 §2.1 transcribed literally over lists of leaf data
# ----------------------------------------------------------------------------------------------


def ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = ref_split(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = ref_split(len(d))
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_split(n)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True) if 0 < m < len(d) else []


N = 70
DATA = [f"certificate {i}".encode() for i in range(N)]


@pytest.fixture(scope="module")
def ref_roots() -> list[bytes]:
    return [ref_mth(DATA[:n]) for n in range(N + 1)]


# ----------------------------------------------------------------------------------------------
# Known answers
# ----------------------------------------------------------------------------------------------


def test_empty_tree_and_leaf_hashing():
    assert EMPTY_ROOT.hex() == EMPTY_HEX
    assert merkle.root([]) == EMPTY_ROOT
    assert MemoryStore().root() == EMPTY_ROOT
    assert merkle.leaf_hash(b"").hex() == ROOTS_HEX[0]
    assert merkle.node_hash(bytes.fromhex(NODES_HEX[(0, 0)]), bytes.fromhex(NODES_HEX[(0, 1)])) \
        == bytes.fromhex(NODES_HEX[(1, 0)])  # fmt: skip


def test_roots_of_the_reference_tree_at_every_size():
    store = MemoryStore()
    for n, data in enumerate(INPUTS, start=1):
        assert store.append(data) == n - 1
        assert store.root().hex() == ROOTS_HEX[n - 1]
        assert merkle.root([merkle.leaf_hash(x) for x in INPUTS[:n]]).hex() == ROOTS_HEX[n - 1]
    for n in range(1, 9):  # past sizes, read back from the stored nodes
        assert merkle.root_at(n, store).hex() == ROOTS_HEX[n - 1]
    assert merkle.root_at(0, store) == EMPTY_ROOT


def test_stored_nodes_are_exactly_the_published_complete_subtrees():
    store = reference_store()
    assert {node: h.hex() for node, h in store.nodes.items()} == NODES_HEX


@pytest.mark.parametrize(("index", "size"), sorted(INCLUSION_HEX))
def test_inclusion_proof_vectors(index, size):
    store = reference_store()
    want = unhex(INCLUSION_HEX[(index, size)])
    assert merkle.inclusion_proof(index, size, store) == want
    leaf = merkle.leaf_hash(INPUTS[index])
    root = bytes.fromhex(ROOTS_HEX[size - 1])
    assert merkle.verify_inclusion(leaf, index, size, want, root) is True
    assert_inclusion_tamper_rejected(leaf, index, size, want, root)


@pytest.mark.parametrize(("old", "new"), sorted(CONSISTENCY_HEX))
def test_consistency_proof_vectors(old, new):
    store = reference_store()
    want = unhex(CONSISTENCY_HEX[(old, new)])
    assert merkle.consistency_proof(old, new, store) == want
    old_root, new_root = bytes.fromhex(ROOTS_HEX[old - 1]), bytes.fromhex(ROOTS_HEX[new - 1])
    assert merkle.verify_consistency(old, new, old_root, new_root, want) is True
    if want:
        assert_consistency_tamper_rejected(old, new, old_root, new_root, want)


# ----------------------------------------------------------------------------------------------
# Tampering (the probes of transparency-dev/merkle proof/verify_test.go)
# ----------------------------------------------------------------------------------------------


def flip(h: bytes, bit: int) -> bytes:
    return bytes([h[0] ^ bit]) + h[1:]


def assert_inclusion_tamper_rejected(leaf, index, size, proof, root):
    probes = [
        (leaf, index - 1, size, proof, root),
        (leaf, index + 1, size, proof, root),
        (leaf, index ^ 2, size, proof, root),
        (leaf, index, size * 2, proof, root),
        (leaf, index, size // 2, proof, root),
        (merkle.leaf_hash(b"WrongLeaf"), index, size, proof, root),
        (b"WrongLeaf", index, size, proof, root),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, proof, SOME_HASH),
        (leaf, index, size, [*proof, b""], root),
        (leaf, index, size, [*proof, root], root),
        (leaf, index, size, [b"", *proof], root),
        (leaf, index, size, [root, *proof], root),
    ]
    probes += [(leaf, index, size, proof[:i] + [flip(p, 8)] + proof[i + 1 :], root)
               for i, p in enumerate(proof)]  # fmt: skip
    if proof:
        probes.append((leaf, index, size, proof[:-1], root))
    if len(proof) > 1:
        probes.append((leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root))
    for args in probes:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*args)


def assert_consistency_tamper_rejected(old, new, old_root, new_root, proof):
    wrong = hashlib.sha256(b"WrongRoot").digest()
    probes = [
        (old - 1, new, old_root, new_root, proof),
        (old + 1, new, old_root, new_root, proof),
        (old ^ 2, new, old_root, new_root, proof),
        (old, new * 2, old_root, new_root, proof),
        (old, new // 2, old_root, new_root, proof),
        (old, new, wrong, new_root, proof),
        (old, new, old_root, wrong, proof),
        (old, new, b"WrongRoot", new_root, proof),
        (old, new, new_root, old_root, proof),
        (old, new, old_root, new_root, []),
        (old, new, old_root, new_root, [*proof, b""]),
        (old, new, old_root, new_root, [*proof, old_root]),
        (old, new, old_root, new_root, [*proof, new_root]),
        (old, new, old_root, new_root, [b"", *proof]),
        (old, new, old_root, new_root, [old_root, *proof]),
        (old, new, old_root, new_root, [new_root, *proof]),
        (old, new, old_root, new_root, [proof[0], *proof]),
        (old, new, old_root, new_root, proof[:-1]),
    ]
    probes += [(old, new, old_root, new_root, proof[:i] + [flip(p, 16)] + proof[i + 1 :])
               for i, p in enumerate(proof)]  # fmt: skip
    for args in probes:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)


def test_single_entry_inclusion():
    h = merkle.leaf_hash(b"data")
    assert merkle.verify_inclusion(h, 0, 1, [], h)
    for leaf, root in [(h, b""), (b"", h), (b"", b"")]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf, 0, 1, [], root)
    for index, size in [(0, 0), (1, 0), (1, 1), (2, 1)]:
        with pytest.raises(ProofError, match="outside a tree"):
            merkle.verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


def test_trivial_consistency_cases():
    a, b = SOME_HASH, flip(SOME_HASH, 1)
    assert merkle.verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert merkle.verify_consistency(0, 5, EMPTY_ROOT, a, [])
    assert merkle.verify_consistency(3, 3, a, a, [])
    bad = [
        (0, 0, a, a, []),  # an empty tree has one root
        (0, 5, a, b, []),
        (3, 3, a, b, []),  # same size, different roots: a forked log
        (1, 0, a, b, []),  # time travel
        (2, 1, a, b, []),
        (1, 2, a, b, []),  # empty proof
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (0, 1, EMPTY_ROOT, a, [EMPTY_ROOT]),
        (1, 1, a, a, [EMPTY_ROOT]),
        (-1, 1, a, b, []),
        (1, 2, a, b, b"not a list"),
    ]
    for args in bad:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)


# ----------------------------------------------------------------------------------------------
# Every proof for every size up to N against the naive reference
# ----------------------------------------------------------------------------------------------


def test_every_root_matches_reference(big_store, ref_roots):
    assert big_store.root() == ref_roots[N]
    for n in range(N + 1):
        assert merkle.root_at(n, big_store) == ref_roots[n]
        assert merkle.root([merkle.leaf_hash(x) for x in DATA[:n]]) == ref_roots[n]


def test_every_inclusion_proof_matches_reference(big_store, ref_roots):
    for size in range(1, N + 1):
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, big_store)
            assert proof == ref_path(index, DATA[:size]), (index, size)
            leaf = merkle.leaf_hash(DATA[index])
            assert merkle.verify_inclusion(leaf, index, size, proof, ref_roots[size])
            if size <= 33:  # the tamper probes are slower; cover every shape up to 33
                assert_inclusion_tamper_rejected(leaf, index, size, proof, ref_roots[size])


def test_every_consistency_proof_matches_reference(big_store, ref_roots):
    for new in range(N + 1):
        for old in range(new + 1):
            proof = merkle.consistency_proof(old, new, big_store)
            assert proof == ref_proof(old, DATA[:new]), (old, new)
            assert merkle.verify_consistency(old, new, ref_roots[old], ref_roots[new], proof)
            if proof and new <= 33:
                assert_consistency_tamper_rejected(old, new, ref_roots[old], ref_roots[new], proof)


def test_tamper_probes_on_large_sizes(big_store, ref_roots):
    for size in (34, 48, 63, 64, 65, 69, 70):
        for index in (0, 1, size // 2, size - 2, size - 1):
            proof = merkle.inclusion_proof(index, size, big_store)
            leaf = merkle.leaf_hash(DATA[index])
            assert_inclusion_tamper_rejected(leaf, index, size, proof, ref_roots[size])
        for old in (1, 2, 31, 32, 33, size - 1):
            proof = merkle.consistency_proof(old, size, big_store)
            assert_consistency_tamper_rejected(old, size, ref_roots[old], ref_roots[size], proof)


# ----------------------------------------------------------------------------------------------
# Store-backed appends and O(log n) reads
# ----------------------------------------------------------------------------------------------


class CountingReader:
    """Wraps a store; records each get_nodes call, as the registry's SQL reader would run them."""

    def __init__(self, store: MemoryStore) -> None:
        self.store, self.calls = store, []

    def get_nodes(self, nodes):
        self.calls.append(list(nodes))
        return self.store.get_nodes(nodes)


def test_append_matches_reference_root_at_every_size():
    store = MemoryStore()
    frontier_blob, data = b"", [f"leaf {i}".encode() for i in range(300)]
    for n in range(1, len(data) + 1):
        # The registry's path: rebuild the frontier from its log_state row, append, store.
        frontier = Frontier.from_bytes(n - 1, frontier_blob)
        created = frontier.append(merkle.leaf_hash(data[n - 1]))
        assert len(created) == 1 + ((n - 1) ^ n).bit_count() - 1  # the leaf + one per carry
        assert created[0] == ((0, n - 1), merkle.leaf_hash(data[n - 1]))
        store.append(data[n - 1])
        assert dict(created).items() <= store.nodes.items()
        frontier_blob = frontier.to_bytes()
        assert frontier.root() == store.root() == ref_mth(data[:n])
        assert Frontier.load(n, store) == frontier
        assert len(store.nodes) == 2 * n - n.bit_count()  # every complete subtree, nothing else


def test_proofs_read_log_n_nodes_in_one_query():
    store = MemoryStore()
    for i in range(1000):
        store.append(i.to_bytes(4, "big"))
    reader = CountingReader(store)
    for size in (1, 2, 3, 511, 512, 513, 777, 1000):
        for index in {0, size // 3, size - 1}:
            reader.calls.clear()
            proof = merkle.inclusion_proof(index, size, reader)
            assert len(reader.calls) == 1
            assert len(reader.calls[0]) <= 2 * max(1, (size - 1).bit_length())
            assert merkle.verify_inclusion(
                merkle.leaf_hash(index.to_bytes(4, "big")), index, size, proof,
                merkle.root_at(size, store))  # fmt: skip
        for old in {1, size // 2, size - 1} - {0}:
            reader.calls.clear()
            proof = merkle.consistency_proof(old, size, reader)
            assert len(reader.calls) <= 1
            assert sum(map(len, reader.calls)) <= 2 * max(1, (size - 1).bit_length())


def test_proofs_for_a_size_the_store_does_not_have_fail_clearly():
    store = reference_store()
    with pytest.raises(MissingNodeError, match=r"level 0, index 8"):
        merkle.inclusion_proof(0, 9, store)
    with pytest.raises(MissingNodeError):
        merkle.consistency_proof(3, 12, store)
    with pytest.raises(MissingNodeError):
        merkle.root_at(9, store)


def test_bad_arguments_name_the_field():
    store = reference_store()
    with pytest.raises(MerkleError, match="leaf_index 8 is outside a tree of size 8"):
        merkle.inclusion_proof(8, 8, store)
    with pytest.raises(MerkleError, match="old_size 5 is larger than new_size 4"):
        merkle.consistency_proof(5, 4, store)
    with pytest.raises(MerkleError, match="tree_size must be an integer"):
        merkle.inclusion_proof(0, -1, store)
    with pytest.raises(MerkleError, match="leaf_index must be an integer"):
        merkle.inclusion_proof(True, 3, store)
    with pytest.raises(MerkleError, match=r"leaf_hashes\[1\] must be a 32-byte"):
        merkle.root([EMPTY_ROOT, b"short"])
    with pytest.raises(MerkleError, match="leaf data must be bytes, got int"):
        MemoryStore().append(5)  # bytes(5) would silently be five zero bytes
    with pytest.raises(MerkleError, match="leaf_hash must be a 32-byte"):
        MemoryStore().append_hash(b"raw data, not a hash")
    with pytest.raises(MerkleError, match="a frontier of size 3 has 2 hashes, got 1"):
        Frontier.from_bytes(3, EMPTY_ROOT)
    with pytest.raises(MerkleError, match="not a multiple of 32"):
        Frontier.from_bytes(1, b"x" * 33)
    with pytest.raises(MerkleError, match="not a subtree"):
        merkle.subtree_nodes(1, 4)


def test_module_imports_without_flask():
    code = "import sys, sync.merkle, sync.tree_heads; sys.exit('flask' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0
