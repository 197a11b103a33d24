"""Errors about user input: each names ``file:line:column``, the key, and what was expected."""

from __future__ import annotations

from pathlib import Path

from pytest_cmdgen.yamlio import Mark


class CmdgenInputError(Exception):
    """A user file (or option) is wrong; the message is complete and meant to be shown as-is."""


class InputFileError(CmdgenInputError):
    """A problem at a position in a user file."""

    def __init__(self, path: Path | str, mark: Mark | None, key: str | None, problem: str) -> None:
        self.path = Path(path)
        self.mark = mark
        self.key = key
        self.problem = problem
        where = f"{path}:{mark.line}:{mark.column}" if mark else str(path)
        what = f"{key}: {problem}" if key else problem
        super().__init__(f"{where}: {what}")

    @property
    def line(self) -> int | None:
        """The 1-based line of the problem, if known."""
        return self.mark.line if self.mark else None
