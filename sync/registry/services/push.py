"""``POST /api/v1/sync/push``: store each record once forever and answer per record.

Two phases. First every record is checked on its own (signatures, token, endorsement; see
:mod:`sync.registry.services.push_checks`) with no lock held, and whatever does not depend on
the stored state is made then too (the rows' values, the certificates' log leaves). Then the
log's row lock is taken (:func:`sync.registry.services.log.lock_log`) and, in batch order, each
record is compared with what is stored: under that lock no other worker can store a record,
certificate or revocation, so "is it already there?" and "store it" cannot race. The locked
phase is kept short: three indexed look-ups for the whole batch, the Merkle appends in memory,
one signed tree head, the receipts, and one bulk write per table of plain values, no ORM objects
(:func:`sync.registry.services.log.bulk_insert`: COPY on PostgreSQL). The lock is held until
the caller commits.

- a record id already stored with the same content → ``duplicate`` with the original receipt;
  with different content → ``rejected: conflict``;
- a certificate number already stored with the identical signed record (another record id) →
  ``duplicate``; with a different record → ``rejected: conflict``;
- a revocation request for a certificate already revoked → ``duplicate`` (the revocation's
  receipt); for a certificate not recorded or issued by another station → rejected.

Accepted certificates and revocations append log leaves; one tree head is signed per push that
appended, and each receipt carries an inclusion proof against it. A duplicate's receipt is the
original one, with the stored tree head it was proven against added as ``tree_head``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, String, any_, bindparam
from sqlalchemy import select as columns
from sqlmodel import Session, select

from sync import protocol
from sync.protocol import ProtocolError
from sync.protocol_messages import parse_push_request
from sync.registry.keys import RootSigner
from sync.registry.models import (
    Certificate,
    ResultSummary,
    Revocation,
    Station,
    StationKeyRow,
    SyncRecord,
    TreeHeadRow,
)
from sync.registry.models_common import utcnow
from sync.registry.services import feed, revocations, stations
from sync.registry.services import log as tlog
from sync.registry.services.errors import InvalidInput
from sync.registry.services.push_checks import Prepared, Reject, StationKeys, prepare

Result = Callable[[], dict[str, Any]]
Row = dict[str, Any]  # a sync_record row: stored (id, content_sha256, receipt) or new (all)
CHUNK = 500  # values per IN (...) list


def _rejected(rid: str | None, reason: str) -> Result:
    return lambda: {"id": rid, "status": "rejected", "reason": reason}


@dataclass
class _Known:
    """A certificate stored earlier or accepted earlier in this batch: what later checks need
    (``id`` is None until the new row is inserted)."""

    number: str
    id: int | None
    station_id: int
    record_sha256: str
    record_id: str


def ingest_push(
    session: Session,
    *,
    station: Station,
    body: object,
    signer: RootSigner,
    secret: bytes,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Process a push body for the (already authenticated) ``station``.

    Returns ``{"tree_head": …, "results": […]}`` (the caller adds ``server_time``). Raises
    :class:`InvalidInput` when the envelope itself is malformed (nothing is stored then).
    """
    now = now or utcnow()
    try:
        request = parse_push_request(body)
    except ProtocolError as exc:
        raise InvalidInput(str(exc), code=exc.code) from None
    keys = StationKeys(stations.station_keys(session, station))
    results: list[Result | None] = [None] * len(request.records)
    ready: list[Prepared] = []
    for index, (raw, rid) in enumerate(zip(request.records, request.record_ids(), strict=True)):
        try:
            ready.append(prepare(index, raw, station=station, keys=keys, secret=secret))
        except Reject as verdict:
            results[index] = _rejected(rid, verdict.reason)
    for p in ready:  # leaves too are made before the lock (wasted only on duplicates)
        if p.certificate is not None and p.record_sha256 is not None:
            p.leaf = tlog.certificate_leaf(
                number=p.certificate.number,
                station=station.code,
                record_sha256=p.record_sha256,
                accepted_at=now,
            )
    run = _Run(session, station, signer, now, batch=request.batch)
    run.load(ready)
    for item in ready:
        results[item.index] = run.decide(item)
    sth = run.finish()
    station.last_seen_at = now
    session.add(station)
    session.flush()
    out = [result() for result in results if result is not None]
    run.attach_heads(out, sth.head.tree_size)
    return {"tree_head": sth.to_dict(), "results": out}


class _Run:
    """The locked phase of one push."""

    def __init__(
        self, session: Session, station: Station, signer: RootSigner, now: datetime, *, batch: str
    ):
        self.session = session
        self.station = station
        self.signer = signer
        self.now = now
        self.now_text = tlog.iso_utc(now)  # every receipt of the push says it
        self.batch = batch
        self.appender = tlog.lock_log(session)
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.records: dict[str, Row] = {}
        self.certificates: dict[str, _Known] = {}
        self.revoked: dict[str, Revocation] = {}
        self.to_prove: list[tuple[Row, int, bytes]] = []
        self.new_records: list[Row] = []
        self.new_certificates: list[Row] = []
        self.new_summaries: list[Row] = []
        self.new_revocations: list[Revocation] = []
        self.operator_receipts: list[tuple[dict, Revocation]] = []
        self.new_key = False

    def load(self, ready: list[Prepared]) -> None:
        """What the batch may collide with, in one query per table (per 500 values)."""
        ids = list({p.record.id for p in ready})
        numbers = list({n for p in ready for n in [_number(p)] if n})
        for chunk in _chunks(ids):
            self._remember(self._one_of(SyncRecord.id, chunk))
        for chunk in _chunks(numbers):
            for row in self.session.execute(
                columns(
                    Certificate.number,
                    Certificate.id,
                    Certificate.station_id,
                    Certificate.record_sha256,
                    Certificate.record_id,
                ).where(self._one_of(Certificate.number, chunk))
            ):
                self.certificates[row.number] = _Known(*row)
            self.revoked.update(
                (r.number, r)
                for r in self.session.exec(
                    select(Revocation).where(self._one_of(Revocation.number, chunk))
                )
            )

    def _one_of(self, column, values: list[str]):
        """``column IN (values)``; on PostgreSQL ``column = ANY(:values)``, the same test with
        one array parameter: the statement is then the same text for every batch, so neither
        SQLAlchemy nor psycopg renders and parses 200 placeholders per query."""
        if self.postgres:  # VARCHAR[] as IN's placeholders are VARCHAR (no length: no cut)
            return column == any_(bindparam(None, values, type_=ARRAY(String())))
        return column.in_(values)

    def _remember(self, condition) -> None:
        query = columns(SyncRecord.id, SyncRecord.content_sha256, SyncRecord.receipt)
        for rid, digest, receipt in self.session.execute(query.where(condition)):
            self.records[rid] = {"id": rid, "content_sha256": digest, "receipt": receipt}

    def _record(self, rid: str) -> Row | None:
        """A sync record by id: from this batch, the batch's look-up, or the database."""
        if rid not in self.records:
            self._remember(SyncRecord.id == rid)
        return self.records.get(rid)

    # ---- per record

    def decide(self, p: Prepared) -> Result:
        rid = p.record.id
        stored = self.records.get(rid)
        if stored is not None:
            if stored["content_sha256"] == p.content_sha256:
                return _duplicate(rid, stored)
            return _rejected(
                rid,
                f"conflict: id: 记录 {rid} 已以不同内容登记 "
                "(another record was stored under this id)",
            )
        kind = p.record.kind
        if kind == protocol.KIND_CERTIFICATE:
            return self._certificate(p)
        if kind == protocol.KIND_REVOCATION_REQUEST:
            return self._revocation(p)
        if kind == protocol.KIND_STATION_KEY:
            return self._station_key(p)
        row = self._store(p)
        if kind == protocol.KIND_RESULT_SUMMARY:
            self.new_summaries.append(p.summary_values(self.station))
        return _accepted(row)

    def _store(self, p: Prepared, receipt: dict | None = None) -> Row:
        row = p.record_values(
            station_id=self.station.id,  # type: ignore[arg-type]
            batch=self.batch,
            now=self.now,
            receipt=receipt or {"record_id": p.record.id, "accepted_at": self.now_text},
        )
        self.new_records.append(row)
        self.records[row["id"]] = row
        return row

    def _certificate(self, p: Prepared) -> Result:
        cert = p.certificate
        assert cert is not None and p.record_sha256 is not None and p.leaf is not None
        existing = self.certificates.get(cert.number)
        if existing is not None:
            if existing.record_sha256 == p.record_sha256:
                original = self._record(existing.record_id)
                assert original is not None  # a certificate row references its sync record
                return _duplicate(p.record.id, original)
            return _rejected(
                p.record.id,
                f"conflict: payload.signed_record: 证书编号 "
                f"{cert.number} 已以不同的证书记录登记 "
                "(another record holds this number)",
            )
        index = self.appender.append(
            kind="certificate", number=cert.number, data=p.leaf, at=self.now
        )
        row = self._store(
            p,
            {
                "record_id": p.record.id,
                "accepted_at": self.now_text,
                "kind": "certificate",
                "number": cert.number,
            },
        )
        station_id: int = self.station.id  # type: ignore[assignment]
        self.new_certificates.append(p.certificate_values(station_id, index, self.now))
        self.certificates[cert.number] = _Known(
            cert.number, None, station_id, p.record_sha256, p.record.id
        )
        self.to_prove.append((row, index, p.leaf))
        return _accepted(row)

    def _revocation(self, p: Prepared) -> Result:
        number = p.record.payload["number"]
        rid = p.record.id
        known = self.certificates.get(number)
        if known is None:
            return _rejected(
                rid,
                f"unknown_certificate: payload.number: 证书 {number} 尚未登记"
                " (certificate not recorded)",
            )
        if known.station_id != self.station.id:
            return _rejected(
                rid,
                f"not_issuer: payload.number: 证书 {number} 不是本站点签发的"
                " (only the issuing station may request a revocation)",
            )
        existing = self.revoked.get(number)
        if existing is not None:
            return self._revocation_duplicate(rid, existing)
        row = self._store(
            p,
            {
                "record_id": rid,
                "accepted_at": self.now_text,
                "kind": "revocation",
                "number": number,
            },
        )
        revocation, data = revocations.append_revocation(
            self.session,
            self.appender,
            certificate=Certificate(id=known.id, number=number, station_id=known.station_id),
            reason=p.record.payload["reason"],
            origin="station",
            actor=self.station.code,
            record_id=rid,
            now=self.now,
        )
        self.revoked[number] = revocation
        self.new_revocations.append(revocation)
        self.to_prove.append((row, revocation.leaf_index, data))
        return _accepted(row)

    def _revocation_duplicate(self, rid: str, existing: Revocation) -> Result:
        if existing.record_id is not None:
            original = self._record(existing.record_id)
            if original is not None:
                return _duplicate(rid, original)
        holder: dict[str, Any] = {}
        self.operator_receipts.append((holder, existing))
        return lambda: {"id": rid, "status": "duplicate", "receipt": holder}

    def _station_key(self, p: Prepared) -> Result:
        new = p.new_key
        assert new is not None
        taken = self.session.exec(select(StationKeyRow).where(StationKeyRow.kid == new.kid)).first()
        if taken is not None:
            if taken.station_id == self.station.id and taken.valid_from == new.valid_from:
                return _accepted(self._store(p))  # announced again under a new record id
            return _rejected(
                p.record.id,
                f"conflict: payload.kid: 密钥 {new.kid} 已登记 (kid already registered)",
            )
        stations.add_key(
            self.session,
            self.station,
            new,
            source="rotation",
            endorsed_by=p.record.payload["endorsed_by"],
            now=self.now,
        )
        self.new_key = True
        return _accepted(self._store(p))

    # ---- after the batch

    def finish(self):
        """Sign the tree head, fill in the receipts and write everything, parents first."""
        sth = self.appender.finish(self.signer, now=self.now)
        store = self.appender.store()
        proofs = tlog.receipts([index for _, index, _ in self.to_prove], sth.head.tree_size, store)
        for (row, _, data), proof in zip(self.to_prove, proofs, strict=True):
            row["receipt"] = {**row["receipt"], "leaf": data.decode("utf-8"), **proof}
        for holder, revocation in self.operator_receipts:
            # The leaf too, as every other receipt has it: without it a station cannot check
            # the proof offline (its ``check_receipt`` needs the leaf to hash).
            leaf = bytes(tlog.leaf(self.session, revocation.leaf_index).data).decode("utf-8")
            holder.update(
                {
                    "kind": "revocation",
                    "number": revocation.number,
                    "accepted_at": tlog.iso_utc(revocation.revoked_at),
                    "leaf": leaf,
                    **tlog.receipt(revocation.leaf_index, sth.head.tree_size, store),
                }
            )
        for model, rows in (
            (SyncRecord, self.new_records),  # parents first
            (Certificate, self.new_certificates),
            (ResultSummary, self.new_summaries),
        ):
            tlog.bulk_insert(self.session, model.__table__, rows)  # type: ignore[attr-defined]
        if self.new_revocations:
            self._store_revocations()
        if self.new_key:
            feed.add_event(
                self.session,
                kind="trust_list",
                payload=stations.signed_trust_list(self.session, self.signer),
                actor=f"station:{self.station.code}",
                now=self.now,
            )
        return sth

    def _store_revocations(self) -> None:
        numbers = [r.number for r in self.new_revocations]
        ids = dict(
            self.session.execute(
                columns(Certificate.number, Certificate.id).where(Certificate.number.in_(numbers))
            ).all()
        )
        events = feed.add_events(
            self.session,
            [
                {"kind": "revocation", "payload": revocations.event_payload(r)}
                for r in self.new_revocations
            ],
            actor=f"station:{self.station.code}",
            now=self.now,
        )
        for revocation, event in zip(self.new_revocations, events, strict=True):
            revocation.certificate_id, revocation.feed_seq = ids[revocation.number], event.seq
        rows = [r.model_dump(exclude={"id"}) for r in self.new_revocations]
        tlog.bulk_insert(self.session, Revocation.__table__, rows)  # type: ignore[arg-type]

    def attach_heads(self, results: list[dict[str, Any]], current: int) -> None:
        """Duplicates proven against an older tree head get that head in the receipt."""
        sizes = {
            r["receipt"]["tree_size"]
            for r in results
            if r["status"] == "duplicate" and r["receipt"].get("tree_size", current) != current
        }
        if not sizes:
            return
        heads = {
            row.tree_size: row
            for row in self.session.exec(
                select(TreeHeadRow).where(TreeHeadRow.tree_size.in_(sizes))
            )
        }
        for r in results:
            size = r.get("receipt", {}).get("tree_size")
            if r["status"] == "duplicate" and size in heads:
                r["receipt"]["tree_head"] = tlog.head_dict(heads[size])


def _accepted(row: Row) -> Result:
    return lambda: {"id": row["id"], "status": "accepted", "receipt": dict(row["receipt"])}


def _duplicate(rid: str, row: Row) -> Result:
    return lambda: {"id": rid, "status": "duplicate", "receipt": dict(row["receipt"])}


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def _number(p: Prepared) -> str | None:
    if p.certificate is not None:
        return p.certificate.number
    if p.record.kind == protocol.KIND_REVOCATION_REQUEST:
        return p.record.payload["number"]
    return None
