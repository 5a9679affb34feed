"""Push: send the outbox to the registry in batches and record its answer on every record.

One batch = at most 200 pending records in outbox order, each signed now with the key that was
signing when it was made (same id, same content: a re-sent record is a harmless duplicate).
Three short transactions per batch, none held across the network: read the batch, send, write
the answers. A crash between sending and writing only means the next push gets duplicates.

Per record: ``accepted``/``duplicate`` → done, receipt kept (inclusion proof and tree head);
``rejected`` → parked with the reason. No per-record answer (network, 5xx, refused request,
unreadable answer) → the records stay pending, the error is recorded and pushes back off
exponentially with jitter (:func:`sync.client_http.backoff_delay`).

One record the registry cannot process (it answers the whole batch with HTTP 500, or refuses
or garbles the batch) must not hold up everything queued behind it, so such a failure is
narrowed down before backing off (:func:`_isolate`): the batch is halved until a half goes
through or a single record is left; that record is sent alone twice more, and then the records
behind it are sent without it. Only if they go through while it failed alone three times is it
parked, with the registry's answer as the reason; it is never dropped and ``station sync
retry`` sends it again. If the others fail too, the registry itself is in trouble: nothing is
parked and the push backs off as usual.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field

import requests
from sqlmodel import col, select

from certs.jcs import canonical
from station import db as station_db
from station.models import OutboxRecord, OutboxStatus
from station.models.common import utcnow
from station.services import keys as station_keys
from station.services import sync_state
from station.services.errors import DomainError
from sync import merkle, outbox, protocol, tree_heads
from sync.client_http import RegistryClient, RegistryRefused, TransportError, backoff_delay
from sync.client_station import KeyRing, StationContext, client_for, hold_reason
from sync.protocol import ProtocolError
from sync.protocol_messages import (
    MAX_BATCH_RECORDS,
    PushRequest,
    PushResponse,
    PushResult,
    parse_push_response,
)

log = logging.getLogger(__name__)

PUSH_PATH = "/api/v1/sync/push"


@dataclass
class Outcome:
    """What happened to one record in this push (for ``station sync now``)."""

    id: str
    kind: str
    subject: str
    status: str
    reason: str = ""


@dataclass
class PushReport:
    sent: int = 0
    batches: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    error: str = ""
    skipped: str = ""  # why nothing was tried ("not enrolled", "backing off until …")
    retry_at: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.error

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def push(ctx: StationContext, *, force: bool = False, max_batches: int = 10_000,
         now: dt.datetime | None = None) -> PushReport:  # fmt: skip
    """Push pending records until none are left (or a batch fails).

    Without ``force`` (the scheduler) nothing is tried while the last failure's backoff runs.
    The batches of one run share one HTTP connection; each re-reads the state, so a key the
    registry accepted in one batch signs the requests of the next.
    """
    report = PushReport()
    with requests.Session() as http:
        for _ in range(max_batches):
            when = now or utcnow()
            with station_db.transaction(ctx.engine, write=False) as s:
                state = sync_state.peek(s)
                until = state.push_backoff_until if state is not None else None
                if held := hold_reason(state, until, when, force=force):
                    report.skipped = held
                    report.retry_at = until if sync_state.is_enrolled(state) else None
                    return report
                rows = outbox.pending_batch(s)
                ring = KeyRing(station_keys.all_keys(s), ctx.passphrase)
            if not rows:
                return report
            failure = _push_batch(ctx, state, ring, rows, report, when, http)  # type: ignore[arg-type]
            force = True  # the next batch follows at once
            if failure is not None and failure.narrowable:
                failure = _isolate(ctx, state, ring, rows, report, when, http, failure)  # type: ignore[arg-type]
                if failure is None:
                    continue  # part of it went through or one record was parked: go on
            if failure is not None:
                _failed(ctx, rows, failure.message, failure.client, report, when)
                return report
            if len(rows) < MAX_BATCH_RECORDS:
                return report
    return report


def _sign(rows: list[OutboxRecord], ring: KeyRing) -> tuple[PushRequest, dict[str, str]]:
    """Each row as a signed record (:class:`sync.protocol.SyncRecord`; what is signed is its
    ``signed_bytes()``, exactly as :func:`sync.protocol.sign_record` signs it, but the record
    is built and validated once instead of twice: a large backlog signs thousands)."""
    records, kids = [], {}
    for row in rows:
        key = ring.for_record(row.created_at)
        unsigned = protocol.SyncRecord(id=row.id, kind=row.kind, created_at=row.created_at,
                                       payload=row.payload, kid=key.kid, signature=bytes(64))  # fmt: skip
        signature = ring.private(key.kid).sign(unsigned.signed_bytes())
        records.append({**unsigned.to_dict(), "signature": protocol.b64url_encode(signature)})
        kids[row.id] = key.kid
    return PushRequest(batch=str(uuid.uuid4()), records=tuple(records)), kids


@dataclass
class _Failure:
    """A batch that got no per-record answer. ``narrowable``: the registry did answer, but with
    something one record of the batch may have caused (HTTP 500, a 400/413/422 refusal of the
    batch, an answer that breaks the protocol), not "unreachable", "busy" or "not allowed"."""

    message: str
    client: RegistryClient | None
    narrowable: bool


NARROWABLE_REFUSALS = (400, 413, 422)
SOLO_TRIES = 3  # failures of a record sent alone before it may be parked


def _push_batch(ctx: StationContext, state, ring: KeyRing, rows: list[OutboxRecord],
                report: PushReport, now: dt.datetime,
                http: requests.Session) -> _Failure | None:  # fmt: skip
    """Send one batch and record the answers; what went wrong when it failed as a whole."""
    client: RegistryClient | None = None
    try:
        request, kids = _sign(rows, ring)
        client = client_for(ctx, state, ring, http)
        reply = client.call("POST", PUSH_PATH, body=request.to_dict())
        response = parse_push_response(reply.body, sent=request)
    except ProtocolError as exc:
        return _Failure(f"省级平台的应答不符合协议：{exc}", client, narrowable=True)
    except TransportError as exc:
        return _Failure(str(exc), client, narrowable=exc.status == 500)
    except RegistryRefused as exc:
        return _Failure(str(exc), client, narrowable=exc.status in NARROWABLE_REFUSALS)
    except DomainError as exc:
        return _Failure(exc.message, client, narrowable=False)
    _record(ctx, rows, response, kids, client, report, now)
    report.batches += 1
    report.sent += len(rows)
    return None


def _isolate(ctx: StationContext, state, ring: KeyRing, rows: list[OutboxRecord],
             report: PushReport, now: dt.datetime, http: requests.Session,
             failure: _Failure) -> _Failure | None:  # fmt: skip
    """Narrow a failed batch down (see the module's docstring). None when the push may go on:
    part of the batch went through, or a record was found to fail on its own and parked."""
    while len(rows) > 1:
        rows = rows[: len(rows) // 2]
        failed = _push_batch(ctx, state, ring, rows, report, now, http)
        if failed is None:
            return None  # this half went through; the next batch carries on after it
        if not failed.narrowable:
            return failed
        failure = failed
    suspect = rows[0]
    for _ in range(SOLO_TRIES - 1):
        failed = _push_batch(ctx, state, ring, [suspect], report, now, http)
        if failed is None:
            return None
        if not failed.narrowable:
            return failed
        failure = failed
    with station_db.transaction(ctx.engine, write=False) as s:
        others = [r for r in outbox.pending_batch(s, limit=MAX_BATCH_RECORDS + 1)
                  if r.seq != suspect.seq][:MAX_BATCH_RECORDS]  # fmt: skip
    if not others or _push_batch(ctx, state, ring, others, report, now, http) is not None:
        return failure  # nothing to compare with, or the others fail too: not this record's
    reason = (f"unprocessable: 省级平台单独处理此记录连续 {SOLO_TRIES} 次出错，其后的记录均已送达："
              f"{failure.message}")  # fmt: skip
    with station_db.transaction(ctx.engine) as s:
        row = s.get(OutboxRecord, suspect.seq)
        if row is not None and row.status == OutboxStatus.PENDING:
            outbox.apply_result(s, row, PushResult(row.id, "rejected", None, reason),
                                kid=ring.for_record(row.created_at).kid, now=now)  # fmt: skip
    log.warning("sync record %s (%s %s) parked: %s", suspect.id, suspect.kind, suspect.subject,
                reason)  # fmt: skip
    report.outcomes.append(Outcome(suspect.id, suspect.kind, suspect.subject, "rejected", reason))
    return None


def _failed(ctx: StationContext, rows: list[OutboxRecord], message: str,
            client: RegistryClient | None, report: PushReport, now: dt.datetime) -> None:  # fmt: skip
    with station_db.transaction(ctx.engine) as s:
        state = sync_state.state(s)
        delay = backoff_delay(state.push_failures + 1)
        until = sync_state.record_failure(state, what="push", error=message, delay=delay, now=now)
        if client is not None and client.offset_measured:
            sync_state.record_offset(state, client.offset, now)
        outbox.mark_unsent(s, [r.seq for r in rows], error=message, next_attempt_at=until)
        s.add(state)
    log.warning("sync push failed (%d records stay queued; next try after %s): %s", len(rows),
                until.isoformat(), message)  # fmt: skip
    report.error, report.retry_at = message, until


def _record(ctx: StationContext, rows: list[OutboxRecord], response: PushResponse,
            kids: dict[str, str], client: RegistryClient, report: PushReport,
            now: dt.datetime) -> None:  # fmt: skip
    by_id = {r.id: r for r in response.results}
    with station_db.transaction(ctx.engine) as s:
        state = sync_state.state(s)
        root, heads = sync_state.root_public_key(state), set()
        fresh = {r.id: r for r in s.exec(select(OutboxRecord).where(
            col(OutboxRecord.seq).in_([r.seq for r in rows])))}  # fmt: skip
        for sent in rows:
            row, result = fresh[sent.id], by_id[sent.id]
            if row.status == OutboxStatus.PENDING:  # another process may have recorded it
                result = _with_check(row, result, response, root, heads)
                outbox.apply_result(s, row, result, kid=kids[sent.id], now=now)
                if row.kind == protocol.KIND_STATION_KEY and result.status != "rejected":
                    sync_state.add_known_kid(state, row.payload["kid"])
            report.outcomes.append(Outcome(sent.id, sent.kind, sent.subject, result.status,
                                           result.reason or ""))  # fmt: skip
        sync_state.record_success(state, what="push", now=now)
        if client.offset_measured:
            sync_state.record_offset(state, client.offset, now)
        s.add(state)
    parked = [o for o in report.outcomes[-len(rows):] if o.status == "rejected"]  # fmt: skip
    for o in parked:
        log.warning("sync record %s (%s %s) rejected and parked: %s", o.id, o.kind, o.subject,
                    o.reason)  # fmt: skip


def _with_check(row: OutboxRecord, result: PushResult, response: PushResponse, root,
                heads: set) -> PushResult:  # fmt: skip
    """The result with its receipt completed (the tree head it is proven against) and checked
    here, offline: ``station_check`` is ``"ok"`` or why the proof does not hold."""
    receipt = result.receipt
    if receipt is None or "inclusion_proof" not in receipt:
        return result
    receipt = dict(receipt)
    if "tree_head" not in receipt and response.tree_head:
        receipt["tree_head"] = dict(response.tree_head)
    receipt["station_check"] = check_receipt(row.kind, row.payload, receipt, root, heads=heads)
    if receipt["station_check"] != "ok":
        log.error("receipt for %s (%s) does not verify: %s", row.id, row.subject,
                  receipt["station_check"])  # fmt: skip
    return PushResult(result.id, result.status, receipt, result.reason)


def check_receipt(kind: str, payload: dict, receipt: dict, root, *,
                  heads: set | None = None) -> str:  # fmt: skip
    """``"ok"`` when the receipt's inclusion proof leads to the root hash of a tree head signed
    by the registry's root key and its leaf is this record; else what failed.

    ``heads`` remembers tree heads already verified (a batch's receipts share one).
    """
    try:
        sth = tree_heads.SignedTreeHead.from_dict(receipt["tree_head"])
        seen = (sth.head.tree_size, sth.head.root_hash, sth.signature)
        if heads is None or seen not in heads:
            tree_heads.verify_tree_head(sth, root)
            if heads is not None:
                heads.add(seen)
        proof = tree_heads.InclusionReceipt.from_dict(receipt)
        if proof.tree_size != sth.head.tree_size:
            return f"tree_size: 回执的树大小 {proof.tree_size} 与树头 {sth.head.tree_size} 不符"
        merkle.verify_inclusion(merkle.leaf_hash(receipt["leaf"].encode("utf-8")),
                                proof.leaf_index, proof.tree_size, proof.proof,
                                sth.head.root_hash)  # fmt: skip
        leaf = json.loads(receipt["leaf"])
        if kind == protocol.KIND_CERTIFICATE:
            record = payload["signed_record"]["record"]  # CertificateRecord.to_dict(), as signed
            digest = hashlib.sha256(canonical(record)).hexdigest()
            if (leaf.get("kind"), leaf.get("number"), leaf.get("record_sha256")) != (
                    "certificate", record.get("number"), digest):  # fmt: skip
                return "leaf: 日志叶子与本站的证书记录不符 (leaf is not this certificate)"
        elif kind == protocol.KIND_REVOCATION_REQUEST and (
                leaf.get("kind"), leaf.get("number")) != ("revocation", payload["number"]):  # fmt: skip
            return "leaf: 日志叶子不是这次撤销 (leaf is not this revocation)"
    except (merkle.MerkleError, KeyError, TypeError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"
