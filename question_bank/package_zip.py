"""The zip container of bank packages: deterministic writing, and defensive reading.

Reading refuses path traversal, duplicate names, symbolic links, zip encryption, unknown
compression methods and zip bombs (a cap on the total uncompressed size, and on the
compression ratio of large entries) before any entry is decompressed.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib

from question_bank.errors import PackageError

MANIFEST = "manifest.json"  # the one entry every package has at its root
MAX_TOTAL_SIZE = 512 * 1024 * 1024  # uncompressed bytes, all entries together
MAX_RATIO = 200  # uncompressed / compressed, for entries over RATIO_FLOOR bytes
RATIO_FLOOR = 1024 * 1024
MAX_ENTRIES = 20_000
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\\:*?\"<>|]")
_STORED_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".mp3", ".mp4", ".zip", ".woff2")


def write_zip(entries: list[tuple[str, bytes, bool]]) -> bytes:
    """A zip of ``(name, data, incompressible)`` in the given order, byte-for-byte reproducible.

    Fixed timestamps (1980-01-01), Unix mode 0644, no extra fields; deflate level 9 except for
    incompressible entries (ciphertext) and already-compressed media, which are stored.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data, incompressible in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # the same bytes whichever OS builds the package
            info.external_attr = 0o100644 << 16
            stored = incompressible or name.lower().endswith(_STORED_SUFFIXES)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=None if stored else 9)
    return buffer.getvalue()


def read_zip(data: bytes, *, max_total_size: int, max_ratio: float, max_entries: int) -> dict:
    """Every entry's bytes by name, after checking names, types and sizes of all entries."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("a package is bytes")
    if len(data) > max_total_size:
        raise PackageError(f"题库包大小超过 {_mib(max_total_size)} 上限 (package too large)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise PackageError("不是有效的题库包：无法作为 zip 文件读取 (not a zip file)") from None
    if len(infos) > max_entries:
        raise PackageError(f"题库包中的文件超过 {max_entries} 个 (too many entries)")
    seen, total = set(), 0
    for info in infos:
        name = info.filename
        check_member_name(name)
        if name in seen:
            raise PackageError(f"题库包中的文件 {name} 出现了不止一次 (duplicate entry)")
        seen.add(name)
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise PackageError(f"题库包中的 {name} 是符号链接，不允许 (symbolic link)")
        if info.flag_bits & 0x1:
            raise PackageError(f"题库包中的 {name} 使用了 zip 密码加密，不支持 (zip encryption)")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise PackageError(f"题库包中的 {name} 使用了不支持的压缩方式 (compression method)")
        total += info.file_size
        if total > max_total_size:
            raise PackageError(
                f"题库包解压后超过 {_mib(max_total_size)} 上限，已拒绝 (uncompressed size limit)"
            )
        if info.file_size > RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
            raise PackageError(
                f"题库包中的 {name} 压缩比异常（超过 {max_ratio:g} 倍），疑似压缩炸弹 (zip bomb guard)"
            )
    if MANIFEST not in seen:
        raise PackageError(f"不是题库包：根目录下没有 {MANIFEST} (no manifest)")
    files = {}
    for info in infos:
        try:
            files[info.filename] = zf.read(info)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError):
            raise PackageError(
                f"题库包中的 {info.filename} 无法解压：文件已损坏 (corrupt entry)"
            ) from None
    return files


def check_member_name(name: str) -> None:
    """Refuse absolute paths, ``..``, empty or ``.`` segments, backslashes and drive letters."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or _UNSAFE_NAME.search(name)
        or any(part in ("", ".", "..") for part in parts)
        or len(name.encode()) > 255
    ):
        raise PackageError(
            f"题库包中的文件名 {name!r} 不安全：不允许绝对路径、'..'、空目录名或特殊字符 "
            "(unsafe path / path traversal)"
        )


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:g} MiB"
