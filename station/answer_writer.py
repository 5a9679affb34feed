"""Group commit for answer saves.

Every acknowledged save must be on disk (``synchronous=FULL``), and SQLite has one writer at a
time, so saving one answer per transaction costs one fsync and one turn at the write lock per
save. Instead, request threads hand their save to one writer thread, which applies everything
waiting in a single transaction (``station.services.answers.save_answers``, set-wise), commits
once, and only then answers each request. A request is still acknowledged only after its answer
is durable; under load many answers share one fsync.

Should the set-wise write fail for a reason no check foresaw, the batch is rolled back and
applied again one save at a time, each in a savepoint of its own, so that the save that broke
it fails alone and the others are still stored.
"""

from __future__ import annotations

import logging
import queue
import threading

from sqlalchemy import Engine

from station.db import writer_lock
from station.services import answers
from station.services.answers import Save, SaveResult

MAX_BATCH = 256
log = logging.getLogger(__name__)


class _Slot:
    """Where the writer leaves one save's outcome; the request thread waits on ``done``."""

    __slots__ = ("done", "outcome")

    def __init__(self) -> None:
        self.done = threading.Lock()
        self.done.acquire()
        self.outcome: SaveResult | BaseException | None = None


class AnswerWriter:
    def __init__(self, engine: Engine):
        self._engine = engine
        self.database = str(engine.url)
        self._queue: queue.SimpleQueue[tuple[Save, _Slot]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="answer-writer", daemon=True).start()

    def submit(self, save: Save, timeout: float = 30.0) -> SaveResult:
        """Store ``save`` with the next batch; its result once committed, or its refusal
        (``ExamError``) raised."""
        slot = _Slot()
        self._queue.put((save, slot))
        if not slot.done.acquire(timeout=timeout):
            raise TimeoutError(f"answer not written within {timeout:g} s")
        if isinstance(slot.outcome, BaseException):
            raise slot.outcome
        return slot.outcome

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                outcomes = self.apply([save for save, _ in batch])
            except Exception as exc:  # the batch did not reach the disk: nobody is acknowledged
                log.exception("a batch of %d answer saves failed", len(batch))
                outcomes = [exc] * len(batch)
            for (_, slot), outcome in zip(batch, outcomes, strict=True):
                slot.outcome = outcome
                slot.done.release()

    def apply(self, saves: list[Save]) -> list[SaveResult | Exception]:
        """Write ``saves`` in one transaction and commit: per save, its result or refusal."""
        # A pooled DB-API connection, with the station's pragmas, used without the ORM.
        connection = self._engine.raw_connection()
        try:
            with writer_lock(self._engine):
                cursor = connection.cursor()
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    try:
                        outcomes = answers.save_answers(cursor, database=self.database, saves=saves)
                    except Exception:
                        log.exception("set-wise save of %d answers failed; one by one", len(saves))
                        cursor.execute("ROLLBACK")
                        cursor.execute("BEGIN IMMEDIATE")
                        outcomes = [self._one(cursor, save) for save in saves]
                    cursor.execute("COMMIT")
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
        finally:
            connection.close()  # back to the pool
        return outcomes

    def _one(self, cursor, save: Save) -> SaveResult | Exception:
        cursor.execute("SAVEPOINT save")
        try:
            [outcome] = answers.save_answers(cursor, database=self.database, saves=[save])
        except Exception as exc:  # broken: undo just this one, fail just this one
            cursor.execute("ROLLBACK TO save")
            cursor.execute("RELEASE save")
            return exc
        cursor.execute("RELEASE save")
        return outcome
