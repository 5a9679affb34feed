"""The registry's domain services. Flask-free: each takes the database session (and the acting
operator or station where it matters) as keyword arguments, may flush, never commits, and raises
a :class:`~sync.registry.services.errors.RegistryError` that the caller turns into a JSON error
or a CLI message.

Modules:

- :mod:`.stations` — stations, enrollment tokens, ``enroll``, keys, the signed trust list
- :mod:`.auth` — RFC 9421 request authentication (keys and nonces in the database)
- :mod:`.push` (+ :mod:`.push_checks`) — push ingestion, per-record results and receipts
- :mod:`.log` — the transparency log: appends under a row lock, tree heads, proofs
- :mod:`.log_audit` — ``registry log verify``
- :mod:`.revocations` — operator revocations (station ones arrive through push)
- :mod:`.feed` — the pull feed, messages, bank releases
- :mod:`.records` — reading certificates back: by number, by holder, confirm the holder
"""

from sync.registry.services.errors import (
    AuthError,
    EnrollmentError,
    InvalidInput,
    NotFound,
    RegistryError,
    RevocationError,
)

__all__ = [
    "AuthError",
    "EnrollmentError",
    "InvalidInput",
    "NotFound",
    "RegistryError",
    "RevocationError",
]
