"""The transparency log in the database: appends under a row lock, tree heads, proofs.

Every append runs inside the caller's transaction after :func:`lock_log`, an UPDATE of the one
``log_state`` row: on PostgreSQL that row lock is held until commit, so a second worker's push
waits there and then reads the size the first one committed; SQLite takes its database write
lock the same way. Nothing about the log is kept in process memory between requests.

Leaf data is RFC 8785 JSON (docs/sync-protocol.md, "Transparency log")::

    {"kind": "certificate", "number", "station", "record_sha256", "accepted_at"}
    {"kind": "revocation", "number", "reason", "revoked_at", "origin"}
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Table, func, insert, tuple_, update
from sqlmodel import Session, select

from certs import jcs
from sync import merkle, tree_heads
from sync.registry.keys import RootSigner
from sync.registry.models import LogLeaf, LogNode, LogState, TreeHeadRow
from sync.registry.models_common import utcnow
from sync.registry.services.errors import InvalidInput, NotFound


def iso_utc(moment: datetime) -> str:
    """``2026-11-29T08:00:00.123456Z``: the one spelling of a timestamp in leaves and JSON."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def certificate_leaf(
    *, number: str, station: str, record_sha256: str, accepted_at: datetime
) -> bytes:
    return jcs.canonical(
        {
            "kind": "certificate",
            "number": number,
            "station": station,
            "record_sha256": record_sha256,
            "accepted_at": iso_utc(accepted_at),
        }
    )


def revocation_leaf(*, number: str, reason: str, revoked_at: datetime, origin: str) -> bytes:
    return jcs.canonical(
        {
            "kind": "revocation",
            "number": number,
            "reason": reason,
            "revoked_at": iso_utc(revoked_at),
            "origin": origin,
        }
    )


class DbNodeStore:
    """:class:`sync.merkle.NodeReader` over ``log_node``, with a cache in front.

    ``fresh`` holds nodes written in this transaction (so proofs for a batch just appended
    mostly need no query at all); whatever is fetched is remembered for the next proof.
    """

    def __init__(self, session: Session, fresh: Mapping[merkle.Node, bytes] | None = None):
        self.session = session
        self.cache: dict[merkle.Node, bytes] = dict(fresh or {})

    def get_nodes(self, nodes: Sequence[merkle.Node]) -> Mapping[merkle.Node, bytes]:
        missing = [n for n in nodes if n not in self.cache]
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            rows = self.session.exec(
                select(LogNode.level, LogNode.idx, LogNode.hash).where(
                    tuple_(LogNode.level, LogNode.idx).in_(chunk)
                )
            )
            for level, idx, value in rows:
                self.cache[(level, idx)] = bytes(value)
        return {n: self.cache[n] for n in nodes if n in self.cache}


class LogAppender:
    """Appends leaves to the locked log; :meth:`finish` stores everything and signs the head."""

    def __init__(self, session: Session, state: LogState):
        self.session = session
        self.state = state
        self.frontier = merkle.Frontier.from_bytes(state.tree_size, bytes(state.frontier))
        self.new_nodes: dict[merkle.Node, bytes] = {}
        self.leaves: list[dict] = []

    @property
    def size(self) -> int:
        return self.frontier.size

    def append(self, *, kind: str, number: str, data: bytes, at: datetime) -> int:
        """Append one leaf; return its index."""
        index = self.frontier.size
        self.new_nodes.update(self.frontier.append(merkle.leaf_hash(data)))
        self.leaves.append(
            {"leaf_index": index, "kind": kind, "number": number, "data": data, "created_at": at}
        )
        return index

    def finish(
        self, signer: RootSigner, *, now: datetime | None = None
    ) -> tree_heads.SignedTreeHead:
        """Write leaves, nodes and the new state, and sign and store the new tree head. When
        nothing was appended, the newest stored head is returned (nothing is signed)."""
        if not self.leaves:
            return latest_tree_head(self.session)
        now = now or utcnow()
        bulk_insert(self.session, LogLeaf.__table__, self.leaves)  # type: ignore[arg-type]
        bulk_insert(
            self.session,
            LogNode.__table__,  # type: ignore[arg-type]
            [
                {"level": level, "idx": idx, "hash": value}
                for (level, idx), value in self.new_nodes.items()
            ],
        )
        self.session.execute(
            update(LogState)
            .where(LogState.id == 1)
            .values(tree_size=self.frontier.size, frontier=self.frontier.to_bytes(), updated_at=now)
        )
        self.leaves = []
        return store_tree_head(self.session, signer, self.frontier.size, self.frontier.root(), now)

    def store(self) -> DbNodeStore:
        return DbNodeStore(self.session, self.new_nodes)


def bulk_insert(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert plain rows (the same keys in each) in one go, inside the session's transaction:
    ``COPY … FROM STDIN`` on PostgreSQL, one executemany elsewhere. Values go through each
    column type's own bind processing (and JSON through the engine's serializer), so what is
    stored is what an INSERT would store."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        connection.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    # Only the columns whose type converts a value are touched (the rest go as they are), and
    # each datetime object is converted once per call: a push stamps one ``now`` on every row.
    convert = [
        (i, fn)
        for i, name in enumerate(names)
        if (fn := _copy_value(table.c[name].type, dialect)) is not None
    ]
    quote = dialect.identifier_preparer
    statement = (
        f"COPY {quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)}) FROM STDIN"
    )
    driver = connection.connection.driver_connection  # the psycopg connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            values = [row[name] for name in names]
            for i, fn in convert:
                values[i] = fn(values[i])
            copy.write_row(values)


def _copy_value(column_type: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """How a value of ``column_type`` is converted for COPY; None when it goes as it is."""
    if isinstance(column_type, JSON):
        dumps = getattr(dialect, "_json_serializer", None) or json.dumps
        return lambda value: None if value is None else dumps(value)
    process = column_type.bind_processor(dialect)
    return None if process is None else _same_datetime_once(process)


def _same_datetime_once(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process``, remembering its answer for the last ``datetime`` object it was given (by
    identity: a datetime is immutable and a bind processor is a function of its value)."""
    last: list[Any] = [None, None]

    def convert(value: Any) -> Any:
        if type(value) is datetime:
            if value is last[0]:
                return last[1]
            last[0], last[1] = value, process(value)
            return last[1]
        return process(value)

    return convert


def store_tree_head(
    session: Session, signer: RootSigner, size: int, root_hash: bytes, now: datetime
) -> tree_heads.SignedTreeHead:
    head = tree_heads.TreeHead(size, root_hash, int(now.timestamp() * 1000))
    sth = tree_heads.sign_tree_head(head, signer.private_key, signer.kid)
    session.add(
        TreeHeadRow(
            tree_size=size,
            root_hash=root_hash,
            timestamp_ms=head.timestamp_ms,
            key_id=sth.key_id,
            signature=sth.signature,
            created_at=now,
        )
    )
    session.flush()
    return sth


def ensure_first_head(session: Session, signer: RootSigner) -> bool:
    """Sign the empty log's tree head once (``registry init``), so there always is one."""
    if session.exec(select(TreeHeadRow).limit(1)).first() is not None:
        return False
    store_tree_head(session, signer, 0, merkle.EMPTY_ROOT, utcnow())
    return True


def lock_log(session: Session) -> LogAppender:
    """Take the log's row lock (held to the end of the transaction) and start appending."""
    session.execute(update(LogState).where(LogState.id == 1).values(updated_at=utcnow()))
    state = session.exec(
        select(LogState).where(LogState.id == 1).execution_options(populate_existing=True)
    ).one()
    return LogAppender(session, state)


# --------------------------------------------------------------------------- reading


def _head_from_row(row: TreeHeadRow) -> tree_heads.SignedTreeHead:
    head = tree_heads.TreeHead(row.tree_size, bytes(row.root_hash), row.timestamp_ms)
    return tree_heads.SignedTreeHead(head, row.key_id, bytes(row.signature))


def head_dict(row: TreeHeadRow) -> dict:
    return _head_from_row(row).to_dict()


def latest_tree_head(session: Session) -> tree_heads.SignedTreeHead:
    """The newest signed tree head (``registry init`` signs the empty tree's)."""
    row = session.exec(select(TreeHeadRow).order_by(TreeHeadRow.tree_size.desc()).limit(1)).first()
    if row is None:
        raise NotFound("透明日志尚无签名树头：请先运行 `registry init` (no tree head yet)")
    return _head_from_row(row)


def tree_head_at(session: Session, tree_size: int) -> tree_heads.SignedTreeHead:
    row = session.get(TreeHeadRow, tree_size)
    if row is None:
        raise NotFound(f"tree_size: 没有大小为 {tree_size} 的签名树头 (no tree head of that size)")
    return _head_from_row(row)


def b64_proof(proof: Iterable[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in proof]


def receipt(leaf_index: int, tree_size: int, store: merkle.NodeReader) -> dict:
    """An inclusion receipt (:class:`sync.tree_heads.InclusionReceipt` JSON)."""
    proof = merkle.inclusion_proof(leaf_index, tree_size, store)
    return tree_heads.InclusionReceipt(leaf_index, tree_size, tuple(proof)).to_dict()


def receipts(leaf_indices: Sequence[int], tree_size: int, store: merkle.NodeReader) -> list[dict]:
    """``[receipt(i, tree_size, store) for i in leaf_indices]`` for a batch just appended: its
    proofs share most hashes, so each is computed (:func:`sync.merkle.inclusion_proofs`) and
    base64-encoded once. The dicts are equal to :func:`receipt`'s, key order included."""
    proofs = merkle.inclusion_proofs(leaf_indices, tree_size, store)
    text: dict[bytes, str] = {}
    out = []
    for leaf_index, proof in zip(leaf_indices, proofs, strict=True):
        encoded = []
        for h in proof:
            value = text.get(h)
            if value is None:
                value = text[h] = base64.b64encode(h).decode("ascii")
            encoded.append(value)
        out.append({"leaf_index": leaf_index, "tree_size": tree_size, "inclusion_proof": encoded})
    return out


def leaf(session: Session, leaf_index: int) -> LogLeaf:
    row = session.get(LogLeaf, leaf_index)
    if row is None:
        raise NotFound(f"leaf_index: 日志中没有第 {leaf_index} 个叶子 (no such leaf)")
    return row


def inclusion(session: Session, leaf_index: int, *, tree_size: int | None = None) -> dict:
    """Leaf data, receipt and the signed tree head it is proven against (the newest by
    default, or the stored head of ``tree_size``)."""
    sth = latest_tree_head(session) if tree_size is None else tree_head_at(session, tree_size)
    if leaf_index >= sth.head.tree_size:
        raise NotFound(
            f"leaf_index: 第 {leaf_index} 个叶子不在大小为 {sth.head.tree_size} 的树中 "
            "(leaf not in that tree)"
        )
    row = leaf(session, leaf_index)
    return {
        "leaf": bytes(row.data).decode("utf-8"),
        "receipt": receipt(leaf_index, sth.head.tree_size, DbNodeStore(session)),
        "tree_head": sth.to_dict(),
    }


def current_size(session: Session) -> int:
    return session.exec(select(LogState.tree_size).where(LogState.id == 1)).one()


def consistency(session: Session, first: int, second: int) -> dict:
    """PROOF(first, second) between two tree sizes of the log (``second`` ≤ the current size)."""
    size = current_size(session)
    if not 0 <= first <= second:
        raise InvalidInput(f"first/second: 需要 0 ≤ first ≤ second，实际为 {first}, {second}")
    if second > size:
        raise InvalidInput(f"second: 日志当前大小为 {size}，不能超过它 (beyond the log's size)")
    proof = merkle.consistency_proof(first, second, DbNodeStore(session))
    return {"first": first, "second": second, "consistency_proof": b64_proof(proof)}


def node_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(LogNode)).one()
