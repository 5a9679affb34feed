"""``registry log verify``: recompute the whole transparency log from its leaves.

Checks, streaming the leaves in chunks so memory stays flat:

- leaves are numbered 0…n-1 without gaps, each is canonical RFC 8785 JSON of its kind;
- every stored ``log_node`` equals the hash recomputed from the leaves, and there is no other;
- every stored tree head has the root recomputed at its size and a valid root-key signature,
  and each is consistent with the one before (an RFC 9162 consistency proof, built from the
  stored nodes and verified the way an outside auditor would);
- ``log_state`` (size and frontier) matches;
- each certificate and revocation row has exactly one leaf, holding exactly its data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, select

from certs import jcs
from certs import keys as key_tools
from sync import merkle, tree_heads
from sync.registry.models import (
    Certificate,
    LogLeaf,
    LogNode,
    LogState,
    Revocation,
    RootKey,
    Station,
    TreeHeadRow,
)
from sync.registry.services import log as tlog

MAX_PROBLEMS = 100


@dataclass
class LogReport:
    tree_size: int = 0
    nodes: int = 0
    heads: int = 0
    certificates: int = 0
    revocations: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)


def verify_log(session: Session, *, chunk: int = 5000) -> LogReport:
    report = LogReport()
    root_keys = {
        row.kid: key_tools.load_public_pem(row.public_pem) for row in session.exec(select(RootKey))
    }
    codes = dict(session.exec(select(Station.id, Station.code)).all())
    heads = list(session.exec(select(TreeHeadRow).order_by(TreeHeadRow.tree_size)))
    head_at = 0
    previous: TreeHeadRow | None = None
    frontier = merkle.Frontier()
    store = tlog.DbNodeStore(session)

    def check_heads() -> None:
        nonlocal head_at, previous
        while head_at < len(heads) and heads[head_at].tree_size == frontier.size:
            row = heads[head_at]
            head_at += 1
            report.heads += 1
            _check_head(report, row, frontier.root(), root_keys)
            if previous is not None:
                _check_consistency(report, previous, row, store)
            previous = row

    check_heads()
    start = 0
    while True:
        leaves = list(
            session.exec(
                select(LogLeaf)
                .where(LogLeaf.leaf_index >= start)
                .order_by(LogLeaf.leaf_index)
                .limit(chunk)
            )
        )
        if not leaves:
            break
        expected: dict[merkle.Node, bytes] = {}
        for leaf in leaves:
            if leaf.leaf_index != frontier.size:
                report.problem(f"leaf {frontier.size} is missing (next stored: {leaf.leaf_index})")
                return report
            _check_leaf_data(report, leaf)
            expected.update(frontier.append(merkle.leaf_hash(bytes(leaf.data))))
            check_heads()
        stored = store.get_nodes(list(expected))
        store.cache.clear()
        for node, value in expected.items():
            if stored.get(node) != value:
                report.problem(f"log node {node} is {'wrong' if node in stored else 'missing'}")
        report.nodes += len(expected)
        _check_rows(report, session, leaves, codes)
        start = leaves[-1].leaf_index + 1
    report.tree_size = frontier.size
    for row in heads[head_at:]:
        report.problem(f"tree head of size {row.tree_size} is beyond the log ({frontier.size})")
    total_nodes = session.exec(select(func.count()).select_from(LogNode)).one()
    if total_nodes != report.nodes:
        report.problem(f"log_node holds {total_nodes} rows, the leaves make {report.nodes}")
    state = session.get(LogState, 1)
    if (
        state is None
        or state.tree_size != frontier.size
        or bytes(state.frontier) != frontier.to_bytes()
    ):
        report.problem("log_state (size or frontier) does not match the leaves")
    for model, counted, name in (
        (Certificate, report.certificates, "certificate"),
        (Revocation, report.revocations, "revocation"),
    ):
        rows = session.exec(select(func.count()).select_from(model)).one()
        if rows != counted:
            report.problem(f"{rows} {name} rows but {counted} {name} leaves")
    return report


def _check_leaf_data(report: LogReport, leaf: LogLeaf) -> None:
    data = bytes(leaf.data)
    try:
        parsed = json.loads(data)
        canonical = jcs.canonical(parsed) == data
    except (ValueError, jcs.CanonicalizationError):
        parsed, canonical = None, False
    if not canonical or not isinstance(parsed, dict):
        report.problem(f"leaf {leaf.leaf_index}: data is not canonical JSON")
    elif parsed.get("kind") != leaf.kind or parsed.get("number") != leaf.number:
        report.problem(f"leaf {leaf.leaf_index}: kind/number columns differ from its data")


def _check_head(report: LogReport, row: TreeHeadRow, root: bytes, root_keys: dict) -> None:
    if bytes(row.root_hash) != root:
        report.problem(f"tree head {row.tree_size}: root hash differs from the recomputed one")
    key = root_keys.get(row.key_id)
    if key is None:
        report.problem(f"tree head {row.tree_size}: signed by unknown key {row.key_id}")
        return
    head = tree_heads.TreeHead(row.tree_size, bytes(row.root_hash), row.timestamp_ms)
    try:
        tree_heads.verify_tree_head(
            tree_heads.SignedTreeHead(head, row.key_id, bytes(row.signature)), key
        )
    except merkle.ProofError as exc:
        report.problem(f"tree head {row.tree_size}: {exc}")


def _check_consistency(
    report: LogReport, old: TreeHeadRow, new: TreeHeadRow, store: tlog.DbNodeStore
) -> None:
    try:
        proof = merkle.consistency_proof(old.tree_size, new.tree_size, store)
        merkle.verify_consistency(
            old.tree_size, new.tree_size, bytes(old.root_hash), bytes(new.root_hash), proof
        )
    except merkle.MerkleError as exc:
        report.problem(f"tree heads {old.tree_size} -> {new.tree_size} inconsistent: {exc}")


def _check_rows(report: LogReport, session: Session, leaves: list[LogLeaf], codes: dict) -> None:
    first, last = leaves[0].leaf_index, leaves[-1].leaf_index
    by_index = {leaf.leaf_index: leaf for leaf in leaves}
    seen: set[int] = set()
    for c in session.exec(select(Certificate).where(Certificate.leaf_index.between(first, last))):
        seen.add(c.leaf_index)
        report.certificates += 1
        data = tlog.certificate_leaf(
            number=c.number,
            station=codes.get(c.station_id, "?"),
            record_sha256=c.record_sha256,
            accepted_at=c.accepted_at,
        )
        if bytes(by_index[c.leaf_index].data) != data:
            report.problem(f"certificate {c.number}: leaf {c.leaf_index} holds other data")
    for r in session.exec(select(Revocation).where(Revocation.leaf_index.between(first, last))):
        seen.add(r.leaf_index)
        report.revocations += 1
        data = tlog.revocation_leaf(
            number=r.number, reason=r.reason, revoked_at=r.revoked_at, origin=r.origin
        )
        if bytes(by_index[r.leaf_index].data) != data:
            report.problem(f"revocation of {r.number}: leaf {r.leaf_index} holds other data")
    for index in sorted(set(by_index) - seen):
        report.problem(f"leaf {index} ({by_index[index].kind}) belongs to no stored row")
