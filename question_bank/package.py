"""Bank packages (题库包): the signed, optionally encrypted zip an issuer publishes.

Format ``skillcert-bank/1``, described byte by byte in ``docs/bank-package.md``::

    manifest.json   metadata, counts, and the sha256 + size of every other file
    manifest.sig    {"alg": "Ed25519", "format", "kid", "sig"}: a signature of manifest.json's bytes
    content.json    items, tasks and blueprints (AES-256-GCM ciphertext when encrypted)
    media/...       images and other files the items refer to (likewise)

An issuer calls :func:`build_package`; a station calls :func:`open_package`, which checks the
signature and every file's hash before anything is read, and then
:meth:`OpenedPackage.content` (with the content key, from :func:`parse_release_code`, when
the package is encrypted).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from question_bank.errors import PackageError
from question_bank.items import BankContent
from question_bank.package_content import (
    CONTENT,
    content_counts,
    content_dict,
    json_bytes,
    parse_content,
    sanitised,
)
from question_bank.package_crypto import (
    CIPHER,
    FORMAT,
    KEY_BYTES,
    NONCE_BYTES,
    b64u,
    b64u_decode,
    check_content_key,
    decrypt_file,
    encrypt_file,
    key_check,
    new_content_key,
    parse_release_code,
    release_code_for,
    unwrap_content_key,
    wrap_content_key,
)
from question_bank.package_manifest import (
    SIG_ALG,
    SIGNATURE,
    FileEntry,
    PackageManifest,
    check_format,
    manifest_json,
    normalise_meta,
    split_extra,
)
from question_bank.package_zip import (
    MANIFEST,
    MAX_ENTRIES,
    MAX_RATIO,
    MAX_TOTAL_SIZE,
    check_member_name,
    read_zip,
    write_zip,
)
from question_bank.signing import IssuerKey, TrustedIssuers

__all__ = [
    "FORMAT",
    "MAX_ENTRIES",
    "MAX_RATIO",
    "MAX_TOTAL_SIZE",
    "FileEntry",
    "OpenedPackage",
    "PackageManifest",
    "build_package",
    "open_package",
    "parse_release_code",
    "read_manifest_unverified",
    "release_code_for",
    "unwrap_content_key",
    "wrap_content_key",
]


@dataclass
class OpenedPackage:
    """A package whose signature and file hashes have been verified."""

    manifest: PackageManifest
    kid: str
    sha256: str  # of the whole package file, e.g. to tell a re-import of the same file
    _files: dict[str, bytes] = field(repr=False)

    @property
    def encrypted(self) -> bool:
        return self.manifest.encrypted

    def content(self, key: bytes | None = None) -> BankContent:
        """The bank's content; ``key`` is the content key (from the release code) if encrypted."""
        m = self.manifest
        files = self._files
        if m.encrypted:
            if key is None:
                raise PackageError(
                    f"题库包 {m.bank} 版本 {m.version} 已加密，需要解锁码 (package is encrypted; "
                    "a release code is needed)"
                )
            check_content_key(key, m.encryption["key_check"])
            files = {
                name: decrypt_file(
                    bytes(key),
                    bank=m.bank,
                    version=m.version,
                    name=name,
                    nonce=b64u_decode(m.files[name].nonce, f"{name} nonce"),
                    data=blob,
                )
                for name, blob in files.items()
            }
        content = parse_content(files[CONTENT])
        content.media = {name: blob for name, blob in sorted(files.items()) if name != CONTENT}
        content.meta = m.metadata()
        content.format = "package"
        if content_counts(content) != m.counts:
            raise PackageError(
                f"manifest.json 中的数量 {m.counts} 与 content.json 的实际内容 {content_counts(content)} "
                "不符 (counts do not match the content)"
            )
        return content


# --- building ----------------------------------------------------------------------------------


def build_package(
    content: BankContent,
    *,
    manifest_meta: dict,
    key: IssuerKey,
    encrypt: bool = False,
    content_key: bytes | None = None,
) -> tuple[bytes, bytes | None]:
    """Build and sign a package: ``(zip bytes, content key or None)``.

    ``manifest_meta`` holds bank, version, programme {code, name}, level, issuer {code, name}
    and optionally name, occupation, direction, created_at (default: now) and extra; other
    keys go into ``extra``, and computed ones (format, counts, files, ...) are ignored.
    ``content_key`` reuses a given 32-byte key instead of a fresh random one (encrypt only).
    The same input gives the same bytes, except that encryption uses random nonces.
    """
    if content_key is not None and not encrypt:
        raise ValueError("content_key is only used with encrypt=True")
    meta = normalise_meta(split_extra(manifest_meta), building=True)
    content = sanitised(content)
    plain = {CONTENT: json_bytes(content_dict(content))}
    for name, blob in sorted(content.media.items()):
        check_member_name(name)
        if not name.startswith("media/"):
            raise PackageError(
                f"媒体文件名 {name!r} 须以 media/ 开头 (media names start with media/)"
            )
        plain[name] = bytes(blob)
    stored, nonces, encryption = plain, {}, None
    if encrypt:
        content_key = content_key or new_content_key()
        if len(content_key) != KEY_BYTES:
            raise ValueError("a content key is 32 bytes")
        stored = {}
        for name, blob in plain.items():
            nonce, stored[name] = encrypt_file(
                content_key, bank=meta["bank"], version=meta["version"], name=name, data=blob
            )
            nonces[name] = b64u(nonce)
        encryption = {"cipher": CIPHER, "nonce_bytes": NONCE_BYTES,
                      "aad": FORMAT + "|{bank}|{version}|{file}",
                      "key_check": key_check(content_key)}  # fmt: skip
    manifest = PackageManifest(
        **meta, kid=key.kid, counts=content_counts(content),
        files={name: FileEntry(_sha256(blob), len(blob), nonces.get(name))
               for name, blob in stored.items()},
        encrypted=encrypt, encryption=encryption,
    )  # fmt: skip
    manifest_bytes = manifest.to_bytes()
    envelope = {"alg": SIG_ALG, "format": FORMAT, "kid": key.kid,
                "sig": b64u(key.sign(manifest_bytes))}  # fmt: skip
    entries = [(MANIFEST, manifest_bytes, False), (SIGNATURE, json_bytes(envelope), False)]
    entries += [(name, stored[name], encrypt) for name in sorted(stored)]
    return write_zip(entries), (content_key if encrypt else None)


# --- opening -----------------------------------------------------------------------------------


def open_package(
    data: bytes,
    *,
    trusted: TrustedIssuers,
    max_total_size: int = MAX_TOTAL_SIZE,
    max_ratio: float = MAX_RATIO,
    max_entries: int = MAX_ENTRIES,
) -> OpenedPackage:
    """Verify a package: zip safety, the signature against ``trusted``, every file's hash."""
    files = read_zip(
        data, max_total_size=max_total_size, max_ratio=max_ratio, max_entries=max_entries
    )
    manifest_bytes = files.pop(MANIFEST)
    if SIGNATURE not in files:
        raise PackageError(f"题库包缺少 {SIGNATURE}：未签名的题库包不能导入 (unsigned package)")
    raw = manifest_json(manifest_bytes)
    check_format(raw.get("format"))
    kid, signature = _parse_signature(files.pop(SIGNATURE))
    if kid not in trusted:
        raise PackageError(
            f"未知的发布机构密钥 {kid}：本站点尚未信任该密钥，请先导入发布机构公钥 (unknown key id)"
        )
    trusted_key = trusted[kid]
    if not trusted_key.verify(signature, manifest_bytes):
        raise PackageError(f"签名无效：{SIGNATURE} 与发布机构密钥 {kid} 不符 (bad signature)")
    manifest = PackageManifest.from_dict(raw)
    if manifest.kid != kid:
        raise PackageError(
            f"manifest.json 注明的密钥 {manifest.kid} 与签名所用密钥 {kid} 不符 (kid mismatch)"
        )
    if trusted_key.issuer_code and manifest.issuer["code"] != trusted_key.issuer_code:
        raise PackageError(
            f"密钥 {kid} 属于发布机构 {trusted_key.issuer_code}，不能签发 {manifest.issuer['code']} "
            "的题库包 (issuer does not own this key)"
        )
    for name in files:
        if name not in manifest.files:
            raise PackageError(
                f"题库包中的文件 {name} 不在清单中 (file not listed in the manifest)"
            )
    for name, entry in manifest.files.items():
        if name not in files:
            raise PackageError(f"题库包缺少清单列出的文件 {name} (missing file)")
        if len(files[name]) != entry.size or _sha256(files[name]) != entry.sha256:
            raise PackageError(
                f"文件 {name} 与清单中的校验值不符：签名后被修改过 (sha256 mismatch)"
            )
    return OpenedPackage(manifest, kid, _sha256(bytes(data)), files)


def read_manifest_unverified(
    data: bytes,
    *,
    max_total_size: int = MAX_TOTAL_SIZE,
    max_ratio: float = MAX_RATIO,
    max_entries: int = MAX_ENTRIES,
) -> PackageManifest:
    """The manifest WITHOUT checking the signature: for showing what a file claims to be."""
    files = read_zip(
        data, max_total_size=max_total_size, max_ratio=max_ratio, max_entries=max_entries
    )
    return PackageManifest.from_dict(manifest_json(files[MANIFEST]))


def _parse_signature(raw: bytes) -> tuple[str, bytes]:
    try:
        envelope = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        envelope = None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("kid"), str):
        raise PackageError(
            f"{SIGNATURE} 格式无效：应为含 alg、kid、sig 的 JSON (malformed signature)"
        )
    if envelope.get("alg") != SIG_ALG:
        raise PackageError(
            f"不支持的签名算法 {envelope.get('alg')!r}，应为 {SIG_ALG} (unsupported alg)"
        )
    signature = b64u_decode(envelope.get("sig"), SIGNATURE)
    if len(signature) != 64:
        raise PackageError(f"{SIGNATURE} 中的签名长度无效 (malformed signature)")
    return envelope["kid"], signature


# --- content -----------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
