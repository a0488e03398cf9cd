"""Errors that users see. Each names where the problem is: file, record, field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one record."""

    file: str
    record: str | None
    field: str | None
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.record is not None:
            parts.append(f"record {self.record}")
        if self.field is not None:
            parts.append(f"field {self.field}")
        return ": ".join(parts) + f": {self.reason}"


class StatecapError(Exception):
    """Base class for errors shown to users without a traceback."""

    exit_code = 1


class DataError(StatecapError):
    """Input data is invalid. Carries every problem found, one line each."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(StatecapError):
    """The command was asked something it cannot answer (unknown id, bad option value)."""

    exit_code = 2


class StoreError(StatecapError):
    """The store is missing, locked or not a statecap store."""

    exit_code = 1
