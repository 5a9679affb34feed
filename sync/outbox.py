"""The station's transactional outbox (``docs/sync-protocol.md``, Records and the outbox).

Everything the province must learn is written here **in the same transaction as the change
itself**: the functions below only ``add`` and ``flush`` in the caller's session, so a change
that rolls back takes its outbox row with it, and a committed change always has one. The push
job (:mod:`sync.client_push`) sends pending rows in ``seq`` order and records the registry's
answer on each row: accepted and duplicate rows keep their receipt, rejected rows are *parked*
with the reason until someone re-queues them (:func:`retry`); no row is ever deleted.

Rows hold the record without its signature: it is signed when pushed, with a key the registry
knows (the id and ``created_at`` are fixed here, so a re-sent record is the same record).
Each payload is validated on the way in (:class:`sync.protocol.SyncRecord` checks the kind's
fields and the size limit), so a row that could never be sent fails the change instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, col, func, select

from station.models import OutboxRecord, OutboxStatus, Revocation, StationKey
from station.models.common import utcnow
from station.services import audit
from station.services.errors import DomainError, NotFound
from sync import protocol, protocol_keys
from sync.protocol import ProtocolError, SyncRecord
from sync.protocol_messages import MAX_BATCH_RECORDS, PushResult

__all__ = [
    "OutboxError",
    "add",
    "apply_result",
    "backlog",
    "certificate",
    "mark_unsent",
    "parked",
    "pending_batch",
    "retry",
    "revocation_request",
    "revised_summary",
    "signoff",
    "station_key",
]

_PLACEHOLDER_KID = "st-outbox"


class OutboxError(DomainError):
    """A record that could not be queued (its payload breaks the protocol) or re-queued."""


# --------------------------------------------------------------------------- writing


def add(db: Session, *, kind: str, payload: Mapping[str, Any], subject: str = "",
        now: dt.datetime | None = None) -> OutboxRecord:  # fmt: skip
    """Queue one record in the caller's transaction; raise :class:`OutboxError` if the payload
    is not what ``kind`` requires (so the change that wanted to send it fails too)."""
    created = (now or utcnow()).astimezone(dt.UTC).replace(microsecond=0)
    # Exactly what the JSON column will give back, so that what is checked is what is sent.
    stored = json.loads(json.dumps(dict(payload), ensure_ascii=False))
    record_id = str(uuid.uuid4())
    try:  # the whole record, as it will be signed: kind, fields, size
        SyncRecord(id=record_id, kind=kind, created_at=created, payload=stored,
                   kid=_PLACEHOLDER_KID, signature=bytes(64))  # fmt: skip
    except ProtocolError as exc:
        raise OutboxError(f"无法生成同步记录（{kind}）：{exc}") from None
    row = OutboxRecord(id=record_id, kind=kind, subject=subject[:100], payload=stored,
                       created_at=created)  # fmt: skip
    db.add(row)
    db.flush()
    return row


def certificate(db: Session, *, signed_record: Mapping[str, Any], token: str, number: str,
                now: dt.datetime | None = None) -> OutboxRecord:  # fmt: skip
    """A newly issued certificate: its signed record (``SignedRecord.to_dict()``) and QR token."""
    return add(db, kind=protocol.KIND_CERTIFICATE, subject=f"certificate:{number}",
               payload={"signed_record": dict(signed_record), "token": token}, now=now)  # fmt: skip


def revocation_request(db: Session, *, revocation: Revocation) -> OutboxRecord:
    """The station asks the province to revoke one of its certificates."""
    payload = {"number": revocation.number, "reason": revocation.reason,
               "requested_at": protocol.format_time(revocation.requested_at)}  # fmt: skip
    return add(db, kind=protocol.KIND_REVOCATION_REQUEST, payload=payload,
               subject=f"certificate:{revocation.number}")  # fmt: skip


def _summary(db: Session, session, signoff, city: str, digest: str) -> dict[str, Any]:
    """The session's result summary as its current results stand (``digest``: theirs)."""
    from station.models import Programme
    from station.services import results

    programme = db.get(Programme, session.programme_id)
    rows = results.current_results(db, session)
    by_outcome: dict[str, int] = {}
    for row in rows:
        by_outcome[row.outcome.value] = by_outcome.get(row.outcome.value, 0) + 1
    return {"session": session.code, "programme": programme.code, "level": session.level,
            "signed_off_at": protocol.format_time(signoff.signed_at),
            "candidates": len(rows), "passed": by_outcome.get("passed", 0),
            "by_outcome": by_outcome, "city": city, "results_digest": digest}  # fmt: skip


def signoff(db: Session, *, session, signoff, city: str = "") -> list[OutboxRecord]:
    """At the supervisor's sign-off: the session's result summary and its session report."""
    from station.services import proctoring

    summary = _summary(db, session, signoff, city, signoff.digest)
    report = proctoring.report(db, session, now=signoff.signed_at)
    timeline = [{"at": protocol.format_time(e.at), "kind": e.kind.value, "actor": e.actor,
                 "candidate": c.admission_number, "reason": e.reason, "category": e.category,
                 "seconds": e.seconds} for e, c in report.timeline]  # fmt: skip
    digest = hashlib.sha256(protocol.jcs("timeline", timeline)).hexdigest()
    session_report = {"session": session.code, "attendance": dict(report.attendance),
                      "irregularities": len(report.irregularities), "timeline_digest": digest,
                      "events": len(timeline), "theory_start": protocol.format_time(
                          session.theory_start)}  # fmt: skip
    subject = f"session:{session.code}"
    return [add(db, kind=protocol.KIND_RESULT_SUMMARY, payload=summary, subject=subject),
            add(db, kind=protocol.KIND_SESSION_REPORT, payload=session_report, subject=subject)]  # fmt: skip


def revised_summary(db: Session, *, session, reason: str,
                    now: dt.datetime | None = None) -> OutboxRecord | None:  # fmt: skip
    """After a signed-off session's results changed (a regrade applied, an appeal upheld): the
    summary again, as the results now stand, numbered (``revision`` 2, 3, …; the sign-off's is
    1) and dated (``revised_at``). The registry counts the newest revision of each session.
    None before sign-off (the summary goes at sign-off) or if nothing the summary says changed.
    """
    from station.services import results, roster

    signed = results.signoff(db, session)
    if signed is None:
        return None
    subject = f"session:{session.code}"
    sent = list(db.exec(select(OutboxRecord).where(
        OutboxRecord.kind == protocol.KIND_RESULT_SUMMARY, OutboxRecord.subject == subject)
        .order_by(col(OutboxRecord.seq))))  # fmt: skip
    people = {c.id: c for c in roster.candidates(db, session)}
    pairs = [(people[r.candidate_id], r) for r in results.current_results(db, session)]
    city = sent[0].payload.get("city", "") if sent else ""
    summary = _summary(db, session, signed, city, results.digest(pairs))
    if sent and sent[-1].payload.get("results_digest") == summary["results_digest"]:
        return None
    when = (now or utcnow()).astimezone(dt.UTC).replace(microsecond=0)
    summary |= {"revision": len(sent) + 1, "revised_at": protocol.format_time(when),
                "revision_reason": reason.strip()[:500]}  # fmt: skip
    return add(db, kind=protocol.KIND_RESULT_SUMMARY, payload=summary, subject=subject, now=when)


def station_key(db: Session, *, old: StationKey, new: StationKey,
                old_private: Ed25519PrivateKey) -> OutboxRecord:  # fmt: skip
    """A key rotation: the new public key, endorsed by the key it replaces."""
    from certs import keys as key_tools
    from station.services.certificates import local_date

    payload = protocol_keys.endorse_key(
        key_tools.load_public_pem(new.public_pem), new_kid=new.kid,
        valid_from=local_date(new.not_before), old_private_key=old_private, old_kid=old.kid,
    )  # fmt: skip
    return add(db, kind=protocol.KIND_STATION_KEY, payload=payload, subject=f"key:{new.kid}",
               now=new.not_before)  # fmt: skip


# --------------------------------------------------------------------------- the queue


def pending_batch(db: Session, *, limit: int = MAX_BATCH_RECORDS) -> list[OutboxRecord]:
    """The oldest pending records, in outbox order (at most one batch)."""
    limit = max(1, min(limit, MAX_BATCH_RECORDS))
    return list(db.exec(select(OutboxRecord).where(OutboxRecord.status == OutboxStatus.PENDING)
                        .order_by(col(OutboxRecord.seq)).limit(limit)))  # fmt: skip


def backlog(db: Session) -> tuple[int, dt.datetime | None]:
    """How many records wait to be pushed, and when the oldest of them was made."""
    count, oldest = db.exec(
        select(func.count(), func.min(OutboxRecord.created_at))
        .where(OutboxRecord.status == OutboxStatus.PENDING)
    ).one()  # fmt: skip
    if isinstance(oldest, str):  # an aggregate skips the column type on SQLite
        oldest = dt.datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return count, oldest


def parked(db: Session) -> list[OutboxRecord]:
    return list(db.exec(select(OutboxRecord).where(OutboxRecord.status == OutboxStatus.REJECTED)
                        .order_by(col(OutboxRecord.seq))))  # fmt: skip


def apply_result(db: Session, row: OutboxRecord, result: PushResult, *, kid: str,
                 now: dt.datetime) -> None:  # fmt: skip
    """Record the registry's answer for one sent record (caller's transaction)."""
    row.attempts += 1
    row.kid = kid
    row.sent_at = now
    row.next_attempt_at = None
    row.last_error = ""
    if result.status == "rejected":
        row.status = OutboxStatus.REJECTED
        row.reason = result.reason or ""
        row.parked_at = now
    else:
        row.status = OutboxStatus(result.status)
        row.reason = ""
        row.receipt = dict(result.receipt or {})
        if row.kind == protocol.KIND_REVOCATION_REQUEST:
            _mark_revocation_synced(db, row.payload["number"], now)
    db.add(row)


def _mark_revocation_synced(db: Session, number: str, now: dt.datetime) -> None:
    request = db.exec(select(Revocation).where(Revocation.number == number)).first()
    if request is not None and request.synced_at is None:
        request.synced_at = now
        db.add(request)


def mark_unsent(db: Session, seqs: Sequence[int], *, error: str,
                next_attempt_at: dt.datetime | None) -> None:  # fmt: skip
    """A push that got no per-record answer (network, 5xx, refused request): the records stay
    pending, with the error and when the next attempt may come."""
    for row in db.exec(select(OutboxRecord).where(col(OutboxRecord.seq).in_(list(seqs)))):
        row.attempts += 1
        row.last_error = error[:2000]
        row.next_attempt_at = next_attempt_at
        db.add(row)


def retry(db: Session, *, actor: str, record_id: str | None = None,
          all_parked: bool = False) -> list[OutboxRecord]:  # fmt: skip
    """Re-queue parked records once the cause is fixed: one by id, or every parked one.

    The record keeps its id and creation time, so what was signed before is what is sent
    again. Written to the audit log.
    """
    if all_parked == (record_id is not None):
        raise OutboxError("请指定一条记录编号，或选择重试全部搁置记录（二者选一）")
    if all_parked:
        rows = parked(db)
    else:
        wanted = (record_id or "").strip().lower()
        row = db.exec(select(OutboxRecord).where(OutboxRecord.id == wanted)).first()
        if row is None:
            raise NotFound(f"同步队列中没有编号为 {record_id} 的记录")
        if row.status != OutboxStatus.REJECTED:
            raise OutboxError(
                f"记录 {row.id} 的状态为 {row.status.value}，只有被拒收搁置的记录可以重试"
            )
        rows = [row]
    for row in rows:
        audit.record(db, actor=actor, action="sync.retry", subject=f"sync:{row.id}",
                     reason=row.reason, data={"kind": row.kind, "subject": row.subject})  # fmt: skip
        row.status = OutboxStatus.PENDING
        row.next_attempt_at = None
        row.retried_by = actor
        db.add(row)
    db.flush()
    return rows
