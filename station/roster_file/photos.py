"""The photos of a ZIP upload: finding the one a roster row names, and checking it is a real
JPEG or PNG within the size limit."""

from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

# The limits are read through the package at call time, so they are set (and patched) in one place.
from station import roster_file

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class PhotoBundle:
    """The photos of a zip upload, looked up by the name a roster row gives."""

    zip_name: str
    archive: zipfile.ZipFile
    members: dict[str, zipfile.ZipInfo]  # decoded path -> info

    def find(self, wanted: str) -> tuple[str | None, str | None]:
        """(path in the zip, None) or (None, why not)."""
        wanted = wanted.replace("\\", "/").strip().lstrip("/")
        candidates = [wanted]
        if not PurePosixPath(wanted).suffix:
            candidates += [wanted + ext for ext in PHOTO_EXTENSIONS]
        for cand in candidates:
            if cand in self.members:
                return cand, None
        for cand in candidates:
            folded = cand.casefold()
            exact = [p for p in self.members if p.casefold() == folded]
            if len(exact) == 1:
                return exact[0], None
            by_name = [p for p in self.members if PurePosixPath(p).name.casefold() == folded]
            if len(by_name) == 1:
                return by_name[0], None
            if len(by_name) > 1:
                return None, (
                    f"压缩包中有多个名为“{cand}”的文件（{'、'.join(sorted(by_name))}），"
                    "请写明所在文件夹 (ambiguous photo name)"
                )
        return None, f"压缩包中找不到照片文件“{wanted}” (photo not in the zip)"

    def by_id_number(self, id_number: str) -> str | None:
        names = {id_number.casefold() + ext for ext in PHOTO_EXTENSIONS}
        found = [p for p in self.members if PurePosixPath(p).name.casefold() in names]
        return found[0] if len(found) == 1 else None

    def load(self, path: str) -> tuple[bytes | None, str | None]:
        """(photo bytes, None) or (None, why it is not acceptable)."""
        info = self.members[path]
        limit = roster_file.MAX_PHOTO_BYTES
        if PurePosixPath(path).suffix.lower() not in PHOTO_EXTENSIONS:
            return None, f"照片“{path}”应为 JPG 或 PNG 文件 (photo must be JPG or PNG)"
        if info.file_size > limit:
            return None, (
                f"照片“{path}”大小为 {_human(info.file_size)}，超过 {_human(limit)} 的上限 "
                f"(photo larger than {_human(limit)})"
            )
        try:
            with self.archive.open(info) as fh:
                blob = fh.read(limit + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
            return None, f"照片“{path}”在压缩包中已损坏，无法读取 (damaged in the zip)"
        if len(blob) > limit:
            return None, (
                f"照片“{path}”超过 {_human(limit)} 的上限 (photo larger than {_human(limit)})"
            )
        if not (blob.startswith(JPEG_MAGIC) or blob.startswith(PNG_MAGIC)):
            return None, (
                f"照片“{path}”不是 JPG 或 PNG 图片（文件内容不符，可能只是改了扩展名）"
                "(not a JPEG or PNG image)"
            )
        damaged = _pillow_problem(blob)
        if damaged:
            return None, f"照片“{path}”{damaged}"
        return blob, None


def _human(size: int) -> str:
    value, unit = (size / 1024 / 1024, "MB") if size >= 1024 * 1024 else (size / 1024, "KB")
    return f"{value:.1f}".removesuffix(".0") + " " + unit


def _pillow_problem(blob: bytes) -> str | None:
    try:
        from PIL import Image  # optional: used when installed
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(blob)) as img:
                fmt = img.format
                img.verify()
    except Exception:
        return "已损坏，无法作为图片打开 (damaged image)"
    if fmt not in ("JPEG", "PNG"):
        return "不是 JPG 或 PNG 图片 (not a JPEG or PNG image)"
    return None
