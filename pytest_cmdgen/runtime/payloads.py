"""Messages that bypass the command source: ``/SetSlots(...)`` buttons and ``/intent`` payloads."""

from __future__ import annotations

import re

from pytest_cmdgen.runtime.commands import (
    CancelFlow,
    CannotHandle,
    ChitChat,
    Command,
    HumanHandoff,
    Knowledge,
    Restart,
    SessionStart,
    SetSlot,
    SkipQuestion,
    StartFlow,
)
from pytest_cmdgen.runtime.project import Project

_SET_SLOTS = re.compile(r"^\s*/SetSlots\((?P<body>.*)\)\s*$", re.S)
_PAIR_LISTS = re.compile(r"(?P<slot_name>[^(),=]+)=(?P<slot_value>\[[^\]]*\]|[^(),]+)")
_PAIR_PLAIN = re.compile(r"(?P<slot_name>[^(),=]+)=(?P<slot_value>[^(),]+)")
# YAMLStoryReader's INTENT_ENTITIES_PATTERN, matched against the stripped text
_INTENT = re.compile(r"^/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>{.+})?(?P<rest>.*)")
_NULLS = {"none", "null", "undefined"}
MAX_PAIRS = 10
PAYLOAD_EXTRACTOR = "CommandPayloadReader"
# ``triggerable_pattern_to_command_class`` (3.14.29 dialogue_understanding/generator/utils.py); the
# ``pattern_user_silence`` command has no counterpart here and, like other patterns, gives nothing.
PATTERN_COMMANDS: dict[str, type[Command]] = {
    "pattern_session_start": SessionStart,
    "pattern_cancel_flow": CancelFlow,
    "pattern_chitchat": ChitChat,
    "pattern_human_handoff": HumanHandoff,
    "pattern_search": Knowledge,
    "pattern_skip_question": SkipQuestion,
    "pattern_cannot_handle": CannotHandle,
    "pattern_restart": Restart,
}


def parse_set_slots(text: str, project: Project) -> list[Command] | None:
    """Commands of a ``/SetSlots(a=1, b=x)`` payload; None if the text is not one or is invalid."""
    match = _SET_SLOTS.match(text)
    if match is None:
        return None
    body = match.group("body")
    if body.count("=") > MAX_PAIRS:
        return None
    pattern = _PAIR_LISTS if project.profile.payload_list_values else _PAIR_PLAIN
    commands: list[Command] = []
    for pair in pattern.finditer(body):
        name = pair.group("slot_name").strip()
        value: str | None = pair.group("slot_value").strip()
        if value is not None and value.lower() in _NULLS:
            value = None
        if name not in project.domain.slots:
            return None
        commands.append(SetSlot(name=name, value=value, extractor=PAYLOAD_EXTRACTOR))
    return commands or None


def unpack_intent(text: str, project: Project) -> tuple[str, float] | None:
    """``(intent, confidence)`` of a ``/intent[@conf][{...}]`` payload of a domain intent, else None.

    Rasa (every 3.10 – 3.21 ``MessageProcessor.parse_message``) only unpacks a text that starts with ``/``
    (not ``/SetSlots``; ``create_regex_pattern_reader``) and whose intent is in the domain or one of the
    default intents (``YAMLStoryReader._intent_name_from_regex_match``); anything else is sanitised and
    goes through the pipeline like a normal message. Confidence: ``@x`` (unparsable 0.0, at most 1.0),
    default 1.0 (``_confidences_from_regex_match``).
    """
    if not text.startswith("/") or text.startswith("/SetSlots"):
        return None
    match = _INTENT.match(text.strip())
    if match is None:
        return None
    intent = match.group("intent").strip()
    if intent not in project.domain.intents and intent not in project.profile.default_intents:
        return None
    raw = match.group("confidence")
    confidence = 1.0
    if raw is not None:
        try:
            confidence = min(1.0, float(raw.strip()[1:]))
        except ValueError:
            confidence = 0.0
    return intent, confidence


def intent_of(text: str, project: Project) -> str | None:
    """The intent of a ``/intent`` payload Rasa unpacks (see :func:`unpack_intent`), or None."""
    unpacked = unpack_intent(text, project)
    return unpacked[0] if unpacked else None


def parse_intent_trigger(text: str, project: Project) -> list[Command] | None:
    """Commands of a ``/intent`` payload Rasa unpacks; None when it is not one (the text goes on).

    An unpacked payload bypasses the NLU/command-generator graph (``_parse_message_with_commands_and_intents``):
    its only commands are the NLU adapter's (``NLUCommandAdapter.convert_nlu_to_commands``): the first flow
    whose ``nlu_trigger`` matches the intent at the payload's confidence. A domain intent that triggers no
    flow therefore gives no commands at all (no LLM call, no CannotHandle: ``_contains_undefined_intent``
    is false for a domain intent).
    """
    unpacked = unpack_intent(text, project)
    if unpacked is None:
        return None
    intent, confidence = unpacked
    for flow in project.flows:
        if not any(name == intent and confidence >= threshold for name, threshold in flow.nlu_triggers):
            continue
        if flow.is_pattern:
            kind = PATTERN_COMMANDS.get(flow.id)
            return [kind()] if kind is not None else []
        return [StartFlow(flow=flow.id)]
    return []


def strip_slash(text: str) -> str:
    """Text of an invalid slash payload as it goes on to the command source (leading slashes removed)."""
    return text.lstrip().lstrip("/").lstrip()
