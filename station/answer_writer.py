"""Group commit for answer saves.

Every acknowledged save must be on disk (``synchronous=FULL``), and SQLite has one writer at a
time, so saving one answer per transaction costs one fsync and one turn at the write lock per
save. Instead, request threads hand their save to one writer thread, which applies everything
waiting in a single transaction (each save in a savepoint of its own, so one refused save does
not undo the others), commits once, and only then answers each request. A request is still
acknowledged only after its answer is durable; under load many answers share one fsync.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from sqlalchemy import Engine

from station.db import writer_lock

MAX_BATCH = 256


class AnswerWriter:
    def __init__(self, engine: Engine):
        self._engine = engine
        self.database = str(engine.url)
        self._queue: queue.SimpleQueue[tuple[Callable, Future]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="answer-writer", daemon=True).start()

    def submit(self, work: Callable, timeout: float = 30.0):
        """Run ``work(cursor)`` in the next batch; return its result once it is committed."""
        future: Future = Future()
        self._queue.put((work, future))
        return future.result(timeout=timeout)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._apply(batch)

    def _apply(self, batch) -> None:
        results = []
        try:
            # A pooled DB-API connection, with the station's pragmas, used without the ORM.
            connection = self._engine.raw_connection()
            try:
                with writer_lock(self._engine):
                    cursor = connection.cursor()
                    cursor.execute("BEGIN IMMEDIATE")
                    try:
                        for work, _ in batch:
                            results.append(self._one(cursor, work))
                        cursor.execute("COMMIT")
                    except BaseException:
                        cursor.execute("ROLLBACK")
                        raise
            finally:
                connection.close()  # back to the pool
        except Exception as exc:  # the batch did not reach the disk: nobody is acknowledged
            for _, future in batch:
                future.set_exception(exc)
            return
        for (ok, value), (_, future) in zip(results, batch, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    @staticmethod
    def _one(cursor, work) -> tuple[bool, object]:
        cursor.execute("SAVEPOINT save")
        try:
            value = work(cursor)
        except Exception as exc:  # refused, or broken: undo just this one, fail just this one
            cursor.execute("ROLLBACK TO save")
            cursor.execute("RELEASE save")
            return False, exc
        cursor.execute("RELEASE save")
        return True, value
