"""The registry's gunicorn process: ``registry run`` checks the database, then execs into this.

Workers are gunicorn's gevent ones on PostgreSQL: one thread per worker, a greenlet per
connection, every database wait and socket read handing over to the next greenlet. Against
the threaded workers (gthread) they spend about half the CPU per request on gunicorn itself
(a kept-alive request no longer travels from the poller thread to a pool thread and back), and
in ``benchmarks/registry.py`` one-token verifications went from about 1,000/s to 1,200/s with
kept connections and from 770/s to 1,200/s with a connection per request.

gevent's monkey-patching has to come before everything else: a lock made, ``ssl`` imported or
psycopg's wait function chosen (at import) before the patch stays blocking. ``sync.registry``
imports Flask and SQLAlchemy (and with them ``ssl``), so this module lives outside that package
and patches first, before importing any of it.

SQLite (the demo) gets the threaded workers: its locks wait inside the C library, which would
stall every greenlet of the worker, including the one that holds the lock.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

WORKER_CLASSES = ("gevent", "gthread", "sync")
SWITCH_INTERVAL = 0.001  # seconds, threaded workers; Python's default is 0.005


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m sync.registry_server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-class", choices=WORKER_CLASSES, default="gevent")
    ap.add_argument("--threads", type=int, default=4, help="gthread only")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.worker_class == "gevent":
        # Database calls block the worker (psycopg's C wait, which it would give up for a
        # cooperative one under gevent): a push holding the log's row lock then runs its
        # locked statements straight through, instead of waiting behind another request's
        # CPU work in the same worker while every other push waits for the lock.
        os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_c")
        from gevent import monkey

        monkey.patch_all()
    serve(args)


def serve(args: argparse.Namespace) -> None:
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("worker_class", args.worker_class)
            if args.worker_class == "gthread":
                self.cfg.set("threads", args.threads)
            self.cfg.set("keepalive", 5)
            self.cfg.set("post_worker_init", worker_ready)

        def load(self):
            # In each worker, once forked (and, for gevent, patched again and its hub made
            # anew): nothing the app starts at creation (the rate limiter's in-memory expiry
            # timers, the database pool) is shared with, or inherited from, the master.
            from sync.registry import create_app

            return create_app()

    _Server().run()


def worker_ready(worker) -> None:
    """In each gunicorn worker, once its app is loaded:

    - the app and everything else loaded so far move to the collector's permanent generation,
      so its collections stop rescanning them (about a tenth of a pushed certificate's CPU);
    - in a threaded worker, a thread that has work waits at most 1 ms, not 5, for the one
      running Python code to hand over the GIL. A worker's threads each hold a connection;
      with the default a short verification queued behind busy threads (p50 8.8 ms for 1.2 ms
      of CPU) while the cores sat partly idle; this took one-token verifications in
      ``benchmarks/registry.py`` from 851/s to about 1,700/s on the machine of the time.
    """
    gc.freeze()
    if worker.cfg.worker_class_str == "gthread":
        sys.setswitchinterval(SWITCH_INTERVAL)


if __name__ == "__main__":
    main()
