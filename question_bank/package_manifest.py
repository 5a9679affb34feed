"""manifest.json of a bank package: its fields, their validation, and their canonical bytes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from question_bank.errors import PackageError
from question_bank.package_content import CONTENT, json_bytes
from question_bank.package_crypto import CIPHER, FORMAT, NONCE_BYTES, b64u_decode
from question_bank.package_zip import MANIFEST, check_member_name

SIGNATURE = "manifest.sig"
SIG_ALG = "Ed25519"
BANK_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_COMPUTED = {"format", "kid", "counts", "files", "encrypted", "encryption"}
_META_KEYS = {"bank", "name", "programme", "occupation", "direction", "level", "version",
              "issuer", "created_at", "extra"}  # fmt: skip


@dataclass(frozen=True)
class FileEntry:
    sha256: str  # of the bytes stored in the zip (the ciphertext when encrypted)
    size: int
    nonce: str | None = None  # base64url, encrypted packages only

    def to_dict(self) -> dict:
        data = {"sha256": self.sha256, "size": self.size}
        return data | ({"nonce": self.nonce} if self.nonce is not None else {})


@dataclass
class PackageManifest:
    """The parsed ``manifest.json``."""

    bank: str
    version: int
    programme: dict  # {"code", "name"}
    level: str
    issuer: dict  # {"code", "name"}
    created_at: str  # UTC, "YYYY-MM-DDTHH:MM:SSZ"
    kid: str
    counts: dict[str, int]
    files: dict[str, FileEntry]
    name: str = ""
    occupation: str | None = None
    direction: str | None = None
    encrypted: bool = False
    encryption: dict | None = None  # {"cipher", "nonce_bytes", "aad", "key_check"}
    extra: dict = field(default_factory=dict)
    format: str = FORMAT

    def to_dict(self) -> dict:
        return self.metadata() | {
            "files": {name: entry.to_dict() for name, entry in sorted(self.files.items())},
            **({"encryption": self.encryption} if self.encrypted else {}),
        }

    def metadata(self) -> dict:
        """Everything except the file list and cipher details: what ``BankContent.meta`` gets."""
        return {
            "format": self.format, "bank": self.bank, "name": self.name,
            "programme": dict(self.programme), "occupation": self.occupation,
            "direction": self.direction, "level": self.level, "version": self.version,
            "issuer": dict(self.issuer), "created_at": self.created_at, "kid": self.kid,
            "counts": dict(self.counts), "encrypted": self.encrypted, "extra": dict(self.extra),
        }  # fmt: skip

    def to_bytes(self) -> bytes:
        return json_bytes(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> PackageManifest:
        if not isinstance(data, dict):
            raise PackageError("manifest.json 不是 JSON 对象 (manifest is not an object)")
        check_format(data.get("format"))
        encrypted = data.get("encrypted", False)
        if not isinstance(encrypted, bool):
            raise _field("encrypted", "应为 true 或 false")
        files = data.get("files")
        if not isinstance(files, dict) or CONTENT not in files:
            raise _field("files", f"应为文件清单，且包含 {CONTENT}")
        entries = {name: _file_entry(name, entry, encrypted) for name, entry in files.items()}
        counts = data.get("counts")
        if not isinstance(counts, dict) or not all(_count_ok(v) for v in counts.values()):
            raise _field("counts", "应为 {类型: 非负整数}")
        encryption = data.get("encryption") if encrypted else None
        if encrypted and (
            not isinstance(encryption, dict)
            or encryption.get("cipher") != CIPHER
            or not isinstance(encryption.get("key_check"), str)
        ):
            raise _field("encryption", f"加密题库包须注明 cipher = {CIPHER} 和 key_check")
        extra = data.get("extra") or {}
        if not isinstance(extra, dict):
            raise _field("extra", "应为 JSON 对象")
        meta = normalise_meta(data)
        if not isinstance(data.get("kid"), str) or not data["kid"]:
            raise _field("kid", "应为签名密钥编号")
        return cls(**meta, kid=data["kid"], counts=dict(counts), files=entries,
                   encrypted=encrypted, encryption=encryption)  # fmt: skip


def manifest_json(raw: bytes) -> dict:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PackageError(
            f"{MANIFEST} 不是有效的 UTF-8 JSON：{exc} (malformed manifest)"
        ) from None
    if not isinstance(data, dict):
        raise PackageError(f"{MANIFEST} 不是 JSON 对象 (malformed manifest)")
    return data


def check_format(value) -> None:
    if value != FORMAT:
        raise PackageError(
            f"不支持的题库包格式版本 {value!r}，本系统支持 {FORMAT}；请升级站点软件或向发布机构索取 "
            f"{FORMAT} 格式的题库包 (unsupported format version)"
        )


def split_extra(meta: dict) -> dict:
    if not isinstance(meta, dict):
        raise TypeError("manifest_meta is a dict")
    known = {k: v for k, v in meta.items() if k in _META_KEYS}
    if not isinstance(meta.get("extra") or {}, dict):
        raise _field("extra", "应为 JSON 对象", "manifest_meta")
    extra = dict(meta.get("extra") or {})
    extra.update({k: v for k, v in meta.items() if k not in _META_KEYS | _COMPUTED})
    return known | {"extra": extra}


def normalise_meta(data: dict, *, building: bool = False) -> dict:
    where = "manifest_meta" if building else MANIFEST
    bank = data.get("bank")
    if not isinstance(bank, str) or not BANK_CODE.match(bank):
        raise _field("bank", "题库代码只能用字母、数字和 . _ -，最长 64 个字符", where)
    version = data.get("version")
    if building and isinstance(version, str) and version.isdigit():
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _field("version", "应为正整数", where)
    optional = {}
    for key in ("name", "occupation", "direction"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise _field(key, "应为字符串", where)
        optional[key] = value
    level = data.get("level")
    if not isinstance(level, str) or not level.strip():
        raise _field("level", "应为非空字符串，如 中级 或 四级", where)
    try:
        json.dumps(data.get("extra") or {})
    except (TypeError, ValueError):
        raise _field("extra", "只能包含 JSON 数据", where) from None
    return {
        "bank": bank, "version": version, "level": level,
        "programme": _code_name(data.get("programme"), "programme", where),
        "issuer": _code_name(data.get("issuer"), "issuer", where),
        "created_at": _utc(data.get("created_at"), where, default_now=building),
        "name": optional["name"] or "", "occupation": optional["occupation"],
        "direction": optional["direction"], "extra": dict(data.get("extra") or {}),
    }  # fmt: skip


def _code_name(value, key: str, where: str) -> dict:
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), str) and value[k].strip() for k in ("code", "name")
    ):
        raise _field(key, '应为 {"code": 代码, "name": 名称}，两者都不能为空', where)
    return {"code": value["code"], "name": value["name"]}


def _utc(value, where: str, *, default_now: bool) -> str:
    if value is None and default_now:
        value = datetime.now(UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise _field("created_at", "应为带时区的 ISO 8601 时间，如 2026-03-01T08:00:00Z", where)
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _file_entry(name, entry, encrypted: bool) -> FileEntry:
    check_member_name(name)
    if name in (MANIFEST, SIGNATURE) or (name != CONTENT and not name.startswith("media/")):
        raise _field("files", f"文件 {name} 不允许；只能是 {CONTENT} 或 media/ 下的文件")
    if (
        not isinstance(entry, dict)
        or not isinstance(entry.get("sha256"), str)
        or not _HEX64.match(entry["sha256"])
        or not _count_ok(entry.get("size"))
    ):
        raise _field("files", f"{name} 须有 sha256（64 位小写十六进制）和 size")
    nonce = entry.get("nonce")
    if encrypted and (
        not isinstance(nonce, str) or len(b64u_decode(nonce, f"{name} nonce")) != NONCE_BYTES
    ):
        raise _field("files", f"加密文件 {name} 须有 12 字节的 nonce")
    return FileEntry(entry["sha256"], entry["size"], nonce if encrypted else None)


def _count_ok(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _field(key: str, why: str, where: str = MANIFEST) -> PackageError:
    return PackageError(f"{where} 字段 {key} 缺失或无效：{why} (invalid field {key!r})")
