"""Messages that bypass the command source: ``/SetSlots(...)`` buttons and ``/intent`` payloads."""

from __future__ import annotations

import re

from pytest_cmdgen.runtime.commands import Command, Restart, SessionStart, SetSlot, StartFlow
from pytest_cmdgen.runtime.project import Project

_SET_SLOTS = re.compile(r"^\s*/SetSlots\((?P<body>.*)\)\s*$", re.S)
_PAIR_LISTS = re.compile(r"(?P<slot_name>[^(),=]+)=(?P<slot_value>\[[^\]]*\]|[^(),]+)")
_PAIR_PLAIN = re.compile(r"(?P<slot_name>[^(),=]+)=(?P<slot_value>[^(),]+)")
_INTENT = re.compile(r"^\s*/(?P<intent>[^\s{/(]+)(?P<entities>\{.*\})?\s*$", re.S)
_NULLS = {"none", "null", "undefined"}
MAX_PAIRS = 10
PAYLOAD_EXTRACTOR = "CommandPayloadReader"


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


def intent_of(text: str) -> str | None:
    """The intent of a ``/intent`` payload, or None."""
    if text.strip().startswith("/SetSlots"):
        return None
    match = _INTENT.match(text)
    return match.group("intent") if match else None


def parse_intent_trigger(text: str, project: Project) -> list[Command] | None:
    """Commands for a ``/intent`` payload whose intent is a flow's ``nlu_trigger``; None otherwise."""
    intent = intent_of(text)
    if intent is None:
        return None
    flow = project.flows.nlu_trigger_flow(intent)
    if flow is None:
        return None
    if flow.id == "pattern_restart":
        return [Restart()]
    if flow.id == "pattern_session_start":
        return [SessionStart()]
    return [StartFlow(flow=flow.id)]


def strip_slash(text: str) -> str:
    """Text of an invalid slash payload as it goes on to the command source (leading slashes removed)."""
    return text.lstrip().lstrip("/").lstrip()
