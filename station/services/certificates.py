"""Certificates: numbers, signed records and QR tokens for a signed-off session's passing
candidates, the station's own trust list, and revocation requests.

Only a candidate whose current result (after the supervisor's sign-off) is a pass gets one. The
signed record and the token are made once, at issue; reprinting renders the same stored record.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import Session, col, select

from certs import cert_token, numbers, record, trust
from certs.identity import IdType
from station.models import Candidate, Certificate, Programme, Revocation, StationKey
from station.models.common import utcnow
from station.models.grading import Outcome
from station.models.scheduling import ExamSession, SessionState
from station.services import audit, keys, results, sync_state
from station.services.errors import DomainError, NotFound
from station.services.sessions import get_session
from sync import outbox

SHANGHAI = ZoneInfo("Asia/Shanghai")
ISSUABLE = {SessionState.PUBLISHED, SessionState.CERTIFIED}


class CertificateError(DomainError):
    pass


@dataclass(frozen=True)
class Settings:
    """What the station's config says about numbering and verification."""

    agency_type: str  # "S" or "Y"
    agency_code: str
    province_code: str
    station_code: str
    station_name: str
    registry_url: str
    issuer_name: str = ""

    @classmethod
    def from_config(cls, config) -> Settings:
        return cls(agency_type=config["CERT_PREFIX"], agency_code=config["CERT_AGENCY_CODE"],
                   province_code=config["CERT_PROVINCE_CODE"] or config["STATION_CODE"][:2],
                   station_code=config["STATION_CODE"],
                   station_name=config["STATION_NAME"], registry_url=config["REGISTRY_URL"],
                   issuer_name=config.get("CERT_ISSUER_NAME", ""))  # fmt: skip


def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


# --- numbers -----------------------------------------------------------------------------------


def allocate_number(db: Session, settings: Settings, *, level: str, issued: date) -> str:
    """The next number in the series, taken inside the caller's (write) transaction: a rollback
    returns it, and the single SQLite writer means no two transactions get the same one."""
    try:
        series = numbers.format_number(
            agency_type=settings.agency_type, agency_code=settings.agency_code,
            province_code=settings.province_code, site_code=settings.station_code,
            year=issued.year, level=level, serial=1)[: numbers.SERIES_LENGTH]  # fmt: skip
    except numbers.CertificateNumberError as exc:
        raise CertificateError(f"无法生成证书编号：{exc}（请检查站点配置 CERT_PREFIX、"
                               "CERT_AGENCY_CODE、CERT_PROVINCE_CODE、STATION_CODE）") from None  # fmt: skip
    last = db.exec(
        text("INSERT INTO certificate_serial (prefix, last) VALUES (:p, 1) "
             "ON CONFLICT (prefix) DO UPDATE SET last = last + 1 RETURNING last"),
        params={"p": series},
    ).scalar_one()  # fmt: skip
    if last > numbers.MAX_SERIAL:
        raise CertificateError(f"证书编号序列 {series} 已用尽（{numbers.MAX_SERIAL} 个）")
    return f"{series}{last:06d}"


# --- trust -------------------------------------------------------------------------------------


def trust_list(db: Session, settings: Settings) -> trust.TrustList:
    """The station's own keys, each valid on the days it was active, plus its revocations."""
    entries = [
        trust.StationKey(kid=row.kid, station_code=settings.station_code,
                         public_key=keys.load_public(row),
                         valid_from=local_date(row.not_before),
                         valid_until=local_date(row.not_after) if row.not_after else None)
        for row in db.exec(select(StationKey))
    ]  # fmt: skip
    revoked = {
        r.number: trust.Revocation(revoked_at=r.requested_at, reason=r.reason)
        for r in db.exec(select(Revocation))
    }
    return sync_state.with_registry(db, trust.TrustList(entries, revoked))


# --- issuing -----------------------------------------------------------------------------------


def _record(db: Session, *, session: ExamSession, programme: Programme, candidate: Candidate,
            result, number: str, issued: date, kid: str,
            settings: Settings) -> record.CertificateRecord:  # fmt: skip
    return record.CertificateRecord(
        holder_name=candidate.name, id_type=IdType(candidate.id_type), id_number=candidate.id_number,
        occupation=programme.occupation or programme.name, occupation_code=programme.occupation_code,
        direction=programme.direction, level=session.level,
        issuer=settings.issuer_name or programme.issuer_name or settings.station_name,
        issue_date=issued, number=number,
        photo_sha256=hashlib.sha256(candidate.photo).hexdigest() if candidate.photo else None,
        programme_code=programme.code, programme_name=programme.name, session_code=session.code,
        theory_score=result.theory, practical_score=result.practical, review_score=result.review,
        station_code=settings.station_code, kid=kid)  # fmt: skip


def issue_session(db: Session, *, actor: str, session_code: str, passphrase: str,
                  settings: Settings, now: datetime | None = None) -> list[Certificate]:  # fmt: skip
    """Issue a certificate to every passing candidate of a signed-off session who has none yet.

    All or nothing: any candidate whose record cannot be made stops the batch, naming them.
    Moves a published session to ``certified``.
    """
    from station.services import lifecycle

    now = now or utcnow()
    session = get_session(db, session_code)
    if session.state not in ISSUABLE or results.signoff(db, session) is None:
        raise CertificateError(f"场次 {session.code} 的成绩须经督导员签字确认并发布后才能发证")
    programme = db.get(Programme, session.programme_id)
    kid, private = keys.signer(db, passphrase=passphrase)
    issued_to = {c.candidate_id for c in db.exec(
        select(Certificate).where(Certificate.session_id == session.id))}  # fmt: skip
    issued, problems = [], []
    issue_day = local_date(now)
    for row in results.session_rows(db, session):
        if row.result is None or row.result.outcome != Outcome.PASSED:
            continue
        if row.candidate.id in issued_to:
            continue
        number = allocate_number(db, settings, level=session.level, issued=issue_day)
        try:
            rec = _record(db, session=session, programme=programme, candidate=row.candidate,
                          result=row.result, number=number, issued=issue_day, kid=kid,
                          settings=settings)  # fmt: skip
        except record.RecordError as exc:
            problems.append(f"考生 {row.candidate.admission_number} {row.candidate.name}：{exc}")
            continue
        signed = record.sign_record(rec, private)
        token = cert_token.sign_token(cert_token.claims_from_record(rec), private_key=private,
                                      kid=kid)  # fmt: skip
        cert = Certificate(number=number, candidate_id=row.candidate.id, session_id=session.id,
                           result_version=row.result.version, issue_date=issue_day, kid=kid,
                           record=rec.to_dict(),
                           signature=base64.b64encode(signed.signature).decode(), token=token,
                           issued_by=actor)  # fmt: skip
        db.add(cert)
        outbox.certificate(db, signed_record=signed.to_dict(), token=token, number=number, now=now)
        issued.append(cert)
    if problems:
        raise CertificateError(
            f"场次 {session.code} 有考生无法发证，本批次未发出任何证书", problems
        )
    db.flush()
    audit.record(db, actor=actor, action="certificates.issue", subject=f"session:{session.code}",
                 data={"issued": len(issued), "numbers": [c.number for c in issued][:5],
                       "kid": kid})  # fmt: skip
    if session.state == SessionState.PUBLISHED:
        lifecycle.transition(db, actor=actor, session_code=session.code, to="certified",
                             reason="证书已签发", now=now)  # fmt: skip
    return issued


def missing_certificates(db: Session, session: ExamSession) -> list[str]:
    """Passing candidates of the session who have no certificate yet."""
    have = {c.candidate_id for c in db.exec(
        select(Certificate).where(Certificate.session_id == session.id))}  # fmt: skip
    return [r.candidate.admission_number for r in results.session_rows(db, session)
            if r.result is not None and r.result.outcome == Outcome.PASSED
            and r.candidate.id not in have]  # fmt: skip


def session_certificates(db: Session, session: ExamSession) -> list[Certificate]:
    return list(db.exec(select(Certificate).where(Certificate.session_id == session.id)
                        .order_by(col(Certificate.number))))  # fmt: skip


def get_certificate(db: Session, number: str) -> Certificate:
    cert = db.exec(select(Certificate).where(Certificate.number == number.strip().upper())).first()
    if cert is None:
        raise NotFound(f"本站没有编号为 {number} 的证书")
    return cert


def signed_record(cert: Certificate) -> record.SignedRecord:
    return record.SignedRecord(record=record.CertificateRecord.from_dict(cert.record),
                               kid=cert.kid, signature=base64.b64decode(cert.signature))  # fmt: skip


# --- revocation --------------------------------------------------------------------------------


def revoke(db: Session, *, actor: str, number: str, reason: str) -> Revocation:
    """Ask for a certificate to be revoked: honoured by this station's verifier at once, and
    sent to the registry when sync runs."""
    cert = get_certificate(db, number)
    if not reason.strip():
        raise CertificateError("撤销证书须填写原因")
    if db.exec(select(Revocation).where(Revocation.number == cert.number)).first():
        raise CertificateError(f"证书 {cert.number} 已申请撤销")
    row = Revocation(number=cert.number, reason=reason.strip(), requested_by=actor)
    db.add(row)
    db.flush()
    outbox.revocation_request(db, revocation=row)
    audit.record(db, actor=actor, action="certificate.revoke", subject=f"certificate:{cert.number}",
                 reason=reason)  # fmt: skip
    return row


def revocation(db: Session, number: str) -> Revocation | None:
    return db.exec(select(Revocation).where(Revocation.number == number)).first()
