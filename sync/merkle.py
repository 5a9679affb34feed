"""The transparency log's Merkle tree: hashing, storage-friendly appends, proofs and their checks.

Pure library (``hashlib`` only), shared by the registry, the station and auditors; the signed
tree heads and receipts that carry its roots and proofs are :mod:`sync.tree_heads`.
The tree is RFC 9162 §2.1 (the same as RFC 6962 §2.1): a leaf hashes as SHA-256(0x00 || data),
an interior node as SHA-256(0x01 || left || right), the empty tree as SHA-256(""), and a tree of
n > 1 leaves splits at k, the largest power of two below n. Proofs are byte-for-byte those of
the RFC (checked against the certificate-transparency test vectors in the tests).

Storage model. A *node* ``(level, index)`` is the perfect subtree over leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. Such a node never
changes once complete, so the registry stores each one as it completes (table ``log_node``, see
docs/transparency-log.md). :class:`Frontier` keeps the right edge of the tree (one hash per set
bit of the size): appending a leaf reads nothing else and yields the O(1) amortised, O(log n)
worst-case nodes it completed. Every hash a proof needs is a fold of O(log n) stored nodes, which
:func:`inclusion_proof` and :func:`consistency_proof` fetch in one call of a :class:`NodeReader`
(one SQL query in the registry). :class:`MemoryStore` is the in-memory twin of that table.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_U64 = 1 << 64

Node = tuple[int, int]
"""``(level, index)`` of a perfect subtree; see the module docstring."""


class MerkleError(ValueError):
    """Bad input to the tree functions, or malformed stored / serialised data."""


class ProofError(MerkleError):
    """A proof, receipt or tree head failed verification; the message says why."""


class MissingNodeError(MerkleError):
    """The node store lacks a node that a complete tree of the requested size must have."""


class NodeReader(Protocol):
    """Read access to stored perfect-subtree hashes (the registry's ``log_node`` table).

    Return the hashes of the requested nodes that exist; missing ones may simply be absent.
    """

    def get_nodes(self, nodes: Sequence[Node]) -> Mapping[Node, bytes]: ...


# --------------------------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """MTH of a one-leaf tree: SHA-256(0x00 || data)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MerkleError(f"leaf data must be bytes, got {type(data).__name__}")
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right), both 32-byte hashes."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole tree given its leaf hashes (in order); the empty tree is SHA-256("")."""
    frontier = Frontier()
    for i, h in enumerate(leaf_hashes):
        frontier.append(checked_hash(h, f"leaf_hashes[{i}]"))
    return frontier.root()


def _fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of consecutive perfect subtrees of strictly decreasing size, left to right."""
    if not hashes:
        return EMPTY_ROOT
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def checked_hash(value: object, name: str, error: type[MerkleError] = MerkleError) -> bytes:
    """``value`` as bytes if it is a 32-byte hash, else ``error`` naming ``name``."""
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        got = (
            f"{len(value)} bytes" if isinstance(value, bytes | bytearray) else type(value).__name__
        )
        raise error(f"{name} must be a {HASH_SIZE}-byte SHA-256 hash, got {got}")
    return bytes(value)


def checked_u64(value: object, name: str, error: type[MerkleError] = MerkleError) -> int:
    """``value`` if it is an integer from 0 to 2**64-1 (a size, index or time), else ``error``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _U64:
        raise error(f"{name} must be an integer from 0 to 2**64-1, got {value!r}")
    return value


# --------------------------------------------------------------------------------------------
# Tree shape
# --------------------------------------------------------------------------------------------


def _split(n: int) -> int:
    """k of RFC 9162 §2.1.1: the largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_nodes(start: int, end: int) -> list[Node]:
    """The stored nodes whose fold is MTH(D[start:end]), largest first.

    Valid for the ranges the RFC recursion produces: ``start`` is a multiple of the smallest
    power of two >= ``end - start`` (so the range is a left-aligned, possibly ragged subtree).
    """
    if not 0 <= start < end or start % (1 << (end - start - 1).bit_length()):
        raise MerkleError(f"[{start}, {end}) is not a subtree of any Merkle tree")
    nodes = []
    while start < end:
        level = (end - start).bit_length() - 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def frontier_nodes(tree_size: int) -> list[Node]:
    """The perfect subtrees that make up a tree of ``tree_size`` leaves, left to right."""
    return subtree_nodes(0, tree_size) if checked_u64(tree_size, "tree_size") else []


def _inclusion_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PATH(index, D[0:tree_size]), leaf to root (§2.1.3.1)."""
    start, end, siblings = 0, tree_size, []
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            siblings.append((start + k, end))
            end = start + k
        else:
            siblings.append((start, start + k))
            start += k
    return siblings[::-1]


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PROOF(old_size, D[0:new_size]) (§2.1.4.1), 0 < old < new."""
    start, end, have_root, out = 0, new_size, True, []
    while old_size != end:
        k = _split(end - start)
        if old_size <= start + k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start += k
            have_root = False
    if not have_root:
        out.append((start, end))
    return out[::-1]


# --------------------------------------------------------------------------------------------
# Appending and stored nodes
# --------------------------------------------------------------------------------------------


@dataclass
class Frontier:
    """The right edge of a tree (its "compact range" [0, size)): enough to append and get roots.

    ``hashes`` holds the perfect subtrees of :func:`frontier_nodes` (one per set bit of ``size``,
    largest first). The registry keeps it next to the tree size in its ``log_state`` row, or
    rebuilds it with :meth:`load`.
    """

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        checked_u64(self.size, "frontier size")
        if len(self.hashes) != self.size.bit_count():
            raise MerkleError(
                f"a frontier of size {self.size} has {self.size.bit_count()} hashes, "
                f"got {len(self.hashes)}"
            )
        self.hashes = [checked_hash(h, f"frontier hash {i}") for i, h in enumerate(self.hashes)]

    def append(self, leaf_hash: bytes) -> list[tuple[Node, bytes]]:
        """Add one leaf; return the nodes it completed, the leaf itself first, to be stored."""
        h = checked_hash(leaf_hash, "leaf_hash")
        index, level = self.size, 0
        created = [((0, index), h)]
        while index & 1:
            h = node_hash(self.hashes.pop(), h)
            index >>= 1
            level += 1
            created.append(((level, index), h))
        self.hashes.append(h)
        self.size += 1
        return created

    def root(self) -> bytes:
        """MTH of the current tree."""
        return _fold(self.hashes)

    def to_bytes(self) -> bytes:
        """The hashes concatenated (the size is stored beside them)."""
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> Frontier:
        if len(blob) % HASH_SIZE:
            raise MerkleError(f"frontier blob length {len(blob)} is not a multiple of {HASH_SIZE}")
        hashes = [bytes(blob[i : i + HASH_SIZE]) for i in range(0, len(blob), HASH_SIZE)]
        return cls(size, hashes)

    @classmethod
    def load(cls, tree_size: int, store: NodeReader) -> Frontier:
        """Rebuild the frontier of a stored tree from its ``log_node`` rows."""
        return cls(tree_size, _fetch(frontier_nodes(tree_size), store))


class MemoryStore:
    """An in-memory log: the twin of the registry's ``log_node`` table plus its frontier."""

    def __init__(self) -> None:
        self.nodes: dict[Node, bytes] = {}
        self.frontier = Frontier()

    @property
    def size(self) -> int:
        return self.frontier.size

    def append(self, data: bytes) -> int:
        """Append a leaf's data; return its leaf index."""
        return self.append_hash(leaf_hash(data))

    def append_hash(self, leaf_hash: bytes) -> int:
        index = self.frontier.size
        self.nodes.update(self.frontier.append(leaf_hash))
        return index

    def root(self) -> bytes:
        return self.frontier.root()

    def get_nodes(self, nodes: Sequence[Node]) -> Mapping[Node, bytes]:
        return {n: self.nodes[n] for n in nodes if n in self.nodes}


def _fetch(nodes: Sequence[Node], store: NodeReader) -> list[bytes]:
    got = store.get_nodes(list(dict.fromkeys(nodes)))
    out = []
    for level, index in nodes:
        if (level, index) not in got:
            raise MissingNodeError(f"log node (level {level}, index {index}) is not stored")
        out.append(checked_hash(got[(level, index)], f"stored log node ({level}, {index})"))
    return out


def _hashes_of(ranges: Sequence[tuple[int, int]], store: NodeReader) -> list[bytes]:
    """MTH of each range, reading every stored node needed in a single ``get_nodes`` call."""
    plans = [subtree_nodes(a, b) for a, b in ranges]
    wanted = list(dict.fromkeys(n for plan in plans for n in plan))
    by_node = dict(zip(wanted, _fetch(wanted, store), strict=True))
    return [_fold([by_node[n] for n in plan]) for plan in plans]


def root_at(tree_size: int, store: NodeReader) -> bytes:
    """MTH of the first ``tree_size`` leaves of a stored log (any past size)."""
    return _fold(_fetch(frontier_nodes(tree_size), store))


def inclusion_proof(leaf_index: int, tree_size: int, store: NodeReader) -> list[bytes]:
    """PATH(leaf_index, D[0:tree_size]) of RFC 9162 §2.1.3.1, from O(log n) stored nodes."""
    checked_u64(leaf_index, "leaf_index")
    if not leaf_index < checked_u64(tree_size, "tree_size"):
        raise MerkleError(f"leaf_index {leaf_index} is outside a tree of size {tree_size}")
    return _hashes_of(_inclusion_ranges(leaf_index, tree_size), store)


def inclusion_proofs(
    leaf_indices: Sequence[int], tree_size: int, store: NodeReader
) -> list[list[bytes]]:
    """``[inclusion_proof(i, tree_size, store) for i in leaf_indices]``, for a whole batch.

    The proofs of neighbouring leaves share most of their ranges (every range above the
    batch's own subtree), so each distinct range is folded once and every stored node is read
    in a single ``get_nodes`` call. The hashes are the same. (Every index is checked before
    any node is read, so with a bad index *and* a missing node the error can differ from the
    one-leaf calls'; with valid indices the first missing node is the same, as ranges and
    nodes are visited in the order those calls visit them.)
    """
    checked_u64(tree_size, "tree_size")
    plans: list[list[tuple[int, int]]] = []
    for leaf_index in leaf_indices:
        checked_u64(leaf_index, "leaf_index")
        if not leaf_index < tree_size:
            raise MerkleError(f"leaf_index {leaf_index} is outside a tree of size {tree_size}")
        plans.append(_inclusion_ranges(leaf_index, tree_size))
    nodes_of: dict[tuple[int, int], list[Node]] = {}
    for plan in plans:
        for r in plan:
            if r not in nodes_of:
                nodes_of[r] = subtree_nodes(*r)
    wanted = list(dict.fromkeys(n for nodes in nodes_of.values() for n in nodes))
    by_node = dict(zip(wanted, _fetch(wanted, store), strict=True))
    hash_of = {r: _fold([by_node[n] for n in nodes]) for r, nodes in nodes_of.items()}
    return [[hash_of[r] for r in plan] for plan in plans]


def consistency_proof(old_size: int, new_size: int, store: NodeReader) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1; empty when old_size is 0 or equal."""
    checked_u64(old_size, "old_size")
    if old_size > checked_u64(new_size, "new_size"):
        raise MerkleError(f"old_size {old_size} is larger than new_size {new_size}")
    if old_size in (0, new_size):
        return []
    return _hashes_of(_consistency_ranges(old_size, new_size), store)


# --------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2 and §2.1.4.2)
# --------------------------------------------------------------------------------------------


def _proof_arg(proof: Sequence[bytes], name: str) -> list[bytes]:
    if isinstance(proof, bytes | str) or not isinstance(proof, Sequence):
        raise ProofError(f"{name} must be a list of hashes")
    return [checked_hash(p, f"{name}[{i}]", ProofError) for i, p in enumerate(proof)]


def root_from_inclusion_proof(
    leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` implies for the leaf: steps 1-4 of RFC 9162 §2.1.3.2."""
    r = checked_hash(leaf_hash, "leaf_hash", ProofError)
    fn = checked_u64(leaf_index, "leaf_index", ProofError)
    if fn >= checked_u64(tree_size, "tree_size", ProofError):
        raise ProofError(f"leaf_index {leaf_index} is outside a tree of size {tree_size}")
    sn = tree_size - 1
    for p in _proof_arg(proof, "inclusion proof"):
        if sn == 0:
            raise ProofError(f"inclusion proof is too long for a tree of size {tree_size}")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof is too short for a tree of size {tree_size}")
    return r


def verify_inclusion(
    leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Return True if ``proof`` shows the leaf at ``leaf_index`` under ``root``; else raise."""
    expected = checked_hash(root, "root", ProofError)
    if not hmac.compare_digest(
        root_from_inclusion_proof(leaf_hash, leaf_index, tree_size, proof), expected
    ):
        raise ProofError(f"inclusion proof for leaf {leaf_index} does not lead to the root hash")
    return True


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Return True if the tree (new_size, new_root) extends (old_size, old_root); else raise."""
    first = checked_u64(old_size, "old_size", ProofError)
    second = checked_u64(new_size, "new_size", ProofError)
    first_hash = checked_hash(old_root, "old_root", ProofError)
    second_hash = checked_hash(new_root, "new_root", ProofError)
    path = _proof_arg(proof, "consistency proof")
    if first > second:
        raise ProofError(f"old_size {first} is larger than new_size {second}: a log never shrinks")
    if first == second or first == 0:
        if path:
            raise ProofError("a consistency proof from an empty or equal tree must be empty")
        if first == 0 and first_hash != EMPTY_ROOT:
            raise ProofError("old_root of an empty tree must be SHA-256 of the empty string")
        if first == second and not hmac.compare_digest(first_hash, second_hash):
            raise ProofError(f"two tree heads of size {first} have different root hashes")
        return True
    if not path:  # step 1
        raise ProofError("consistency proof is empty")
    if first & (first - 1) == 0:  # step 2
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            raise ProofError(f"consistency proof is too long for sizes {first} -> {second}")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # step 7
        raise ProofError(f"consistency proof is too short for sizes {first} -> {second}")
    if not hmac.compare_digest(fr, first_hash):
        raise ProofError(f"consistency proof does not reproduce the old root (size {first})")
    if not hmac.compare_digest(sr, second_hash):
        raise ProofError(f"consistency proof does not reproduce the new root (size {second})")
    return True
