"""The certificate record (证书记录): everything a certificate asserts, signed by the station.

A :class:`CertificateRecord` holds the mandated certificate fields (name, ID type and number,
occupation, direction, level, issuing body, date, number, photo) plus where it came from
(programme, session, station, scores, the signing key). The photo travels as the SHA-256 of its
bytes: the record pins the exact image without carrying it.

The signature covers the record's RFC 8785 (JSON Canonicalization Scheme) bytes, so any party
that re-serialises the JSON (the registry in another language, a database round trip) can
check it::

    signature = Ed25519(SIGNING_CONTEXT || JCS(record.to_dict()))

``record.to_dict()`` includes ``"format": 1`` and the signing ``kid``, so both are signed.
:class:`SignedRecord` is the record plus its kid and signature, as JSON::

    {"format": 1, "kid": "st-abcdefghij", "record": {...}, "signature": "<base64url, 86 chars>"}

Verification re-serialises the record it was given, so what is verified is the record's
meaning: JSON spellings that normalise to the same record (an ID number's ``x`` for ``X``,
``90.0`` for ``90``, another key order) verify alike; any change of content does not.

:func:`verify_record` checks the signature against a :class:`certs.trust.TrustList`, and that
the key was valid on the record's issue date. It does not look at revocations: a revoked
certificate's record is still the genuine record of what was issued.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from certs import jcs
from certs.identity import IdNumberError, IdType, IdTypeError, parse_id, parse_id_type
from certs.keys import verify as verify_signature
from certs.numbers import CertificateNumberError, level_digit, parse_number
from certs.trust import TrustList, TrustListError, check_kid

__all__ = [
    "FORMAT",
    "SIGNING_CONTEXT",
    "BadRecordSignatureError",
    "CertificateRecord",
    "InvalidRecordError",
    "RecordError",
    "RecordKeyNotValidError",
    "SignedRecord",
    "UnknownRecordKeyError",
    "UnknownRecordVersionError",
    "canonical_bytes",
    "control_character",
    "sign_record",
    "verify_record",
    "verify_record_bytes",
]

FORMAT = 1
SIGNING_CONTEXT = b"SkillCert certificate record\x00"
SIGNATURE_SIZE = 64

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SIGNATURE_B64 = re.compile(r"[A-Za-z0-9_-]{86}")
_TEXT_LIMITS = {
    "holder_name": 50,
    "occupation": 200,
    "occupation_code": 32,
    "direction": 200,
    "level": 20,
    "issuer": 200,
    "programme_code": 64,
    "programme_name": 200,
    "session_code": 32,
    "station_code": 64,
}
_MAY_BE_EMPTY = {"direction"}  # not every occupation has a 职业方向


# --------------------------------------------------------------------------- errors


class RecordError(ValueError):
    """A record was refused. ``code`` is stable for programs; the message is for people."""

    code = "record_error"


class InvalidRecordError(RecordError):
    """A field that breaks the rules (raised building a record or reading its JSON)."""

    code = "malformed"


class UnknownRecordVersionError(RecordError):
    code = "unknown_version"


class UnknownRecordKeyError(RecordError):
    code = "unknown_key"


class RecordKeyNotValidError(RecordError):
    code = "key_not_valid"


class BadRecordSignatureError(RecordError):
    code = "bad_signature"


# --------------------------------------------------------------------------- the record


def control_character(value: str, allowed: str = "") -> str | None:
    """The first character of ``value`` in Unicode category C (Cc, Cf, Cs, Co, Cn) and not in
    ``allowed``, or None when there is none.

    Fast path: ``str.isprintable()`` is False for every character of category C (and for the
    separators Z*, the ASCII space excepted), so a printable string holds none and the
    per-character ``unicodedata`` look-up is skipped. Both read CPython's one Unicode
    database; ``tests/certs/test_fast_paths.py`` checks the implication over every code point.
    Anything not printable takes the character-by-character loop, whose answer is the same.
    """
    if value.isprintable():
        return None
    for char in value:
        if unicodedata.category(char).startswith("C") and char not in allowed:
            return char
    return None


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidRecordError(f"{name}: 应为文本 (expected str, got {type(value).__name__})")
    if value != value.strip() or (not value and name not in _MAY_BE_EMPTY):
        raise InvalidRecordError(f"{name}: 不能为空，首尾不能有空格 (empty or padded)")
    if len(value) > _TEXT_LIMITS[name]:
        raise InvalidRecordError(
            f"{name}: 共 {len(value)} 个字符，超过上限 {_TEXT_LIMITS[name]} (too long)"
        )
    char = control_character(value)
    if char is not None:
        raise InvalidRecordError(f"{name}: 含有控制字符 U+{ord(char):04X} (control character)")
    return value


def _score(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecordError(f"{name}: 成绩应为数字或空 (expected a number or None)")
    if not math.isfinite(value) or not 0 <= value <= 100:
        raise InvalidRecordError(f"{name}: 成绩 {value} 不在 0–100 之间 (out of range)")
    return float(value)


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """What one certificate asserts. Construction validates and normalises every field.

    The number must agree with the record: its year is the issue date's year and its level
    digit is ``level``'s (see :mod:`certs.numbers` for the digit of each level name).
    """

    holder_name: str
    id_type: IdType
    id_number: str  # the full number: the record goes to the registry, never into a QR code
    occupation: str  # 职业（工种）
    occupation_code: str  # 职业编码, e.g. 6-31-01-10
    direction: str  # 职业方向, may be empty
    level: str  # as the programme spells it: 四级/中级工, 中级, 高级技师 …
    issuer: str  # 发证机构 / 评价机构
    issue_date: dt.date
    number: str  # the 22-character certificate number
    photo_sha256: str | None  # lower-case hex SHA-256 of the photo file, or None
    programme_code: str
    programme_name: str
    session_code: str
    theory_score: float | None
    practical_score: float | None
    review_score: float | None  # 综合评审, only for 技师 levels
    station_code: str
    kid: str  # the key that signs (or signed) this record

    def __post_init__(self) -> None:
        for name in _TEXT_LIMITS:
            _text(name, getattr(self, name))
        try:
            id_type = parse_id_type(self.id_type)
            document = parse_id(id_type, _text_id(self.id_number))
        except (IdTypeError, IdNumberError) as exc:
            raise InvalidRecordError(f"id_number: {exc}") from exc
        object.__setattr__(self, "id_type", id_type)
        object.__setattr__(self, "id_number", document.number)
        if isinstance(self.issue_date, dt.datetime) or not isinstance(self.issue_date, dt.date):
            raise InvalidRecordError("issue_date: 应为日期 (expected datetime.date)")
        try:
            number = parse_number(self.number)
            digit = level_digit(self.level)
        except CertificateNumberError as exc:
            raise InvalidRecordError(f"number/level: {exc}") from exc
        if number.year != self.issue_date.year:
            raise InvalidRecordError(
                f"number: 证书编号年份 {number.year} 与发证日期 {self.issue_date} 不符 "
                "(year in the number differs from the issue date)"
            )
        if number.level != digit:
            raise InvalidRecordError(
                f"number: 证书编号等级代码 {number.level} 与等级“{self.level}”（{digit}）不符 "
                "(level digit in the number differs from the level)"
            )
        object.__setattr__(self, "number", str(number))
        if self.photo_sha256 is not None and (
            not isinstance(self.photo_sha256, str) or not _SHA256_HEX.fullmatch(self.photo_sha256)
        ):
            raise InvalidRecordError(
                "photo_sha256: 应为 64 位小写十六进制 SHA-256 (expected lower-case hex SHA-256)"
            )
        for name in ("theory_score", "practical_score", "review_score"):
            object.__setattr__(self, name, _score(name, getattr(self, name)))
        try:
            check_kid(self.kid)
        except TrustListError as exc:
            raise InvalidRecordError(str(exc)) from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, with ``"format"``: the exact object that is signed."""
        out: dict[str, Any] = {"format": FORMAT}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if type(value) is str or value is None:  # most fields: nothing to convert
                pass
            elif isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, IdType):
                value = value.value
            elif isinstance(value, float) and value.is_integer():
                value = int(value)  # 90.0 and 90 are one JSON number; keep the JSON plain
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: object) -> CertificateRecord:
        if not isinstance(data, Mapping):
            raise InvalidRecordError("record: 应为对象 (expected an object)")
        _check_format(data.get("format"), "record")
        names = _field_names(cls)
        missing = [name for name in names if name not in data]
        if missing:
            raise InvalidRecordError(f"record: 缺少字段 {', '.join(missing)} (missing fields)")
        unknown = sorted(set(data) - set(names) - {"format"})
        if unknown:
            raise InvalidRecordError(f"record: 未知字段 {', '.join(unknown)} (unknown fields)")
        values = dict(data)
        raw_date = values["issue_date"]
        if not isinstance(raw_date, str) or not _ISO_DATE.fullmatch(raw_date):
            raise InvalidRecordError(f"issue_date: 应为 YYYY-MM-DD，实际为 {raw_date!r}")
        try:
            values["issue_date"] = dt.date.fromisoformat(raw_date)
        except ValueError:
            raise InvalidRecordError(f"issue_date: 日期 {raw_date} 不存在") from None
        values.pop("format")
        return cls(**values)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """``[f.name for f in fields(cls)]``, worked out once per class (``fields()`` walks the
    dataclass machinery on every call)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _text_id(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidRecordError("id_number: 应为文本 (expected str)")
    return value


def _check_format(version: object, where: str) -> None:
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidRecordError(f"{where}.format: 缺少或无效的格式版本 {version!r}")
    if version != FORMAT:
        raise UnknownRecordVersionError(
            f"{where}.format: 证书记录格式版本 {version} 不受支持（本软件支持 {FORMAT}），请升级"
            " (unknown format version)"
        )


def canonical_bytes(record: CertificateRecord) -> bytes:
    """The RFC 8785 (JCS) serialisation of ``record.to_dict()``."""
    return jcs.canonical(record.to_dict())


# --------------------------------------------------------------------------- signing


@dataclass(frozen=True, slots=True)
class SignedRecord:
    """A record, the id of the key that signed it, and the 64-byte Ed25519 signature."""

    record: CertificateRecord
    kid: str
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "kid": self.kid,
            "record": self.record.to_dict(),
            "signature": base64.urlsafe_b64encode(self.signature).decode("ascii").rstrip("="),
        }

    @classmethod
    def from_dict(cls, data: object) -> SignedRecord:
        """Read :meth:`to_dict` output. Refuses wrong shapes; checks no signature."""
        if not isinstance(data, Mapping):
            raise InvalidRecordError("signed record: 应为对象 (expected an object)")
        _check_format(data.get("format"), "signed record")
        kid = data.get("kid")
        try:
            check_kid(kid, label="signed record.kid")
        except TrustListError as exc:
            raise InvalidRecordError(str(exc)) from exc
        raw = data.get("signature")
        if not isinstance(raw, str) or not _SIGNATURE_B64.fullmatch(raw):
            raise InvalidRecordError(
                "signed record.signature: 应为 86 个字符的 base64url (64-byte signature)"
            )
        try:
            signature = base64.urlsafe_b64decode(raw + "==")
        except (binascii.Error, ValueError) as exc:  # pragma: no cover - shape checked above
            raise InvalidRecordError(f"signed record.signature: {exc}") from exc
        if base64.urlsafe_b64encode(signature).decode("ascii").rstrip("=") != raw:
            raise InvalidRecordError("signed record.signature: 非规范的 base64url (non-canonical)")
        return cls(
            record=CertificateRecord.from_dict(data.get("record")), kid=kid, signature=signature
        )  # type: ignore[arg-type]


def sign_record(record: CertificateRecord, private_key: Ed25519PrivateKey) -> SignedRecord:
    """Sign ``record`` with the station key its ``kid`` names."""
    signature = private_key.sign(SIGNING_CONTEXT + canonical_bytes(record))
    return SignedRecord(record=record, kid=record.kid, signature=signature)


def verify_record(signed: SignedRecord, trust: TrustList) -> CertificateRecord:
    """The record, if its signature verifies with a trusted key valid on its issue date.

    Raises :class:`UnknownRecordKeyError`, :class:`BadRecordSignatureError` (also when the
    outer kid and the record's kid differ) or :class:`RecordKeyNotValidError`.
    """
    return verify_record_bytes(signed, trust)[0]


def verify_record_bytes(signed: SignedRecord, trust: TrustList) -> tuple[CertificateRecord, bytes]:
    """:func:`verify_record`, also returning the record's :func:`canonical_bytes` that the
    signature was checked over (the registry hashes them: no need to serialise twice)."""
    record = signed.record
    key = trust.get(signed.kid)
    if key is None:
        raise UnknownRecordKeyError(
            f"证书记录由未知密钥 {signed.kid!r} 签名：信任列表中没有该密钥 (unknown key)"
        )
    if signed.kid != record.kid:
        raise BadRecordSignatureError(
            f"证书记录的密钥编号不一致：外层 {signed.kid}，记录内 {record.kid} (kid mismatch)"
        )
    canonical = canonical_bytes(record)
    try:
        verify_signature(key.public_key, signed.signature, SIGNING_CONTEXT + canonical)
    except InvalidSignature as exc:
        raise BadRecordSignatureError(
            f"证书记录 {record.number} 的签名无效（密钥 {signed.kid}）：内容被篡改或系伪造 "
            "(bad signature)"
        ) from exc
    if not key.valid_on(record.issue_date):
        raise RecordKeyNotValidError(
            f"密钥 {key.kid} 的有效期为 {key.describe_window()}，不能签发 {record.issue_date} "
            "的证书 (key not valid on the issue date)"
        )
    return record, canonical
