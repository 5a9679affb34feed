"""Errors raised by the item-bank library.

Every import reports *all* problems at once, each naming where it is (file, row or line,
field) and why, so that an issuing organisation can fix a file in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as the format allows."""

    file: str
    message: str
    line: int | None = None  # 1-based row (XLSX/CSV) or line (text formats)
    field: str | None = None  # column header, XML element or JSON key

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"第{self.line}行")
        if self.field:
            where.append(self.field)
        return " ".join(where) + ": " + self.message


class BankError(Exception):
    """Base class of item-bank errors."""


class BankImportError(BankError):
    """An input was refused; ``problems`` lists every reason found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PackageError(BankError):
    """A bank package is malformed, tampered with, untrusted or locked."""


class BlueprintError(BankError):
    """A blueprint is inconsistent, or the bank cannot satisfy it.

    ``shortfalls`` names each cell that lacks items (empty for a malformed blueprint).
    """

    def __init__(self, message: str, shortfalls: list[str] | None = None):
        self.shortfalls = list(shortfalls or [])
        super().__init__(
            message if not self.shortfalls else message + "\n" + "\n".join(self.shortfalls)
        )
