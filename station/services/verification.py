"""Offline verification at the station: find the QR code(s) in a PDF, a picture or pasted text,
and check each token against the station's trust list (its keys and its revocations)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from sqlmodel import Session, select

from certs import cert_token, scan
from station.models import Certificate
from station.services.certificates import Settings, trust_list

VERDICT_LABELS = {
    "valid": "有效：签名正确，证书未被撤销",
    "revoked": "已撤销",
    "malformed": "无法识别的证书码（已损坏或不是本系统的证书）",
    "unknown_version": "证书码格式版本不受支持，请升级核验软件",
    "unknown_key": "签发密钥不在信任列表中",
    "key_not_valid": "签发密钥在发证日期不在有效期内",
    "bad_signature": "签名不正确：证书内容被篡改或伪造",
    "unreadable": "没有找到证书二维码",
}


@dataclass
class Verdict:
    code: str  # "valid" or a certs.cert_token.TokenError code, or "unreadable"
    message: str
    token: str = ""
    fields: dict = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.code == "valid"

    @property
    def label(self) -> str:
        return VERDICT_LABELS.get(self.code, self.code)

    def to_dict(self) -> dict:
        return {"code": self.code, "valid": self.valid, "label": self.label,
                "message": self.message, "fields": self.fields}  # fmt: skip


def _fields(verified: cert_token.VerifiedToken) -> dict:
    c = verified.claims
    return {"number": c.number, "holder_name": c.holder_name, "masked_id": c.masked_id,
            "occupation_code": c.occupation_code, "level": c.level_name,
            "issue_date": c.issue_date.isoformat(), "kid": verified.kid,
            "station_code": verified.station_code}  # fmt: skip


def check_token(db: Session, settings: Settings, token: str) -> Verdict:
    trusted = trust_list(db, settings)
    try:
        verified = cert_token.decode_token(token, trusted)
    except cert_token.RevokedTokenError as exc:
        fields = _fields(exc.token) | {"revoked_at": exc.revocation.revoked_at.isoformat(),
                                       "revoked_reason": exc.revocation.reason}  # fmt: skip
        return Verdict("revoked", str(exc), token, fields)
    except cert_token.TokenError as exc:
        return Verdict(exc.code, str(exc), token)
    return Verdict("valid", VERDICT_LABELS["valid"], token, _fields(verified))


def verify(db: Session, settings: Settings, source: str | os.PathLike | bytes) -> list[Verdict]:
    """One verdict per QR code found in ``source``; an unreadable source is one verdict too.
    A certificate number issued here is checked through its stored token."""
    if isinstance(source, str):
        cert = db.exec(
            select(Certificate).where(Certificate.number == source.strip().upper())
        ).first()
        if cert is not None:
            return [check_token(db, settings, cert.token)]
    try:
        tokens = scan.find_tokens(source)
    except scan.ScanError as exc:
        return [Verdict("unreadable", str(exc))]
    if not tokens:
        return [Verdict("unreadable", VERDICT_LABELS["unreadable"])]
    return [check_token(db, settings, t) for t in tokens]
