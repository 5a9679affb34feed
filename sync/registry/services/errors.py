"""Domain errors of the registry services. Callers turn them into JSON errors or CLI messages.

``code`` is stable and machine-readable (it is what the API puts in ``{"error": code}``);
``status`` is the HTTP status an API view should answer with; the message is for people.
"""

from __future__ import annotations


class RegistryError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self)


class NotFound(RegistryError):
    code = "not_found"
    status = 404


class InvalidInput(RegistryError):
    """Bad input: the message names the field and why."""

    code = "malformed"
    status = 400


class EnrollmentError(RegistryError):
    code = "enrollment_refused"
    status = 403


class AuthError(RegistryError):
    """A signed request was refused (``code``: unsigned, bad_signature, unknown_key,
    key_not_valid, not_enrolled, stale, replayed)."""

    code = "unauthorized"
    status = 401

    def __init__(self, message: str, *, code: str, server_time: str | None = None):
        super().__init__(message, code=code)
        self.server_time = server_time


class RevocationError(RegistryError):
    code = "revocation_refused"
    status = 409
