"""``POST /api/v1/sync/push``: store each record once forever and answer per record.

Two phases. First every record is checked on its own (signatures, token, endorsement; see
:mod:`sync.registry.services.push_checks`) with no lock held. Then the log's row lock is taken
(:func:`sync.registry.services.log.lock_log`) and, in batch order, each record is compared with
what is stored: under that lock no other worker can store a record, certificate or revocation,
so "is it already there?" and "store it" cannot race.

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
from datetime import datetime
from typing import Any

from sqlalchemy import insert
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


def _rejected(rid: str | None, reason: str) -> Result:
    return lambda: {"id": rid, "status": "rejected", "reason": reason}


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
        self.batch = batch
        self.appender = tlog.lock_log(session)
        self.records: dict[str, SyncRecord] = {}
        self.certificates: dict[str, Certificate] = {}
        self.revoked: dict[str, Revocation] = {}
        self.to_prove: list[tuple[SyncRecord, int, bytes]] = []
        self.new_records: list[SyncRecord] = []
        self.new_certificates: list[Certificate] = []
        self.new_summaries: list[ResultSummary] = []
        self.new_revocations: list[Revocation] = []
        self.operator_receipts: list[tuple[dict, Revocation]] = []
        self.new_key = False

    def load(self, ready: list[Prepared]) -> None:
        ids = list({p.record.id for p in ready})
        numbers = list({n for p in ready for n in [_number(p)] if n})
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            self.records.update(
                (r.id, r)
                for r in self.session.exec(select(SyncRecord).where(SyncRecord.id.in_(chunk)))
            )
        if numbers:
            self.certificates.update(
                (c.number, c)
                for c in self.session.exec(
                    select(Certificate).where(Certificate.number.in_(numbers))
                )
            )
            self.revoked.update(
                (r.number, r)
                for r in self.session.exec(select(Revocation).where(Revocation.number.in_(numbers)))
            )

    # ---- per record

    def decide(self, p: Prepared) -> Result:
        rid = p.record.id
        stored = self.records.get(rid)
        if stored is not None:
            if stored.content_sha256 == p.content_sha256:
                return self._duplicate(rid, stored)
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
            self.new_summaries.append(p.summary_row(self.station))
        return self._accepted(row)

    def _store(self, p: Prepared, receipt: dict | None = None) -> SyncRecord:
        row = SyncRecord(
            id=p.record.id,
            station_id=self.station.id,
            kind=p.record.kind,
            created_at=p.record.created_at,
            received_at=self.now,
            batch=self.batch,
            kid=p.record.kid,
            content_sha256=p.content_sha256,
            payload=p.stored_payload,
            receipt=receipt or {"record_id": p.record.id, "accepted_at": tlog.iso_utc(self.now)},
        )
        self.new_records.append(row)
        self.records[row.id] = row
        return row

    def _accepted(self, row: SyncRecord) -> Result:
        return lambda: {"id": row.id, "status": "accepted", "receipt": dict(row.receipt)}

    def _duplicate(self, rid: str, row: SyncRecord) -> Result:
        return lambda: {"id": rid, "status": "duplicate", "receipt": dict(row.receipt)}

    def _certificate(self, p: Prepared) -> Result:
        cert = p.certificate
        assert cert is not None and p.record_sha256 is not None
        existing = self.certificates.get(cert.number)
        if existing is not None:
            if existing.record_sha256 == p.record_sha256:
                original = self.records.get(existing.record_id) or self.session.get(
                    SyncRecord, existing.record_id
                )
                return self._duplicate(p.record.id, original)  # type: ignore[arg-type]
            return _rejected(
                p.record.id,
                f"conflict: payload.signed_record: 证书编号 "
                f"{cert.number} 已以不同的证书记录登记 "
                "(another record holds this number)",
            )
        data = tlog.certificate_leaf(
            number=cert.number,
            station=self.station.code,
            record_sha256=p.record_sha256,
            accepted_at=self.now,
        )
        index = self.appender.append(kind="certificate", number=cert.number, data=data, at=self.now)
        row = self._store(
            p,
            {
                "record_id": p.record.id,
                "accepted_at": tlog.iso_utc(self.now),
                "kind": "certificate",
                "number": cert.number,
            },
        )
        self.certificates[cert.number] = p.certificate_row(self.station.id, index, self.now)
        self.new_certificates.append(self.certificates[cert.number])
        self.to_prove.append((row, index, data))
        return self._accepted(row)

    def _revocation(self, p: Prepared) -> Result:
        number = p.record.payload["number"]
        rid = p.record.id
        cert = self.certificates.get(number)
        if cert is None:
            return _rejected(
                rid,
                f"unknown_certificate: payload.number: 证书 {number} 尚未登记"
                " (certificate not recorded)",
            )
        if cert.station_id != self.station.id:
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
                "accepted_at": tlog.iso_utc(self.now),
                "kind": "revocation",
                "number": number,
            },
        )
        revocation, data = revocations.append_revocation(
            self.session,
            self.appender,
            certificate=cert,
            reason=p.record.payload["reason"],
            origin="station",
            actor=self.station.code,
            record_id=rid,
            now=self.now,
        )
        self.revoked[number] = revocation
        self.new_revocations.append(revocation)
        self.to_prove.append((row, revocation.leaf_index, data))
        return self._accepted(row)

    def _revocation_duplicate(self, rid: str, existing: Revocation) -> Result:
        if existing.record_id is not None:
            original = self.records.get(existing.record_id) or self.session.get(
                SyncRecord, existing.record_id
            )
            if original is not None:
                return self._duplicate(rid, original)
        holder: dict[str, Any] = {}
        self.operator_receipts.append((holder, existing))
        return lambda: {"id": rid, "status": "duplicate", "receipt": holder}

    def _station_key(self, p: Prepared) -> Result:
        new = p.new_key
        assert new is not None
        taken = self.session.exec(select(StationKeyRow).where(StationKeyRow.kid == new.kid)).first()
        if taken is not None:
            if taken.station_id == self.station.id and taken.valid_from == new.valid_from:
                return self._accepted(self._store(p))  # announced again under a new record id
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
        return self._accepted(self._store(p))

    # ---- after the batch

    def finish(self):
        """Sign the tree head, fill in the receipts and write everything, parents first."""
        sth = self.appender.finish(self.signer, now=self.now)
        store = self.appender.store()
        for row, index, data in self.to_prove:
            proof = tlog.receipt(index, sth.head.tree_size, store)
            row.receipt = {**row.receipt, "leaf": data.decode("utf-8"), **proof}
        for holder, revocation in self.operator_receipts:
            holder.update(
                {
                    "kind": "revocation",
                    "number": revocation.number,
                    "accepted_at": tlog.iso_utc(revocation.revoked_at),
                    **tlog.receipt(revocation.leaf_index, sth.head.tree_size, store),
                }
            )
        _insert(self.session, SyncRecord, self.new_records)
        _insert(self.session, Certificate, self.new_certificates)
        _insert(self.session, ResultSummary, self.new_summaries)
        if self.new_revocations:
            numbers = [r.number for r in self.new_revocations]
            ids = dict(
                self.session.exec(
                    select(Certificate.number, Certificate.id).where(
                        Certificate.number.in_(numbers)
                    )
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
            _insert(self.session, Revocation, self.new_revocations)
        if self.new_key:
            feed.add_event(
                self.session,
                kind="trust_list",
                payload=stations.signed_trust_list(self.session, self.signer),
                actor=f"station:{self.station.code}",
                now=self.now,
            )
        return sth

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


def _insert(session: Session, model: type, rows: list) -> None:
    """Insert transient model rows in one statement (ORM flushes would not order the tables)."""
    if rows:
        values = [
            row.model_dump(
                exclude={"id"} if "id" in model.model_fields and row.id is None else set()
            )
            for row in rows
        ]
        session.execute(insert(model), values)


def _number(p: Prepared) -> str | None:
    if p.certificate is not None:
        return p.certificate.number
    if p.record.kind == protocol.KIND_REVOCATION_REQUEST:
        return p.record.payload["number"]
    return None
