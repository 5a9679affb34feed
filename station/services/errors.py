"""Domain errors the station's services raise; views, CLI commands and jobs translate them."""


class DomainError(Exception):
    """A request the rules refuse. ``details`` lists every specific reason, if there are several."""

    def __init__(self, message: str, details: list[str] | None = None):
        self.message = message
        self.details = list(details or [])
        super().__init__(message if not self.details else message + "\n" + "\n".join(self.details))


class NotFound(DomainError):
    pass


class AuthError(DomainError):
    pass


class BankImportFailed(DomainError):
    pass


class BackupError(DomainError):
    pass
