"""Errors that reach raises on purpose.

Every error a user can cause is a :class:`ReachError`. The CLI turns one into a single line on
stderr and an exit code; anything else is an internal error (exit 1).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_RESOURCE",
    "ConservationError",
    "InputError",
    "ReachError",
    "ResourceLimitError",
    "ScenarioError",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_RESOURCE = 3


class ReachError(Exception):
    """Root of all errors reach raises on purpose.

    Parameters
    ----------
    problem
        What is wrong, in words a planner understands.
    path
        The file the problem is in, if any.
    fix
        How to fix it.
    """

    exit_code: int = EXIT_INTERNAL

    def __init__(self, problem: str, *, path: str | Path | None = None, fix: str | None = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Return the single line shown to the user: file, problem, fix."""
        text = self.problem
        if self.path:
            text = f"{self.path}: {text}"
        if self.fix:
            text = f"{text} — fix: {self.fix}"
        return " ".join(text.split())


class InputError(ReachError, ValueError):
    """An input file is missing, unreadable or has content reach cannot use."""

    exit_code = EXIT_BAD_INPUT


class ScenarioError(ReachError, ValueError):
    """The scenario file is malformed or asks for something impossible."""

    exit_code = EXIT_BAD_INPUT


class ResourceLimitError(ReachError, MemoryError):
    """The run would not fit in this machine's memory or time budget."""

    exit_code = EXIT_RESOURCE


class ConservationError(ReachError, AssertionError):
    """Population totals did not add up: an internal bug, never the user's fault."""

    exit_code = EXIT_INTERNAL
