"""Consistent copies of the live database (SQLite online backup API) and restoring them."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory

from station.services.errors import BackupError

PREFIX = "station-"


def backup_dir(instance: Path) -> Path:
    return instance / "backups"


def create_backup(database: Path, dest_dir: Path, *, keep: int | None = None) -> Path:
    """Copy the live database page by page while it stays in use; keep the newest ``keep``."""
    if not database.is_file():
        raise BackupError(f"{database}: 数据库不存在，没有可备份的内容（先运行 station init）")
    dest_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = dest_dir / f"{PREFIX}{stamp}.db"
    partial = target.with_suffix(".partial")
    source = sqlite3.connect(database)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # a backup is one self-contained file
        finally:
            copy.close()
    finally:
        source.close()
    check_database(partial)
    os.replace(partial, target)
    if keep:
        prune(dest_dir, keep)
    return target


def list_backups(dest_dir: Path) -> list[Path]:
    return sorted(dest_dir.glob(f"{PREFIX}*.db"))


def prune(dest_dir: Path, keep: int) -> list[Path]:
    old = list_backups(dest_dir)[:-keep] if keep > 0 else []
    for path in old:
        path.unlink()
    return old


def check_database(path: Path) -> str:
    """Refuse anything that is not an intact station database this code can run; return its revision."""
    if not path.is_file():
        raise BackupError(f"{path}: 文件不存在")
    with open(path, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise BackupError(f"{path}: 不是 SQLite 数据库文件")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"{path}: 数据库完整性检查失败：{result}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = {"alembic_version", "audit_entry", "staff_user"} - tables
        if missing:
            raise BackupError(f"{path}: 不是站点数据库（缺少表 {', '.join(sorted(missing))}）")
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: 数据库无法读取：{exc}") from None
    finally:
        conn.close()
    if revision is None:
        raise BackupError(f"{path}: 没有迁移版本记录")
    known = {s.revision for s in _scripts().walk_revisions()}
    if revision[0] not in known:
        raise BackupError(f"{path}: 迁移版本 {revision[0]} 不属于本程序（来自更新的版本？）")
    return revision[0]


def restore_backup(backup: Path, database: Path, dest_dir: Path) -> Path | None:
    """Put ``backup`` in place of the live database (the station must be stopped).

    The current database is first saved as a backup of its own, so a restore can be undone.
    Returns that safety copy's path (None when there was no database).
    """
    check_database(backup)
    safety = create_backup(database, dest_dir) if database.exists() else None
    staging = database.with_suffix(".restoring")
    shutil.copyfile(backup, staging)
    for suffix in ("-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    os.replace(staging, database)
    return safety


def _scripts() -> ScriptDirectory:
    from station.db import MIGRATIONS

    return ScriptDirectory(str(MIGRATIONS))
