"""The command languages of Rasa's LLM command generators: parsing LLM answers, writing dataset DSL.

Three syntaxes exist (reference rasa-recipe.md §9.5/§6.1, rasa-modern-generators.md §2.5–§2.6):

* ``v1`` — ``SingleStepLLMCommandGenerator``: ``StartFlow(x)``, ``SetSlot(a, b)``, ``Clarify(a, b)`` …
* ``v2`` — ``CompactLLMCommandGenerator``: ``start flow x``, ``set slot a b``, ``provide info`` …
* ``v3`` — ``SearchReadyLLMCommandGenerator``: as v2 but ``search and reply`` for knowledge.

Version behaviour is read from one :class:`GrammarProfile`, the syntax's view of the version profile
(:class:`~pytest_cmdgen.versions.VersionProfile`), so the module holds no version conditionals. One
deliberate difference from Rasa: the 3.10 serialiser wrote Clarify as ``Clarify(['a', 'b'])`` which its
own parser cannot read; we always write ``Clarify(a, b)`` (reference §15, quirk 2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Literal

from pytest_cmdgen.errors import CmdgenInputError
from pytest_cmdgen.runtime.commands import (
    CancelFlow,
    CannotHandle,
    ChitChat,
    Clarify,
    Command,
    HumanHandoff,
    Knowledge,
    RepeatBotMessages,
    SetSlot,
    SkipQuestion,
    StartFlow,
)
from pytest_cmdgen.versions import Version, parse_version, profile_for

Syntax = Literal["v1", "v2", "v3"]
"""The command syntax (DSL) version of a generator."""

SYNTAXES: tuple[Syntax, ...] = ("v1", "v2", "v3")
"""Every syntax this module knows."""

GENERATOR_SYNTAX: dict[str, Syntax] = {
    "single_step": "v1",
    "compact": "v2",
    "search_ready": "v3",
}
"""The syntax each LLM command generator writes and reads."""

_NONE_VALUES = frozenset({"[missing information]", "[missing]", "None", "undefined", "null"})
_PATTERN_PREFIX = "pattern_"


class UnsupportedSyntaxError(CmdgenInputError, ValueError):
    """The syntax does not exist in the given Rasa version (v3 before 3.13, v2 before 3.12)."""


@dataclass(frozen=True)
class GrammarProfile:
    """Everything about the command grammar of one syntax that changed between Rasa versions.

    Each field is read from the version profile; the only thing added here is the syntax.
    """

    version: Version
    every_pattern_per_line: bool
    """3.12+: each line is tested against every pattern; 3.10/3.11 v1: first match wins."""
    empty_value_is_none: bool
    """3.12+: an empty SetSlot value becomes None (3.10/3.11 keep ``""``)."""
    has_human_handoff: bool
    """HumanHandoff exists (parsed and serialised) up to 3.15."""
    has_repeat: bool
    """The repeat command exists in this syntax (v1 from 3.12, v2/v3 always)."""
    v1_legacy_clarify: bool
    """3.10/3.11 v1 Clarify: no ``-``, at least one character, sort before quote removal, split on ``,``."""
    clarify_empty_allowed: bool
    """3.15+: a Clarify with no (valid) option yields ``Clarify([])`` instead of nothing."""
    cannot_handle_text: bool
    """``CannotHandle`` has a textual form (3.11+ for v1; always for v2/v3). It is never parsed."""


def grammar_profile(syntax: Syntax, rasa_version: str | Version) -> GrammarProfile:
    """The grammar profile of ``syntax`` in ``rasa_version``; raises for a syntax that did not exist yet."""
    version = parse_version(rasa_version)
    if syntax not in SYNTAXES:
        raise UnsupportedSyntaxError(f"unknown command syntax {syntax!r}")
    profile = profile_for(version)
    if syntax == "v2" and not profile.compact_generator:
        raise UnsupportedSyntaxError(f"syntax v2 (CompactLLMCommandGenerator) needs Rasa 3.12+, got {version}")
    if syntax == "v3" and not profile.search_ready_generator:
        raise UnsupportedSyntaxError(f"syntax v3 (SearchReadyLLMCommandGenerator) needs Rasa 3.13+, got {version}")
    v1 = syntax == "v1"
    return GrammarProfile(
        version=version,
        every_pattern_per_line=profile.v1_every_pattern_per_line or not v1,
        empty_value_is_none=profile.empty_slot_value_is_none,
        has_human_handoff=profile.human_handoff_command,
        has_repeat=profile.repeat_command,
        v1_legacy_clarify=v1 and profile.v1_legacy_clarify,
        clarify_empty_allowed=profile.empty_clarify_parsed,
        cannot_handle_text=profile.v1_cannot_handle_dsl or not v1,
    )


# --------------------------------------------------------------------------------------------------
# parsing


@dataclass(frozen=True)
class _Rule:
    """One command pattern and how a match becomes commands."""

    pattern: re.Pattern[str]
    build: Callable[[re.Match[str], _ParseContext], list[Command]]


@dataclass(frozen=True)
class _ParseContext:
    profile: GrammarProfile
    user_flow_ids: frozenset[str]


def _clean_value(value: str) -> str:
    return value.strip("'\" ")


def _nullable(value: str, profile: GrammarProfile) -> str | None:
    if value in _NONE_VALUES or (profile.empty_value_is_none and not value):
        return None
    return value


def _start_flow_by_name(flow_id: str, ctx: _ParseContext) -> list[Command]:
    return [StartFlow(flow=flow_id)] if flow_id in ctx.user_flow_ids else []


def _build_set_slot(match: re.Match[str], ctx: _ParseContext) -> list[Command]:
    name = match.group(1).strip()
    value = _clean_value(match.group(2))
    if name == "flow_name":
        return _start_flow_by_name(value, ctx)
    return [SetSlot(name=name, value=_nullable(value, ctx.profile))]


def _build_start_flow(match: re.Match[str], ctx: _ParseContext) -> list[Command]:
    return _start_flow_by_name(match.group(1).strip(), ctx)


def _clarify_from_options(options: list[str], ctx: _ParseContext) -> list[Command]:
    valid = [option for option in options if option in ctx.user_flow_ids]
    if len(set(valid)) == 1:
        return _start_flow_by_name(valid[0], ctx)
    if len(valid) > 1:
        return [Clarify(options=tuple(valid))]
    if ctx.profile.clarify_empty_allowed:
        return [Clarify(options=())]
    return []


def _build_clarify_v1_legacy(match: re.Match[str], ctx: _ParseContext) -> list[Command]:
    # 3.10/3.11: sorted before the quotes are removed, so quoted options sort first
    options = sorted(option.strip() for option in match.group(1).split(","))
    return _clarify_from_options([option.strip("'\"") for option in options], ctx)


def _build_clarify_v1(match: re.Match[str], ctx: _ParseContext) -> list[Command]:
    # 3.12+ v1: options separated by commas and/or whitespace, quotes stripped, then sorted
    return _clarify_from_options(_split_options(match.group(1)), ctx)


def _build_clarify_v2(match: re.Match[str], ctx: _ParseContext) -> list[Command]:
    return _clarify_from_options(_split_options(match.group(1)), ctx)


def _split_options(text: str) -> list[str]:
    return sorted(option.strip().strip('"').strip("'") for option in text.replace(",", " ").split())


def _simple(command: Command) -> Callable[[re.Match[str], _ParseContext], list[Command]]:
    def build(match: re.Match[str], ctx: _ParseContext) -> list[Command]:
        return [command]

    return build


_V1_SET_SLOT = re.compile(r"""SetSlot\(['"]?([a-zA-Z_][a-zA-Z0-9_-]*)['"]?, ?['"]?(.*)['"]?\)""")
_V1_START_FLOW = re.compile(r"""StartFlow\(['"]?([a-zA-Z0-9_-]+)['"]?\)""")
_V1_CLARIFY_LEGACY = re.compile(r"""Clarify\(([\"\'a-zA-Z0-9_, ]+)\)""")
_V1_CLARIFY = re.compile(r"""Clarify\(([\"\'a-zA-Z0-9_, -]*)\)""")

_P = r"^[\s\W\d]*"  # tolerated bullets, numbering, backticks and spaces before a v2/v3 keyword
_Q = r"""['"`]"""


V2_COMMAND_WORDS = (
    "start flow",
    "set slot",
    "cancel flow",
    "disambiguate flows",
    "offtopic reply",
    "skip question",
    "provide info",
    "search and reply",
    "hand over",
    "repeat message",
    "cannot handle",
)
"""The words a command line of the v2/v3 syntaxes starts with (``start flow x``, ``set slot a b``, ...)."""


def _v2_keyword(keyword: str) -> re.Pattern[str]:
    return re.compile(_P + re.escape(keyword) + _Q + "*$")


def _rules(syntax: Syntax, profile: GrammarProfile) -> list[_Rule]:
    """The parser's pattern list, in Rasa's order (which is also the order of commands from one line)."""
    rules: list[_Rule] = []
    if syntax == "v1":
        rules += [
            _Rule(_V1_SET_SLOT, _build_set_slot),
            _Rule(_V1_START_FLOW, _build_start_flow),
            _Rule(re.compile(r"CancelFlow\(\)"), _simple(CancelFlow())),
            _Rule(re.compile(r"ChitChat\(\)"), _simple(ChitChat())),
            _Rule(re.compile(r"SkipQuestion\(\)"), _simple(SkipQuestion())),
            _Rule(re.compile(r"SearchAndReply\(\)"), _simple(Knowledge())),
        ]
        if profile.has_human_handoff:
            rules.append(_Rule(re.compile(r"HumanHandoff\(\)"), _simple(HumanHandoff())))
        if profile.v1_legacy_clarify:
            rules.append(_Rule(_V1_CLARIFY_LEGACY, _build_clarify_v1_legacy))
        else:
            rules.append(_Rule(_V1_CLARIFY, _build_clarify_v1))
        if profile.has_repeat:
            rules.append(_Rule(re.compile(r"RepeatLastBotMessages\(\)"), _simple(RepeatBotMessages())))
        return rules

    rules += [
        _Rule(
            re.compile(_P + "set slot " + _Q + "?([a-zA-Z_][a-zA-Z0-9_-]*)" + _Q + "? " + _Q + r"?(.+?)[\W]*$"),
            _build_set_slot,
        ),
        _Rule(re.compile(_P + "start flow " + _Q + "?([a-zA-Z0-9_-]+)" + _Q + "*"), _build_start_flow),
        _Rule(_v2_keyword("cancel flow"), _simple(CancelFlow())),
        _Rule(_v2_keyword("offtopic reply"), _simple(ChitChat())),
        _Rule(_v2_keyword("skip question"), _simple(SkipQuestion())),
        _Rule(_v2_keyword("provide info" if syntax == "v2" else "search and reply"), _simple(Knowledge())),
    ]
    if profile.has_human_handoff:
        rules.append(_Rule(_v2_keyword("hand over"), _simple(HumanHandoff())))
    clarify_gap = r"\s*" if profile.clarify_empty_allowed else " "
    rules.append(
        _Rule(
            re.compile(_P + "disambiguate flows" + clarify_gap + r"""(["'a-zA-Z0-9_, -]*)[\W]*$"""),
            _build_clarify_v2,
        )
    )
    rules.append(_Rule(_v2_keyword("repeat message"), _simple(RepeatBotMessages())))
    return rules


def user_flow_ids(flow_ids: Iterable[str]) -> frozenset[str]:
    """The ids of user flows (everything that is not a ``pattern_`` flow)."""
    return frozenset(flow_id for flow_id in flow_ids if not flow_id.startswith(_PATTERN_PREFIX))


def parse_commands(
    text: str | None,
    syntax: Syntax,
    available_flow_ids: Collection[str],
    rasa_version: str | Version,
) -> list[Command]:
    """Parse an LLM answer into commands exactly as Rasa's generator of ``syntax`` does in ``rasa_version``.

    ``available_flow_ids`` is the turn's set of flows given to the generator (startable ∪ active, before
    flow-retrieval filtering, reference §9.3 (a)); ``pattern_`` ids in it are ignored. StartFlow and
    Clarify options naming other flows are dropped. No fallback is applied: an answer without
    commands gives ``[]`` (the caller adds ``CannotHandle``), a ``None`` answer too (the caller adds
    ``Error``).
    """
    if not text:
        return []
    profile = grammar_profile(syntax, rasa_version)
    ctx = _ParseContext(profile=profile, user_flow_ids=user_flow_ids(available_flow_ids))
    rules = _rules(syntax, profile)
    commands: list[Command] = []
    for raw_line in text.strip().splitlines():
        line = raw_line.strip()
        for rule in rules:
            match = rule.pattern.search(line)
            if match is None:
                continue
            commands.extend(rule.build(match, ctx))
            if not profile.every_pattern_per_line:
                break
    return commands


# --------------------------------------------------------------------------------------------------
# serialising


def serialize_command(command: Command, syntax: Syntax, rasa_version: str | Version) -> str | None:
    """One command in the dataset DSL of ``syntax`` (Rasa's ``to_dsl``), or None if it has no textual form.

    Values are written with Python ``str()`` (``None``, ``True``, ``50.0``). Commands without a textual
    form in that version (corrections, errors, noop, restart, HumanHandoff from 3.16, CannotHandle in
    3.10 v1) give None and are left out, as Rasa does.
    """
    profile = grammar_profile(syntax, rasa_version)
    if syntax == "v1":
        return _serialize_v1(command, profile)
    return _serialize_v2(command, syntax, profile)


def _serialize_v1(command: Command, profile: GrammarProfile) -> str | None:
    if isinstance(command, StartFlow):
        return f"StartFlow({command.flow})"
    if isinstance(command, SetSlot):
        return f"SetSlot({command.name}, {command.value})"
    if isinstance(command, Clarify):
        return f"Clarify({', '.join(command.options)})"
    if isinstance(command, CannotHandle):
        return "CannotHandle()" if profile.cannot_handle_text else None
    if isinstance(command, HumanHandoff):
        return "HumanHandoff()" if profile.has_human_handoff else None
    if isinstance(command, RepeatBotMessages):
        return "RepeatLastBotMessages()" if profile.has_repeat else None
    simple = {CancelFlow: "CancelFlow()", ChitChat: "ChitChat()", SkipQuestion: "SkipQuestion()"}
    simple[Knowledge] = "SearchAndReply()"
    return simple.get(type(command))


def _serialize_v2(command: Command, syntax: Syntax, profile: GrammarProfile) -> str | None:
    if isinstance(command, StartFlow):
        return f"start flow {command.flow}"
    if isinstance(command, SetSlot):
        return f"set slot {command.name} {command.value}"
    if isinstance(command, Clarify):
        return f"disambiguate flows {' '.join(command.options)}"
    if isinstance(command, HumanHandoff):
        return "hand over" if profile.has_human_handoff else None
    simple: dict[type[Command], str] = {
        CancelFlow: "cancel flow",
        ChitChat: "offtopic reply",
        SkipQuestion: "skip question",
        Knowledge: "provide info" if syntax == "v2" else "search and reply",
        RepeatBotMessages: "repeat message",
        CannotHandle: "cannot handle",
    }
    return simple.get(type(command))


def serialize_commands(commands: Iterable[Command], syntax: Syntax, rasa_version: str | Version) -> str:
    """The dataset ``output`` string: one command per line, joined with ``\\n``, no trailing newline.

    Commands without a textual form are omitted (see :func:`serialize_command`).
    """
    lines = (serialize_command(command, syntax, rasa_version) for command in commands)
    return "\n".join(line for line in lines if line is not None)
