"""The trust list: which station keys may sign certificates, when, and which certificates are revoked.

The provincial registry publishes one trust list (and will sign it with its root key); verifiers
cache it so that a certificate can be checked with no network (DESIGN.md, Trust). Each entry is a
station key: its key id, the station it belongs to, the Ed25519 public key and a validity window
of dates. A key stays in the list after it is rotated out, with a ``valid_until``: whatever it
signed inside its window keeps verifying; a certificate dated outside it is refused. The window
is checked against the certificate's **issue date** (dates in Asia/Shanghai, both ends included).

JSON form (format 1), written with sorted entries so that equal lists serialise identically;
:meth:`TrustList.canonical_bytes` is its RFC 8785 form, the bytes a registry signature covers::

    {
      "format": 1,
      "issued_at": "2026-12-05T08:00:00Z",            # or null
      "keys": [
        {"kid": "st-abcdefghij", "station_code": "ST440301",
         "public_key": "<32 raw bytes, base64url, no padding>",
         "valid_from": "2026-01-01", "valid_until": null}
      ],
      "revocations": [
        {"number": "S000144030001265000123", "revoked_at": "2027-03-01T02:00:00Z",
         "reason": "以欺骗手段取得"}
      ]
    }

A reader of format 1 ignores fields it does not know (they are still covered by a signature);
a list of a newer format is refused with a clear error.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from certs import jcs
from certs import keys as keys_module
from certs.numbers import CertificateNumberError, parse_number

__all__ = [
    "FORMAT",
    "Revocation",
    "StationKey",
    "TrustList",
    "TrustListError",
    "check_kid",
]

FORMAT = 1
MAX_KID = 32
MAX_STATION_CODE = 64
MAX_REASON = 500

_KID = re.compile(rf"[!-~]{{1,{MAX_KID}}}")  # printable ASCII, no spaces


class TrustListError(ValueError):
    """A trust list, key or revocation that cannot be used; the message names the field."""


def check_kid(kid: object, *, label: str = "kid") -> str:
    """``kid`` if it is 1-32 printable ASCII characters without spaces; else :class:`TrustListError`."""
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise TrustListError(
            f"{label}: 密钥编号 {kid!r} 无效，应为 1–{MAX_KID} 个可打印 ASCII 字符 (invalid key id)"
        )
    return kid


def _check_text(label: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value or value != value.strip():
        raise TrustListError(f"{label}: 应为非空文本，首尾不能有空格 (empty, padded or not text)")
    if len(value) > limit:
        raise TrustListError(f"{label}: 超过 {limit} 个字符 (too long)")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise TrustListError(f"{label}: 含有控制字符 (control character)")
    return value


def _check_date(label: str, value: object) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TrustListError(f"{label}: 应为日期 (expected a date)")
    return value


def _utc(label: str, value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise TrustListError(f"{label}: 应为带时区的时间 (expected an aware datetime)")
    return value.astimezone(dt.UTC)


def _iso_utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True, eq=True)
class StationKey:
    """One station signing key and the dates (inclusive) it may sign certificates for."""

    kid: str
    station_code: str
    public_key: Ed25519PublicKey
    valid_from: dt.date
    valid_until: dt.date | None = None

    __hash__ = None  # type: ignore[assignment]  # Ed25519PublicKey is not hashable

    def __post_init__(self) -> None:
        check_kid(self.kid)
        _check_text("station_code", self.station_code, MAX_STATION_CODE)
        if not isinstance(self.public_key, Ed25519PublicKey):
            raise TrustListError("public_key: 应为 Ed25519 公钥 (expected an Ed25519 public key)")
        _check_date("valid_from", self.valid_from)
        if self.valid_until is not None:
            _check_date("valid_until", self.valid_until)
            if self.valid_until < self.valid_from:
                raise TrustListError(
                    f"valid_until: 有效期止 {self.valid_until} 早于起 {self.valid_from} "
                    "(validity window ends before it starts)"
                )

    def valid_on(self, day: dt.date) -> bool:
        """True when certificates dated ``day`` may carry this key's signature."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def describe_window(self) -> str:
        return f"{self.valid_from} 至 {self.valid_until or '今'}"

    def to_dict(self) -> dict[str, Any]:
        raw = keys_module.public_bytes(self.public_key)
        return {
            "kid": self.kid,
            "station_code": self.station_code,
            "public_key": base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
        }

    @classmethod
    def from_dict(cls, data: object, *, where: str = "key") -> StationKey:
        if not isinstance(data, Mapping):
            raise TrustListError(f"{where}: 应为对象 (expected an object)")
        kid = check_kid(data.get("kid"), label=f"{where}.kid")
        return cls(
            kid=kid,
            station_code=_check_text(
                f"{where}.station_code", data.get("station_code"), MAX_STATION_CODE
            ),
            public_key=_public_key(f"{where}.public_key", data.get("public_key")),
            valid_from=_parse_date(f"{where}.valid_from", data.get("valid_from")),
            valid_until=(
                None
                if data.get("valid_until") is None
                else _parse_date(f"{where}.valid_until", data.get("valid_until"))
            ),
        )


@dataclass(frozen=True)
class Revocation:
    """Why and when a certificate was revoked (吊销/撤销)."""

    revoked_at: dt.datetime  # aware; stored in UTC
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "revoked_at", _utc("revoked_at", self.revoked_at))
        _check_text("reason", self.reason, MAX_REASON)


def _public_key(label: str, value: object) -> Ed25519PublicKey:
    if not isinstance(value, str):
        raise TrustListError(f"{label}: 应为 base64url 文本 (expected base64url text)")
    if not re.fullmatch(r"[A-Za-z0-9_-]*", value):
        raise TrustListError(f"{label}: 不是有效的 base64url（含有其他字符）(not base64url)")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TrustListError(f"{label}: 不是有效的 base64url ({exc})") from exc
    if len(raw) != 32:
        raise TrustListError(
            f"{label}: Ed25519 公钥应为 32 字节，实际为 {len(raw)} 字节 (expected 32 bytes)"
        )
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != value:
        raise TrustListError(f"{label}: 非规范的 base64url (non-canonical base64url)")
    try:
        return keys_module.public_key_from_raw(raw)
    except keys_module.KeyLoadError as exc:
        raise TrustListError(f"{label}: {exc}") from None


def _parse_date(label: str, value: object) -> dt.date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise TrustListError(f"{label}: 应为 YYYY-MM-DD 日期，实际为 {value!r} (expected a date)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise TrustListError(f"{label}: 日期 {value} 不存在 (impossible date)") from None


def _parse_time(label: str, value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise TrustListError(f"{label}: 应为 ISO 8601 时间文本 (expected a timestamp)")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise TrustListError(f"{label}: 无效的时间 {value!r} (bad ISO 8601 timestamp)") from None
    if parsed.tzinfo is None:
        raise TrustListError(f"{label}: 时间 {value} 缺少时区 (timestamp without a time zone)")
    return parsed.astimezone(dt.UTC)


def _number(label: str, value: object) -> str:
    try:
        return str(parse_number(value))  # type: ignore[arg-type]
    except CertificateNumberError as exc:
        raise TrustListError(f"{label}: {exc}") from exc


# --------------------------------------------------------------------------- the list


class TrustList:
    """Station keys by key id, and revoked certificates by number. Immutable."""

    __slots__ = ("_keys", "_revocations", "issued_at")

    def __init__(
        self,
        keys: Iterable[StationKey] = (),
        revocations: Mapping[str, Revocation] | None = None,
        *,
        issued_at: dt.datetime | None = None,
    ) -> None:
        by_kid: dict[str, StationKey] = {}
        for index, key in enumerate(keys):
            if not isinstance(key, StationKey):
                raise TrustListError(f"keys[{index}]: 应为 StationKey (expected a StationKey)")
            if key.kid in by_kid:
                raise TrustListError(f"keys[{index}].kid: 密钥编号 {key.kid} 重复 (duplicate kid)")
            by_kid[key.kid] = key
        revoked: dict[str, Revocation] = {}
        for number, revocation in (revocations or {}).items():
            canonical = _number(f"revocations[{number!r}]", number)
            if not isinstance(revocation, Revocation):
                raise TrustListError(f"revocations[{number!r}]: 应为 Revocation")
            revoked[canonical] = revocation
        self._keys = MappingProxyType(dict(sorted(by_kid.items())))
        self._revocations = MappingProxyType(dict(sorted(revoked.items())))
        self.issued_at = None if issued_at is None else _utc("issued_at", issued_at)

    # ---- lookups

    @property
    def keys(self) -> Mapping[str, StationKey]:
        return self._keys

    @property
    def revocations(self) -> Mapping[str, Revocation]:
        return self._revocations

    def get(self, kid: str) -> StationKey | None:
        return self._keys.get(kid)

    def revocation(self, number: str) -> Revocation | None:
        return self._revocations.get(number)

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """Key id -> public key, the shape ``certs.ticket_token.verify_ticket`` takes."""
        return {kid: key.public_key for kid, key in self._keys.items()}

    def keys_of(self, station_code: str) -> list[StationKey]:
        """A station's keys, oldest first."""
        found = [k for k in self._keys.values() if k.station_code == station_code]
        return sorted(found, key=lambda k: (k.valid_from, k.kid))

    # ---- derived lists

    def with_key(self, key: StationKey) -> TrustList:
        """A copy with ``key`` added, or replacing the entry with the same kid (e.g. to close its window)."""
        others = [k for k in self._keys.values() if k.kid != key.kid]
        return TrustList([*others, key], self._revocations, issued_at=self.issued_at)

    def with_revocation(self, number: str, revocation: Revocation) -> TrustList:
        return TrustList(
            self._keys.values(), {**self._revocations, number: revocation}, issued_at=self.issued_at
        )

    # ---- JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "issued_at": None if self.issued_at is None else _iso_utc(self.issued_at),
            "keys": [key.to_dict() for key in self._keys.values()],
            "revocations": [
                {"number": number, "revoked_at": _iso_utc(r.revoked_at), "reason": r.reason}
                for number, r in self._revocations.items()
            ],
        }

    @classmethod
    def from_dict(cls, data: object) -> TrustList:
        if not isinstance(data, Mapping):
            raise TrustListError("信任列表应为 JSON 对象 (trust list: expected an object)")
        version = data.get("format")
        if isinstance(version, bool) or not isinstance(version, int):
            raise TrustListError(f"format: 缺少或无效的格式版本 {version!r} (missing format)")
        if version != FORMAT:
            raise TrustListError(
                f"format: 信任列表格式版本 {version} 不受支持（本软件支持 {FORMAT}），请升级 "
                "(unsupported trust list format)"
            )
        issued = data.get("issued_at")
        raw_keys = data.get("keys")
        if not isinstance(raw_keys, list):
            raise TrustListError("keys: 应为数组 (expected a list)")
        raw_revocations = data.get("revocations", [])
        if not isinstance(raw_revocations, list):
            raise TrustListError("revocations: 应为数组 (expected a list)")
        revocations: dict[str, Revocation] = {}
        for index, item in enumerate(raw_revocations):
            where = f"revocations[{index}]"
            if not isinstance(item, Mapping):
                raise TrustListError(f"{where}: 应为对象 (expected an object)")
            number = _number(f"{where}.number", item.get("number"))
            if number in revocations:
                raise TrustListError(f"{where}.number: 证书编号 {number} 重复 (duplicate)")
            revoked_at = _parse_time(f"{where}.revoked_at", item.get("revoked_at"))
            reason = _check_text(f"{where}.reason", item.get("reason"), MAX_REASON)
            revocations[number] = Revocation(revoked_at, reason)
        return cls(
            [StationKey.from_dict(item, where=f"keys[{i}]") for i, item in enumerate(raw_keys)],
            revocations,
            issued_at=None if issued is None else _parse_time("issued_at", issued),
        )

    def dumps(self) -> str:
        """Readable JSON (UTF-8 text, Chinese kept as is)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def loads(cls, text: str | bytes) -> TrustList:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TrustListError(f"信任列表不是有效的 JSON：{exc} (not JSON)") from exc
        return cls.from_dict(data)

    def canonical_bytes(self) -> bytes:
        """RFC 8785 (JCS) bytes of :meth:`to_dict`: what a registry signature covers."""
        return jcs.canonical(self.to_dict())

    # ---- value semantics

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrustList):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TrustList({len(self._keys)} keys, {len(self._revocations)} revocations)"
