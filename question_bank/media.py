"""What a bank may carry as media: pictures, recognised by their bytes and their names."""

from __future__ import annotations

from pathlib import PurePosixPath

# Signatures and the extensions they go with. Anything else (HTML, scripts, SVG with script in
# it, archives) is refused: item media end up in browsers.
_KINDS = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".webp": (b"RIFF",),
}


def media_problems(media: dict[str, bytes]) -> list[str]:
    """One line for every media file that is not a picture its name says it is."""
    problems = []
    for name, data in sorted(media.items()):
        suffix = PurePosixPath(name).suffix.lower()
        signatures = _KINDS.get(suffix)
        if signatures is None:
            allowed = "、".join(sorted(_KINDS))
            problems.append(f"媒体文件 {name}: 只允许图片（{allowed}）")
        elif not data.startswith(signatures) or (suffix == ".webp" and data[8:12] != b"WEBP"):
            problems.append(f"媒体文件 {name}: 内容不是 {suffix} 图片")
    return problems


_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
         ".webp": "image/webp"}  # fmt: skip


def image_mimetype(name: str) -> str | None:
    """The picture type a media name stands for, or None: nothing else is ever served."""
    return _MIME.get(PurePosixPath(name).suffix.lower())
