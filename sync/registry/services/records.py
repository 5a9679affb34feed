"""Reading what the registry recorded: certificates, their revocation, holder lookups.

For the public pages (``/v/<token>``, lookups, the JSON API) and the operator console. The
registry has no full ID numbers: a holder is matched by the keyed hash of the number typed in
(:func:`sync.registry.services.push_checks.id_hash`), compared in the database.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlmodel import Session, select

from sync.registry.models import Certificate, Revocation, Station
from sync.registry.services.errors import NotFound
from sync.registry.services.log import iso_utc
from sync.registry.services.push_checks import id_hash

MAX_MATCHES = 50


@dataclass(frozen=True)
class RecordedCertificate:
    certificate: Certificate
    station: Station
    revocation: Revocation | None

    def to_dict(self) -> dict:
        """Public JSON: every certificate field with the ID number masked, plus its status."""
        c, r = self.certificate, self.revocation
        return {
            "number": c.number,
            "status": "revoked" if r else "valid",
            "holder_name": c.holder_name,
            "id_type": c.id_type,
            "id_number_masked": c.id_masked,
            "occupation": c.occupation,
            "occupation_code": c.occupation_code,
            "direction": c.direction,
            "level": c.level,
            "issuer": c.issuer,
            "issue_date": c.issue_date.isoformat(),
            "programme_code": c.programme_code,
            "programme_name": c.programme_name,
            "station": {
                "code": self.station.code,
                "name": self.station.name,
                "city": self.station.city,
            },
            "recorded_at": iso_utc(c.accepted_at),
            "leaf_index": c.leaf_index,
            "revocation": None
            if r is None
            else {"revoked_at": iso_utc(r.revoked_at), "reason": r.reason, "origin": r.origin},
        }


def _recorded(session: Session, certificate: Certificate) -> RecordedCertificate:
    station = session.get(Station, certificate.station_id)
    assert station is not None
    revocation = session.exec(
        select(Revocation).where(Revocation.certificate_id == certificate.id)
    ).first()
    return RecordedCertificate(certificate, station, revocation)


def find_certificate(session: Session, number: str) -> RecordedCertificate | None:
    """The recorded certificate with this number, or None (e.g. not synced yet)."""
    certificate = session.exec(select(Certificate).where(Certificate.number == number)).first()
    return None if certificate is None else _recorded(session, certificate)


def get_certificate(session: Session, number: str) -> RecordedCertificate:
    found = find_certificate(session, number)
    if found is None:
        raise NotFound(f"number: 证书 {number} 未在本平台登记 (certificate not recorded)")
    return found


def recorded_by_number(session: Session, numbers: set[str]) -> dict[str, RecordedCertificate]:
    """The recorded certificates among ``numbers``, with station and revocation, in one query
    (session-bound objects, for the console; the public pages read through
    :mod:`sync.registry.services.verification`)."""
    if not numbers:
        return {}
    rows = session.exec(
        select(Certificate, Station, Revocation)
        .join(Station, Station.id == Certificate.station_id)
        .outerjoin(Revocation, Revocation.certificate_id == Certificate.id)
        .where(Certificate.number.in_(sorted(numbers)))
    )  # fmt: skip
    return {c.number: RecordedCertificate(c, s, r) for c, s, r in rows}


def find_by_holder(
    session: Session, *, name: str, id_number: str, secret: bytes
) -> list[RecordedCertificate]:
    """A candidate's certificates: the name must match exactly and the ID number's keyed hash."""
    rows = session.exec(
        select(Certificate)
        .where(
            Certificate.id_hash == id_hash(secret, id_number),
            Certificate.holder_name == name.strip(),
        )
        .order_by(Certificate.issue_date.desc())
        .limit(MAX_MATCHES)
    )
    return [_recorded(session, c) for c in rows]


def confirm_holder(certificate: Certificate, *, id_number: str, secret: bytes) -> bool:
    """ "Confirm the holder": does the typed ID number belong to this certificate?"""
    return hmac.compare_digest(certificate.id_hash, id_hash(secret, id_number))
