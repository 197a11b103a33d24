"""The one error base of pytest-cmdgen, and the one place that decides how an error is shown.

Every error a user can meet derives from :class:`CmdgenError`: it carries the message, and where known the
file, line (and column), the key and a hint on what to change. :func:`describe_error` turns any exception
into what a report shows: one clean line for our errors, ``None`` (a traceback is due) for anything else,
since that is a bug of ours rather than a mistake of the user's.

This module imports nothing of the package, so every layer can use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class _Mark(Protocol):
    """A position as yamlio's frozen ``Mark`` gives it: only read, hence properties."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


class CmdgenError(Exception):
    """Base of every user-facing error: the message, and where known file, line, column, key and hint.

    ``str(error)`` is complete and meant to be shown as-is: ``file:line:column: key: message (hint)``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line or None
        self.column = column or None
        self.key = key
        self.hint = hint
        super().__init__(self._render())

    @property
    def location(self) -> str:
        """``file:line:column`` as far as known, else an empty string."""
        if self.file is None:
            return ""
        parts = [self.file]
        if self.line:
            parts.append(str(self.line))
            if self.column:
                parts.append(str(self.column))
        return ":".join(parts)

    def _render(self) -> str:
        text = f"{self.key}: {self.message}" if self.key else self.message
        if self.location:
            text = f"{self.location}: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        return text

    def __str__(self) -> str:
        return self._render()

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take other constructor arguments: rebuild from the state, not from ``args``.
        return (_restore, (type(self), str(self), self.__dict__))


def _restore(cls: type[CmdgenError], text: str, state: dict[str, object]) -> CmdgenError:
    error = cls.__new__(cls)
    Exception.__init__(error, text)
    error.__dict__.update(state)
    return error


class CmdgenInputError(CmdgenError):
    """A user file, option or setting is wrong: shown as one line, never with a traceback."""


class InputFileError(CmdgenInputError):
    """A problem at a position in a user file (``mark`` is a 1-based line/column, as yamlio gives)."""

    def __init__(self, path: Path | str, mark: _Mark | None, key: str | None, problem: str) -> None:
        self.path = Path(path)
        self.mark = mark
        self.problem = problem
        super().__init__(
            problem,
            file=path,
            line=mark.line if mark else None,
            column=mark.column if mark else None,
            key=key,
        )


def describe_error(error: BaseException) -> str | None:
    """What a report shows for ``error``: its one-line message for our errors, None for anything else."""
    if isinstance(error, CmdgenError):
        return str(error)
    return None


__all__ = ["CmdgenError", "CmdgenInputError", "InputFileError", "describe_error"]
