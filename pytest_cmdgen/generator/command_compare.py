"""When two command lists are "the same commands": one definition, for evaluation and ``--cmdgen-compare``.

The trainer's evaluation (``evaluation.json``) and the E2E comparison with the teacher
(``e2e_comparison.json``) both compare a label's commands with an answer's through :func:`command_keys`, so
the two files cannot disagree about one answer. Two commands are the same when their type and arguments are
equal: a SetSlot's extractor and a CannotHandle's reason do not count, a Clarify's options are a set. Two
answers are the same when their command *sets* are equal (order ignored, as ``rasa test du``); an answer with
no command stands for ``CannotHandle``, Rasa's fallback.

The paraphrase validation of a prepare run (:func:`pytest_cmdgen.recipe.rephrase.compare_commands`) keeps
Rasa's own command equality instead (reference §9.6): which paraphrases pass is part of the prepared data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_cmdgen.generator.grammar import Syntax, parse_commands
from pytest_cmdgen.runtime.commands import CannotHandle, Command

CommandKey = tuple[str, str]
"""A command as compared: its type name and its arguments (canonical JSON)."""


def command_key(command: Command) -> CommandKey:
    """What counts when two commands are compared: the type and the arguments (not a SetSlot's extractor nor
    a CannotHandle's reason; the options of a Clarify as a set)."""
    arguments = {k: v for k, v in command.as_dict().items() if k not in ("command", "extractor", "reason")}
    if isinstance(arguments.get("options"), list):
        arguments["options"] = sorted(arguments["options"])
    return type(command).__name__, json.dumps(arguments, sort_keys=True, default=str, ensure_ascii=False)


def command_keys(commands: Iterable[Command]) -> frozenset[CommandKey]:
    """The set of ``commands`` as compared; ``CannotHandle`` when there is none (Rasa's fallback)."""
    listed = list(commands) or [CannotHandle()]
    return frozenset(command_key(command) for command in listed)


def same_commands(expected: Iterable[Command], produced: Iterable[Command]) -> bool:
    """``expected`` and ``produced`` are the same commands (:func:`command_keys` equal)."""
    return command_keys(expected) == command_keys(produced)


@dataclass(frozen=True)
class CommandParser:
    """The project's command parser for the generator's syntax: text → commands, as Rasa parses it."""

    syntax: Syntax
    rasa_version: str
    flow_ids: tuple[str, ...]
    """The flows an answer may start (Rasa drops a StartFlow or Clarify option naming any other)."""

    def parse(self, text: str | None) -> list[Command]:
        """The commands in ``text`` (none for an empty or unreadable answer)."""
        return parse_commands(text, self.syntax, self.flow_ids, self.rasa_version)

    def keys(self, text: str | None) -> frozenset[CommandKey]:
        """The set of commands in ``text``, as compared (:func:`command_keys`)."""
        return command_keys(self.parse(text))


__all__ = ["CommandKey", "CommandParser", "command_key", "command_keys", "same_commands"]
