"""Slowing down, then locking out, repeated failed exam logins and resume codes.

The last six characters of an ID number can be guessed, and so can a six-digit resume code,
so failures are counted per admission number, per terminal and per client address. Each key
may fail a few times freely; after that every further try must wait (the wait doubles with
each failure), and after ``lock_after`` failures the key is locked for ``lock_seconds``, twice
as long at each further lock. A success clears its admission number and terminal (an address
is shared, so its count only decays).

While a key is held back, the caller refuses the login *without saying whether the
credentials were right* (so a lock cannot be used to test guesses), and those refused tries
do not count. An examiner's approval of a specific terminal is not affected: the caller lets a
terminal the examiner approved through (see ``attempts.prepare_login``).

The counts live in memory: one station process serves the exam (``station run`` holds the
instance lock), and a restart clearing them costs an attacker a restart of the station.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Policy:
    free: int  # failures allowed before any wait
    lock_after: int  # failures (within ``window``) that lock the key
    first_wait: float  # seconds, after the first failure beyond ``free``; doubles each time
    max_wait: float
    lock_seconds: float
    window: float  # failures older than this are forgotten


# An admission number or a terminal: a candidate who mistypes a few times barely notices.
PERSONAL = Policy(free=3, lock_after=10, first_wait=5, max_wait=60, lock_seconds=600, window=900)
# A client address: terminals normally have their own, but a room behind one NAT shares it.
ADDRESS = Policy(free=10, lock_after=30, first_wait=2, max_wait=30, lock_seconds=600, window=900)
MAX_KEYS = 20_000  # memory bound: beyond this the stalest keys are forgotten


@dataclass(frozen=True)
class Hold:
    """Why and for how long a login is held back."""

    seconds: int  # whole seconds to wait, at least 1
    locked: bool  # locked out (as opposed to slowed down)

    @property
    def message(self) -> str:
        wait = _duration(self.seconds)
        if self.locked:
            return (f"登录失败次数过多，已暂时锁定。请在 {wait}后再试，"
                    "或举手示意监考老师，由监考老师在监考台批准本机")  # fmt: skip
        return f"尝试次数过多，请在 {wait}后再试"


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} 分 {rest} 秒" if minutes else f"{rest} 秒"


@dataclass
class _Record:
    failures: deque  # timestamps (epoch seconds), oldest first
    locked_until: float = 0.0
    locks: int = 0  # locks so far: each one lasts twice as long as the one before


class LoginThrottle:
    """Thread-safe failure counts for one station process."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], _Record] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(*, admission_number: str, terminal: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("number", admission_number.strip().upper()[:64])]
        if terminal:
            keys.append(("terminal", terminal[:64]))
        if address:
            keys.append(("address", address))
        return keys

    def hold(self, keys: list[tuple[str, str]], now: datetime) -> Hold | None:
        """How long these keys must still wait before the next try counts, if at all."""
        at = now.timestamp()
        worst: Hold | None = None
        with self._lock:
            for key in keys:
                record = self._records.get(key)
                if record is None:
                    continue
                policy = _policy(key)
                _forget(record, policy, at)
                if record.locked_until > at:
                    wait, locked = record.locked_until - at, True
                elif len(record.failures) > policy.free:
                    beyond = len(record.failures) - policy.free
                    pause = min(policy.first_wait * 2 ** (beyond - 1), policy.max_wait)
                    wait, locked = record.failures[-1] + pause - at, False
                else:
                    continue
                if wait > 0:
                    hold = Hold(seconds=max(1, math.ceil(wait)), locked=locked)
                    if worst is None or (hold.locked, hold.seconds) > (worst.locked, worst.seconds):
                        worst = hold
        return worst

    def failed(self, keys: list[tuple[str, str]], now: datetime) -> None:
        at = now.timestamp()
        with self._lock:
            if len(self._records) >= MAX_KEYS:
                self._prune(at)
            for key in keys:
                policy = _policy(key)
                record = self._records.setdefault(key, _Record(failures=deque()))
                _forget(record, policy, at)
                record.failures.append(at)
                if len(record.failures) >= policy.lock_after:
                    record.locked_until = at + policy.lock_seconds * 2 ** min(record.locks, 6)
                    record.locks += 1
                    record.failures.clear()  # after the lock, the free tries start over

    def succeeded(self, keys: list[tuple[str, str]]) -> None:
        with self._lock:
            for key in keys:
                if key[0] != "address":
                    self._records.pop(key, None)

    def _prune(self, at: float) -> None:
        for key, record in list(self._records.items()):
            policy = _policy(key)
            _forget(record, policy, at)
            if not record.failures and record.locked_until <= at - policy.window:
                del self._records[key]
        while len(self._records) >= MAX_KEYS:  # still full: drop the stalest
            stalest = min(self._records, key=lambda k: _last(self._records[k]))
            del self._records[stalest]


def _policy(key: tuple[str, str]) -> Policy:
    return ADDRESS if key[0] == "address" else PERSONAL


def _forget(record: _Record, policy: Policy, at: float) -> None:
    while record.failures and record.failures[0] < at - policy.window:
        record.failures.popleft()


def _last(record: _Record) -> float:
    return max(record.failures[-1] if record.failures else 0.0, record.locked_until)
