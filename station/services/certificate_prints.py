"""Printing issued certificates: each stored (signed) record becomes a ``CertificatePrint``
and the certs library renders them; reprints give the same pages from the same record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session

from certs import cert_token
from certs.certificate_pdf import Batch, CertificatePrint, Scores, render_batch, render_certificate
from certs.identity import IdType
from station.models import Candidate, Certificate, ExamSession, Programme
from station.services.certificates import Settings

GENDER_LABELS = {"M": "男", "F": "女"}


def template_dir(instance: Path, programme_code: str) -> Path | None:
    """``<instance>/cert_templates/<programme>/`` when an organisation has restyled it."""
    folder = instance / "cert_templates" / programme_code
    return folder if folder.is_dir() else None


def to_print(db: Session, cert: Certificate, settings: Settings) -> CertificatePrint:
    rec = cert.record
    candidate = db.get(Candidate, cert.candidate_id)
    session = db.get(ExamSession, cert.session_id)
    programme = db.get(Programme, session.programme_id)
    return CertificatePrint(
        number=cert.number, holder_name=rec["holder_name"],
        gender=GENDER_LABELS.get(candidate.gender, candidate.gender),
        id_type=IdType(rec["id_type"]).label, id_number=rec["id_number"],
        occupation=rec["occupation"], occupation_code=rec["occupation_code"],
        direction=rec["direction"] or None, level=rec["level"], issuing_body=rec["issuer"],
        issue_date=cert.issue_date, qr_url=cert_token.token_url(settings.registry_url, cert.token),
        programme=programme.name, session_code=session.code, station_name=settings.station_name,
        photo=candidate.photo,
        scores=Scores(rec["theory_score"], rec["practical_score"], rec["review_score"]),
    )  # fmt: skip


def render(db: Session, certs: list[Certificate], settings: Settings, *, instance: Path,
           progress: Callable[[int, int], None] | None = None,
           workers: int | None = None) -> Batch:  # fmt: skip
    """The combined print file and one PDF per certificate, in the order given."""
    prints = [to_print(db, c, settings) for c in certs]
    session = db.get(ExamSession, certs[0].session_id)
    programme = db.get(Programme, session.programme_id)
    return render_batch(prints, template_dir=template_dir(instance, programme.code),
                        workers=workers, progress=progress)  # fmt: skip


def render_one(db: Session, cert: Certificate, settings: Settings, *, instance: Path) -> bytes:
    session = db.get(ExamSession, cert.session_id)
    programme = db.get(Programme, session.programme_id)
    return render_certificate(to_print(db, cert, settings),
                              template_dir=template_dir(instance, programme.code))  # fmt: skip


def pdf_for(db: Session, cert: Certificate, settings: Settings, *, instance: Path) -> bytes:
    """The certificate's PDF: the file its session's print run made, else rendered now (the same
    bytes either way)."""
    from station.services import print_jobs

    session = db.get(ExamSession, cert.session_id)
    path = print_jobs.single_path(instance, session.code, cert.number)
    if path.exists():
        return path.read_bytes()
    return render_one(db, cert, settings, instance=instance)
