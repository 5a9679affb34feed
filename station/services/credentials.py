"""A certificate as a W3C Verifiable Credential 2.0, signed with eddsa-jcs-2022 by the key that
signed the certificate (named as a did:key, so any verifier can check it offline)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from certs import keys as keylib
from certs.identity import mask_id
from certs.multibase import did_key_from_public, verification_method_for
from certs.vc import add_proof
from certs.vc_credential import certificate_credential
from station.models import StationKey
from station.services.certificates import CertificateError, Settings, get_certificate


def export(db: Session, *, number: str, passphrase: str, settings: Settings) -> dict:
    cert = get_certificate(db, number)
    row = db.exec(select(StationKey).where(StationKey.kid == cert.kid)).one()
    try:
        private = keylib.load_private_pem(row.private_pem, passphrase)
    except keylib.KeyLoadError as exc:
        raise CertificateError(f"无法解锁签名密钥 {cert.kid}：{exc}") from None
    rec = cert.record
    public = private.public_key()
    subject = {"certificate_number": cert.number, "holder_name": rec["holder_name"],
               "id_type": rec["id_type"], "masked_id": mask_id(rec["id_number"]),
               "occupation": rec["occupation"], "occupation_code": rec["occupation_code"],
               "level": rec["level"], "issue_date": rec["issue_date"],
               "issuing_body": rec["issuer"]}  # fmt: skip
    if rec["direction"]:
        subject["direction"] = rec["direction"]
    issued_at = datetime.combine(cert.issue_date, datetime.min.time(), UTC)
    document = certificate_credential(
        subject, issuer_did=did_key_from_public(public),
        credential_id=f"{settings.registry_url.rstrip('/')}/api/v1/certificates/{cert.number}",
        valid_from=issued_at, issuer_name=rec["issuer"])  # fmt: skip
    return add_proof(document, private, verification_method=verification_method_for(public),
                     created=cert.issued_at.astimezone(UTC).replace(microsecond=0))  # fmt: skip
