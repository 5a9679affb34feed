"""content.json: how a bank's items, tasks and blueprints are serialised inside a package."""

from __future__ import annotations

import json
from dataclasses import replace

from question_bank.blueprint import Blueprint
from question_bank.errors import PackageError
from question_bank.items import BankContent, Item, ItemType, Task
from question_bank.richtext import sanitize_html

CONTENT = "content.json"


def content_dict(content: BankContent) -> dict:
    """The JSON object stored as content.json; refuses duplicate uids and blueprint names."""
    for kind, uids in (("试题", [i.uid for i in content.items]), ("实操任务", [t.uid for t in content.tasks]),
                       ("鉴定要素细目表", [b.name for b in content.blueprints])):  # fmt: skip
        duplicates = sorted({u for u in uids if uids.count(u) > 1})
        if duplicates:
            raise PackageError(f"{kind}编号重复：{'、'.join(duplicates)} (duplicate ids)")
    return {
        "items": [i.to_dict() for i in content.items],
        "tasks": [t.to_dict() for t in content.tasks],
        "blueprints": [b.to_dict() for b in content.blueprints],
    }


def parse_content(raw: bytes) -> BankContent:
    """content.json's bytes back into a BankContent (media and meta are the caller's)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PackageError(f"{CONTENT} 不是有效的 UTF-8 JSON：{exc} (malformed content)") from None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k, []), list) for k in ("items", "tasks", "blueprints")
    ):
        raise PackageError(
            f"{CONTENT} 应为含 items、tasks、blueprints 列表的对象 (malformed content)"
        )
    parsed = {}
    for key, label, parse in (("items", "试题", Item.from_dict), ("tasks", "实操任务", Task.from_dict),
                              ("blueprints", "鉴定要素细目表", Blueprint.from_dict)):  # fmt: skip
        parsed[key] = []
        for n, entry in enumerate(data.get(key, []), start=1):
            try:
                parsed[key].append(parse(entry))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                ident = entry.get("uid") or entry.get("name") if isinstance(entry, dict) else None
                raise PackageError(
                    f"{CONTENT} 中第 {n} 个{label}{f' ({ident})' if ident else ''} 无效："
                    f"{type(exc).__name__} {exc} (invalid {key[:-1]})"
                ) from None
    content = BankContent(**parsed)
    content_dict(content)  # duplicate ids
    return sanitised(content)


def sanitised(content: BankContent) -> BankContent:
    """Rich text re-sanitised: a signature vouches for who made a bank, not that it is safe HTML."""
    items = [
        replace(item, stem=sanitize_html(item.stem), explanation=sanitize_html(item.explanation),
                options=tuple(replace(o, text=sanitize_html(o.text)) for o in item.options))
        for item in content.items
    ]  # fmt: skip
    tasks = [replace(t, instructions=sanitize_html(t.instructions)) for t in content.tasks]
    return replace(content, items=items, tasks=tasks)


def content_counts(content: BankContent) -> dict[str, int]:
    """Items per type (every type, zeros included), tasks, blueprints and media files."""
    result = {t.value: 0 for t in ItemType}
    for item in content.items:
        result[item.type.value] += 1
    return result | {"tasks": len(content.tasks), "blueprints": len(content.blueprints),
                     "media": len(content.media)}  # fmt: skip


def json_bytes(obj, indent: int | None = 1) -> bytes:
    """UTF-8 JSON with sorted keys and a final newline: the same object gives the same bytes."""
    return (json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=indent) + "\n").encode()
