"""What one printed certificate shows (:class:`CertificatePrint`) and the checks it must pass
before :mod:`certs.certificate_pdf` renders it: every text field present, trimmed and free of
control characters, a QR payload short enough to scan, a real date, a picture for a photo and
scores out of 100. Errors name the certificate and the field."""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from certs.ticket_pdf import _IMAGE_TYPES

QR_MAX_CHARS = 1000  # version ~25 at level M: 0.3 mm modules in a 36 mm symbol


class CertificateRenderError(ValueError):
    """A certificate could not be rendered; the message names the certificate and the field."""


class TemplateError(CertificateRenderError):
    """The certificate template (directory, HTML or CSS) is unusable; the message says why."""


@dataclass(frozen=True, slots=True)
class Scores:
    """Scores out of 100 as printed; ``None`` leaves the column out (e.g. no 综合评审 below 技师)."""

    theory: int | float | Decimal | None = None
    practical: int | float | Decimal | None = None
    review: int | float | Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificatePrint:
    """Everything one printed certificate shows (the paper carries the full ID number)."""

    number: str
    holder_name: str
    gender: str
    id_type: str  # the Chinese label, e.g. certs.identity.IdType.resident_id.label
    id_number: str
    occupation: str
    occupation_code: str
    level: str
    issuing_body: str
    issue_date: dt.date
    qr_url: str  # "<REGISTRY>/V/<TOKEN>", upper case so that the QR uses alphanumeric mode
    programme: str
    session_code: str
    station_name: str
    direction: str | None = None
    photo: bytes | None = None  # JPEG/PNG/GIF; None prints an empty frame
    scores: Scores | None = None


_TEXT_FIELDS = {  # field: label; only direction may be None
    "number": "证书编号",
    "holder_name": "姓名",
    "gender": "性别",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "occupation": "职业",
    "occupation_code": "职业编码",
    "level": "技能等级",
    "issuing_body": "评价机构",
    "qr_url": "二维码内容",
    "programme": "认定项目",
    "session_code": "批次",
    "station_name": "考核站点",
    "direction": "职业方向",
}


def who(p: CertificatePrint) -> str:
    return f"证书 {p.number}（{p.holder_name}）"


def check_print(p: CertificatePrint) -> None:
    """Refuse anything that cannot be printed faithfully, naming the certificate and field."""
    if not isinstance(p, CertificatePrint):
        raise CertificateRenderError(f"需要 CertificatePrint，收到 {type(p).__name__}")
    for name, label in _TEXT_FIELDS.items():
        value = getattr(p, name)
        if name == "direction" and value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise CertificateRenderError(f"{who(p)}：{label}不能为空 ({name})")
        if value != value.strip() or any(unicodedata.category(ch)[0] == "C" for ch in value):
            raise CertificateRenderError(
                f"{who(p)}：{label}含有首尾空白或控制字符 ({name}: {value!r})"
            )
    if len(p.qr_url) > QR_MAX_CHARS:
        raise CertificateRenderError(
            f"{who(p)}：二维码内容过长（{len(p.qr_url)} 个字符，最多 {QR_MAX_CHARS}），"
            "模块过小无法可靠扫描 (qr_url)"
        )
    if not isinstance(p.issue_date, dt.date) or isinstance(p.issue_date, dt.datetime):
        raise CertificateRenderError(f"{who(p)}：发证日期必须是日期，不带时间 (issue_date)")
    if p.photo is not None and not (
        isinstance(p.photo, bytes) and any(p.photo.startswith(m) for m, _ in _IMAGE_TYPES)
    ):
        raise CertificateRenderError(f"{who(p)}：照片不是 JPEG、PNG 或 GIF 图片 (photo)")
    if p.scores is not None:
        for name in ("theory", "practical", "review"):
            value = getattr(p.scores, name)
            ok = value is None or (
                isinstance(value, int | float | Decimal)
                and not isinstance(value, bool)
                and math.isfinite(value)
                and 0 <= value <= 100
            )
            if not ok:
                raise CertificateRenderError(
                    f"{who(p)}：成绩必须是 0 到 100 之间的数 (scores.{name}: {value!r})"
                )
