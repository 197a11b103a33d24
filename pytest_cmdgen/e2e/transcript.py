"""Expected-versus-actual transcripts of a judged E2E test (reference §11.3, §11.4).

Step format: a ``difflib.ndiff`` of the expected lines (one per test step) against what the turns actually
held, in the same vocabulary (``user: ...``, ``bot: ...``, ``utter: ...``, ``slot_was_set: k: v (type)``,
``* No Bot Response *``, ``* No Slot Set *``), up to the last failing step — like Rasa's report.

Assertion format: the conversation's events as compact lines (default slots and stack updates omitted) up
to the end of the failing turn, followed by the failing expectation.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from typing import Any

from pytest_cmdgen.e2e import model as m
from pytest_cmdgen.e2e.turns import NO_BOT_RESPONSE, NO_SLOT_SET, Turn, describe_step
from pytest_cmdgen.runtime.events import (
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    DialogueStackUpdated,
    Event,
    FlowCancelled,
    FlowCompleted,
    FlowInterrupted,
    FlowResumed,
    FlowStarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)

#: Rasa's internal slots, left out of assertion transcripts.
DEFAULT_SLOTS = frozenset(
    {
        "dialogue_stack",
        "requested_slot",
        "session_started_metadata",
        "flow_hashes",
        "return_value",
        "skip_requested",
        "confirm_correction",
        "confirm_slot_correction",
        "correction_is_slot_same",
        "route_session_to_calm",
        "startable_flow_ids",
    }
)


def _type_repr(value: Any) -> str:
    return f"{value} ({type(value).__name__})"


def _expected_line(step: m.Step) -> str:
    return describe_step(step)


def _actual_lines(step: m.Step, turn: Turn) -> tuple[str, list[str]]:
    """(kind, lines) of what the turn held, in the vocabulary of ``step``."""
    if isinstance(step, m.BotStep):
        texts = turn.bot_texts
        return "bot", [f"bot: {t}" for t in texts] or [NO_BOT_RESPONSE]
    if isinstance(step, m.UtterStep):
        if turn.no_events or not turn.bot_messages:
            return "utter", [NO_BOT_RESPONSE]
        return "utter", [f"utter: {b.utter_action}" if b.utter_action else f"bot: {b.text}" for b in turn.bot_messages]
    slots = turn.slots_set
    return "slot", [f"slot_was_set: {s.key}: {_type_repr(s.value)}" for s in slots] or [NO_SLOT_SET]


def step_format_transcript(steps: Sequence[m.Step], step_turns: Sequence[Turn], failed: Collection[int]) -> list[str]:
    """``difflib.ndiff`` lines of expected steps versus actual turn contents, up to the last failure.

    ``step_turns[i]`` is the turn step ``i`` was judged against; ``failed`` holds the failing step indices.
    A passing step shows the same line on both sides; a failing one shows, on the actual side, what its
    turn held in the step's vocabulary (each kind once per turn).
    """
    if not failed:
        return []
    last = max(failed)
    expected: list[str] = []
    actual: list[str] = []
    shown: set[tuple[int, str]] = set()
    for index, step in enumerate(steps[: last + 1]):
        line = _expected_line(step)
        expected.append(line)
        if isinstance(step, m.UserStep):
            actual.append(line)
            continue
        if index not in failed:
            actual.append(line)
            continue
        turn = step_turns[index]
        kind, lines = _actual_lines(step, turn)
        key = (id(turn), kind)
        if key in shown:
            continue
        shown.add(key)
        actual.extend(lines)
    return [line.rstrip("\n") for line in difflib.ndiff(expected, actual)]


def event_line(event: Event) -> str | None:
    """A compact one-line form of an event, or None for events left out of transcripts."""
    if isinstance(event, UserUttered):
        return f"user: {event.text}"
    if isinstance(event, BotUttered):
        name = f" [{event.utter_action}]" if event.utter_action else ""
        buttons = event.buttons
        extra = ""
        if buttons:
            extra = " buttons: " + ", ".join(
                f"{b.get('title')} -> {b.get('payload')}" for b in buttons if isinstance(b, dict)
            )
        return f"bot{name}: {event.text}{extra}"
    if isinstance(event, SlotSet):
        if event.key in DEFAULT_SLOTS:
            return None
        return f"slot_was_set: {event.key}: {_type_repr(event.value)}"
    if isinstance(event, ActionExecuted):
        if event.action_name == "action_listen":
            return None
        return f"action: {event.action_name}"
    if isinstance(event, ActionExecutionRejected):
        return f"action rejected: {event.action_name}"
    if isinstance(event, FlowStarted):
        names = event.metadata.get("names") if event.flow_id == "pattern_clarification" else None
        return f"flow_started: {event.flow_id}" + (f" {names}" if names else "")
    if isinstance(event, (FlowCompleted, FlowCancelled, FlowInterrupted, FlowResumed)):
        kind = {
            FlowCompleted: "flow_completed",
            FlowCancelled: "flow_cancelled",
            FlowInterrupted: "flow_interrupted",
            FlowResumed: "flow_resumed",
        }[type(event)]
        return f"{kind}: {event.flow_id} (step {event.step_id})"
    if isinstance(event, (DialogueStackUpdated, SessionStarted)):
        return None
    return None


def events_transcript(events: Sequence[Event]) -> list[str]:
    """Every event as a compact line (events without a line are left out); user lines are not indented."""
    lines: list[str] = []
    for event in events:
        line = event_line(event)
        if line is None:
            continue
        lines.append(line if isinstance(event, UserUttered) else f"    {line}")
    return lines


def assertion_transcript(test_case: m.TestCase, events: Sequence[Event], failing_step: int, expected: str) -> list[str]:
    """The events up to the end of the failing step's turn, then ``>>> expected: <assertion>``."""
    step = test_case.steps[failing_step] if 0 <= failing_step < len(test_case.steps) else None
    cut = len(events)
    if isinstance(step, m.UserStep):
        seen = False
        for i, event in enumerate(events):
            if isinstance(event, UserUttered):
                if seen:
                    cut = i
                    break
                if event.text == step.text:
                    seen = True
    lines = events_transcript(events[:cut])
    lines.append(f">>> expected: {expected}")
    return lines


def render_turns(turns: Sequence[Turn]) -> list[str]:
    """A plain transcript of recorded turns: ``user: ...`` then the turn's bot messages and slots."""
    lines: list[str] = []
    for turn in turns:
        if turn.user_text is not None:
            lines.append(f"user: {turn.user_text}")
        if turn.no_events:
            lines.append(f"    {NO_BOT_RESPONSE}")
            continue
        for event in turn.events:
            if isinstance(event, UserUttered):
                continue
            line = event_line(event)
            if line is not None:
                lines.append(f"    {line}")
    return lines


__all__ = [
    "DEFAULT_SLOTS",
    "NO_BOT_RESPONSE",
    "NO_SLOT_SET",
    "assertion_transcript",
    "event_line",
    "events_transcript",
    "render_turns",
    "step_format_transcript",
]
