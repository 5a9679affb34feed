"""The error a refused roster raises: every problem found, each naming file, row and column."""

from __future__ import annotations

from question_bank.errors import Problem
from station.services.errors import DomainError


class RosterError(DomainError):
    """A roster was refused; ``problems`` lists every reason, each with file, row and column."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(
            f"花名册有 {len(self.problems)} 处问题，未导入任何考生 (roster refused)",
            [str(p) for p in self.problems],
        )


def fail(file: str, message: str) -> RosterError:
    """A roster refused for one problem with the file as a whole."""
    return RosterError([Problem(file, message)])
