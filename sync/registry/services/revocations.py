"""Revoking certificates (撤销证书): by a provincial operator, or by the station that issued one.

A revocation is final: one per certificate. It appends a leaf to the transparency log, joins
the trust list and goes to every station as a ``revocation`` feed event.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from certs.numbers import CertificateNumberError, parse_number
from certs.trust import MAX_REASON
from sync.registry.keys import RootSigner
from sync.registry.models import Certificate, Revocation
from sync.registry.models_common import utcnow
from sync.registry.services import audit, feed
from sync.registry.services import log as tlog
from sync.registry.services.errors import InvalidInput, NotFound, RevocationError


def check_number(number: object) -> str:
    try:
        return str(parse_number(number))  # type: ignore[arg-type]
    except (CertificateNumberError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"number: {exc}") from None


def check_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason: 必须填写撤销原因 (required)")
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"reason: 超过 {MAX_REASON} 个字符 (too long)")
    return reason


def event_payload(revocation: Revocation) -> dict:
    return {
        "number": revocation.number,
        "revoked_at": tlog.iso_utc(revocation.revoked_at),
        "reason": revocation.reason,
        "origin": revocation.origin,
    }


def append_revocation(
    session: Session,
    appender: tlog.LogAppender,
    *,
    certificate: Certificate,
    reason: str,
    origin: str,
    actor: str,
    record_id: str | None = None,
    now: datetime | None = None,
) -> tuple[Revocation, bytes]:
    """Append the leaf, write the audit entry and make the row (not added to the session, no
    feed event: the caller stores them); return the row and the leaf data.
    The caller holds the log lock and has checked that the certificate is not revoked."""
    now = now or utcnow()
    data = tlog.revocation_leaf(
        number=certificate.number, reason=reason, revoked_at=now, origin=origin
    )
    index = appender.append(kind="revocation", number=certificate.number, data=data, at=now)
    audit.record(session, actor=f"{origin}:{actor}", action="certificate.revoke",
                 subject=f"certificate:{certificate.number}", reason=reason,
                 data={"origin": origin, "leaf_index": index, "record_id": record_id})  # fmt: skip
    row = Revocation(
        number=certificate.number,
        certificate_id=certificate.id,
        reason=reason,
        revoked_at=now,
        origin=origin,
        actor=actor,
        record_id=record_id,
        leaf_index=index,
        feed_seq=0,
    )
    return row, data


def revoke(
    session: Session,
    *,
    number: str,
    reason: str,
    actor: str,
    signer: RootSigner,
    now: datetime | None = None,
) -> tuple[Revocation, dict]:
    """An operator revokes a recorded certificate. Returns the row and its inclusion receipt
    (with the signed tree head). :class:`RevocationError` if it is already revoked."""
    number, reason = check_number(number), check_reason(reason)
    if not isinstance(actor, str) or not actor:
        raise InvalidInput("actor: 必须注明操作人 (required)")
    appender = tlog.lock_log(session)  # first: two operators revoking at once queue here
    certificate = session.exec(select(Certificate).where(Certificate.number == number)).first()
    if certificate is None:
        raise NotFound(f"number: 证书 {number} 尚未登记，无法撤销 (certificate not recorded)")
    existing = session.exec(select(Revocation).where(Revocation.number == number)).first()
    if existing is not None:
        raise RevocationError(
            f"number: 证书 {number} 已于 {tlog.iso_utc(existing.revoked_at)} 撤销："
            f"{existing.reason} (already revoked)"
        )
    now = now or utcnow()
    row, _ = append_revocation(
        session,
        appender,
        certificate=certificate,
        reason=reason,
        origin="operator",
        actor=actor,
        now=now,
    )
    sth = appender.finish(signer, now=now)
    event = feed.add_event(
        session, kind="revocation", payload=event_payload(row), actor=f"operator:{actor}", now=now
    )
    row.feed_seq = event.seq
    session.add(row)
    session.flush()
    receipt = tlog.receipt(row.leaf_index, sth.head.tree_size, appender.store())
    return row, {**receipt, "tree_head": sth.to_dict()}


def revocation_of(session: Session, number: str) -> Revocation | None:
    return session.exec(select(Revocation).where(Revocation.number == number)).first()
