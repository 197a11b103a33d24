"""Command types as the coverage report names them, and the spellings users may type for them.

The report counts commands by Rasa's JSON discriminator (``start flow``, ``set slot``, …), the names of
Rasa's command histogram. ``--cmdgen-require-commands`` also accepts the v1 DSL / class names
(``StartFlow``, ``SetSlot``, ``SearchAndReply``, …), the v2/v3 keywords (``offtopic reply``, ``hand over``,
…) and Rasa's class names (``StartFlowCommand``), case-insensitively; :func:`resolve_command_names` turns
them into the report's names or says which names are valid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pytest_cmdgen.errors import CmdgenInputError
from pytest_cmdgen.runtime.commands import (
    CancelFlow,
    CannotHandle,
    ChitChat,
    Clarify,
    HumanHandoff,
    Knowledge,
    RepeatBotMessages,
    SetSlot,
    SkipQuestion,
    StartFlow,
)

HISTOGRAM_COMMANDS: tuple[str, ...] = tuple(
    sorted(
        (
            Knowledge.command,
            StartFlow.command,
            SetSlot.command,
            Clarify.command,
            HumanHandoff.command,
            CancelFlow.command,
            ChitChat.command,
            SkipQuestion.command,
        )
    )
)
"""The command types Rasa's histogram always shows (zero counts included), alphabetically."""

# Report name → the other spellings users meet (v1 DSL/class names, v2/v3 keywords, Rasa's class names).
_ALIASES: dict[str, tuple[str, ...]] = {
    StartFlow.command: ("StartFlow", "StartFlowCommand"),
    SetSlot.command: ("SetSlot", "SetSlotCommand"),
    CancelFlow.command: ("CancelFlow", "CancelFlowCommand"),
    ChitChat.command: ("ChitChat", "offtopic reply", "ChitChatAnswerCommand"),
    Knowledge.command: ("SearchAndReply", "search and reply", "provide info", "KnowledgeAnswerCommand"),
    SkipQuestion.command: ("SkipQuestion", "SkipQuestionCommand"),
    HumanHandoff.command: ("HumanHandoff", "hand over", "HumanHandoffCommand"),
    Clarify.command: ("Clarify", "disambiguate flows", "ClarifyCommand"),
    CannotHandle.command: ("CannotHandle", "CannotHandleCommand"),
    RepeatBotMessages.command: ("RepeatBotMessages", "repeat message", "RepeatBotMessagesCommand"),
}

LLM_COMMANDS: tuple[str, ...] = tuple(sorted(_ALIASES))
"""Every command type a command generator's answer can hold (the names a gate can require)."""


class CommandNameError(CmdgenInputError):
    """A command name that is none of the known command types; the message lists the valid names."""


def _key(name: str) -> str:
    """Case, spaces, ``_``/``-`` and a trailing ``()`` do not matter: ``Start_Flow()`` is ``start flow``."""
    return re.sub(r"[\s_\-]+", "", name.strip().lower().removesuffix("()"))


_BY_KEY: dict[str, str] = {
    _key(spelling): canonical
    for canonical, aliases in _ALIASES.items()
    for spelling in (canonical, *aliases)
}


def canonical_command(name: str) -> str | None:
    """The report's name of a command type (``"StartFlow"`` → ``"start flow"``), or None if unknown."""
    return _BY_KEY.get(_key(name))


def valid_names_text() -> str:
    """The valid names, for an error message."""
    return f"{', '.join(LLM_COMMANDS)} (or their v1 names: StartFlow, SetSlot, CancelFlow, SearchAndReply, …)"


def unknown_command_names(names: Iterable[str]) -> list[str]:
    """The names among ``names`` that are no known command type."""
    return [name for name in names if canonical_command(name) is None]


def resolve_command_names(names: Iterable[str]) -> tuple[str, ...]:
    """The report's names of ``names``, in order and without duplicates; an unknown name raises
    :class:`CommandNameError` listing the valid ones."""
    names = list(names)
    unknown = unknown_command_names(names)
    if unknown:
        listed = ", ".join(repr(n) for n in unknown)
        raise CommandNameError(
            f"unknown command type {listed}; valid: {valid_names_text()}", key="require_commands"
        )
    resolved: list[str] = []
    for name in names:
        canonical = canonical_command(name)
        if canonical is not None and canonical not in resolved:
            resolved.append(canonical)
    return tuple(resolved)


__all__ = [
    "HISTOGRAM_COMMANDS",
    "LLM_COMMANDS",
    "CommandNameError",
    "canonical_command",
    "resolve_command_names",
    "unknown_command_names",
    "valid_names_text",
]
