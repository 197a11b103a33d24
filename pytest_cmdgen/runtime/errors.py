"""Errors raised while loading a project or running a conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_cmdgen.errors import CmdgenError, CmdgenInputError
from pytest_cmdgen.yamlio import YamlSyntaxError, load_marked_file


class ProjectError(CmdgenInputError):
    """A project file is missing or malformed; the message reads ``file:line: key: what was expected``."""

    def __init__(self, file: str, line: int, key: str, expected: str, hint: str | None = None) -> None:
        self.expected = expected
        super().__init__(expected, file=file, line=line, key=key or None, hint=hint)


def load_project_yaml(path: Path) -> Any:
    """Read one project YAML file with positions (:mod:`pytest_cmdgen.yamlio`).

    An unreadable file or invalid YAML becomes a :class:`ProjectError` naming the file and line.
    """
    try:
        return load_marked_file(path)
    except OSError as exc:
        raise ProjectError(str(path), 0, "", f"cannot read file: {exc.strerror}") from None
    except YamlSyntaxError as exc:
        raise ProjectError(str(path), exc.mark.line if exc.mark else 0, "", exc.problem) from None


class ActionError(CmdgenError):
    """A custom action could not run; names the action and why. The E2E item fails with it."""

    def __init__(self, action_name: str, reason: str) -> None:
        self.action_name = action_name
        self.reason = reason
        super().__init__(f"action {action_name!r} failed: {reason}")


class CommandSourceError(CmdgenError):
    """The command source could not answer at all: a script without the message, an LLM call that failed
    after its retries. Unlike a bad LLM answer (Rasa's internal-error pattern), this fails the test with
    the message, since a conversation run on a made-up answer would teach the dataset nothing."""
