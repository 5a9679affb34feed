"""The hash chain of an append-only audit log, shared by the station and the registry.

Each entry's hash covers its own fields and the previous entry's hash, so editing any entry
breaks the chain from there on; ``seq`` is dense (1, 2, 3 …), so deleting one leaves a gap; and
the chain's tip (newest ``seq`` and hash) is kept in a row of its own, written in the same
transaction as the entry, so deleting or replacing the newest entries is caught too. Each side
has its own ``audit_entry`` and ``audit_head`` tables (same columns); :func:`append` writes an
entry, :func:`check_chain` walks what was stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import text

GENESIS = "0" * 64


class Entry(Protocol):
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    reason: str
    data: dict
    prev_hash: str
    hash: str


def digest(prev_hash: str, seq: int, at: datetime, actor: str, action: str, subject: str,
           reason: str, data: dict) -> str:  # fmt: skip
    """SHA-256 of the previous hash and a canonical JSON array of the entry's fields."""
    body = json.dumps(
        [seq, at.isoformat(timespec="microseconds"), actor, action, subject, reason, data],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def plain_data(data: dict[str, Any] | None) -> dict:
    """``data`` as the JSON column will give it back (so that what is hashed is what is read)."""
    return json.loads(json.dumps(data or {}, ensure_ascii=False, default=str))


def append(session: Any, entry_type: type, *, at: datetime, actor: str, action: str,
           subject: str, reason: str, data: dict | None) -> Any:  # fmt: skip
    """Add an entry of ``entry_type`` (the side's ``audit_entry`` model) in the caller's
    transaction. The ``UPDATE … RETURNING`` on the head row comes first: it takes SQLite's write
    lock, or on PostgreSQL that row's lock until commit, so two writers (threads or gunicorn
    workers) never chain onto the same tip."""
    connection = session.connection()
    seq, prev_hash = connection.execute(
        text("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")).one()  # fmt: skip
    data = plain_data(data)
    entry_hash = digest(prev_hash, seq, at, actor, action, subject, reason, data)
    entry = entry_type(seq=seq, at=at, actor=actor, action=action, subject=subject,
                       reason=reason, data=data, prev_hash=prev_hash, hash=entry_hash)  # fmt: skip
    session.add(entry)
    connection.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": entry_hash})
    session.flush()
    return entry


@dataclass
class ChainReport:
    entries: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_chain(entries: Iterable[Entry], head: tuple[int, str] | None) -> ChainReport:
    """Walk ``entries`` in ``seq`` order against the stored ``head`` (seq, hash): how many there
    are and every break found: edited, deleted, reordered or replaced entries."""
    problems: list[str] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            problems.append(f"第 {expected_seq}–{entry.seq - 1} 条记录缺失 (entries deleted)")
        if entry.prev_hash != prev_hash:
            problems.append(f"第 {entry.seq} 条记录的前序哈希不符 (chain broken before it)")
        computed = digest(entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action,
                          entry.subject, entry.reason, entry.data)  # fmt: skip
        if computed != entry.hash:
            problems.append(f"第 {entry.seq} 条记录内容被修改 (entry edited)")
        prev_hash, expected_seq = entry.hash, entry.seq + 1
    if head is None:
        problems.append("审计链头记录缺失 (audit head missing)")
    elif head[0] != expected_seq - 1:
        problems.append(
            f"链头记录为第 {head[0]} 条，但日志只到第 {expected_seq - 1} 条 (newest entries deleted)"
        )
    elif head[1] != prev_hash:
        problems.append("链头哈希与最后一条记录不符 (last entry replaced)")
    return ChainReport(count, problems)
