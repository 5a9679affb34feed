"""Printing a session's certificates in the background, with progress the console can poll.

The files land in ``<instance>/certificates/<session>/``: one PDF per certificate and the
combined print file, each written to a temporary name first and renamed, so a half-written file
is never served. One job per session at a time; the state lives in this process (the station is
one process), and the files on disk outlive it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from station import db
from station.models.common import utcnow
from station.services import certificate_prints, certificates, sessions


@dataclass
class PrintJob:
    session_code: str
    folder: Path
    total: int = 0
    done: int = 0
    error: str = ""
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.finished_at is None

    def to_dict(self) -> dict:
        return {"session": self.session_code, "total": self.total, "done": self.done,
                "running": self.running, "error": self.error,
                "finished_at": self.finished_at.isoformat() if self.finished_at else None}  # fmt: skip


_JOBS: dict[str, PrintJob] = {}
_LOCK = threading.Lock()


def folder(instance: Path, session_code: str) -> Path:
    return instance / "certificates" / session_code


def combined_path(instance: Path, session_code: str) -> Path:
    return folder(instance, session_code) / f"{session_code}-certificates.pdf"


def single_path(instance: Path, session_code: str, number: str) -> Path:
    return folder(instance, session_code) / f"{number}.pdf"


def job(session_code: str) -> PrintJob | None:
    return _JOBS.get(session_code)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".pdf.part")
    tmp.write_bytes(data)
    tmp.replace(path)


def start(app, session_code: str, *, workers: int | None = None) -> PrintJob:
    """Render every certificate of the session in a background thread (unless one already runs)."""
    instance = Path(app.instance_path)
    with _LOCK:
        running = _JOBS.get(session_code)
        if running is not None and running.running:
            return running
        current = PrintJob(session_code, folder(instance, session_code))
        _JOBS[session_code] = current

    def work() -> None:
        try:
            with app.app_context(), db.transaction(write=False) as s:
                settings = certificates.Settings.from_config(app.config)
                certs = certificates.session_certificates(s, sessions.get_session(s, session_code))
                current.total = len(certs)
                if not certs:
                    return

                def progress(done: int, total: int) -> None:
                    current.done, current.total = done, total

                batch = certificate_prints.render(s, certs, settings, instance=instance,
                                                  progress=progress, workers=workers)  # fmt: skip
            current.folder.mkdir(parents=True, exist_ok=True)
            for cert, pdf in zip(certs, batch.singles, strict=True):
                _write(single_path(instance, session_code, cert.number), pdf)
            _write(combined_path(instance, session_code), batch.combined)
        except Exception as exc:  # noqa: BLE001 — shown to the operator, logged by the caller
            current.error = str(exc) or exc.__class__.__name__
            app.logger.exception("printing certificates of %s failed", session_code)
        finally:
            current.finished_at = utcnow()

    threading.Thread(target=work, name=f"print-{session_code}", daemon=True).start()
    return current
