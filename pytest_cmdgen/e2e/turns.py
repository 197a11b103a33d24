"""A judged conversation's turns, and how a test step is written in transcripts and reports.

Shared by the judge (:mod:`.judge`) and the transcripts (:mod:`.transcript`), which both read turns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_cmdgen.e2e import model as m
from pytest_cmdgen.runtime.events import BotUttered, Event, SlotSet, UserUttered

#: Shown for a turn in which the bot said nothing.
NO_BOT_RESPONSE = "* No Bot Response *"
#: Shown for a turn in which no slot was set.
NO_SLOT_SET = "* No Slot Set *"


@dataclass
class Turn:
    """What one user step (or, with ``index == -1``, the session start) produced.

    ``events`` are all tracker events new since the previous turn, in order. ``no_events`` marks a turn in
    which the agent produced nothing (Rasa then records a fake turn whose bot text is
    ``* No Bot Response *``).
    """

    index: int
    user_text: str | None
    events: list[Event] = field(default_factory=list)
    no_events: bool = False

    @property
    def bot_messages(self) -> list[BotUttered]:
        """The ``BotUttered`` events of the turn."""
        return [e for e in self.events if isinstance(e, BotUttered)]

    @property
    def user_messages(self) -> list[UserUttered]:
        """The ``UserUttered`` events of the turn."""
        return [e for e in self.events if isinstance(e, UserUttered)]

    @property
    def slots_set(self) -> list[SlotSet]:
        """The ``SlotSet`` events of the turn."""
        return [e for e in self.events if isinstance(e, SlotSet)]

    @property
    def bot_texts(self) -> list[str]:
        """The bot texts of the turn (``* No Bot Response *`` for a turn without events)."""
        if self.no_events:
            return [NO_BOT_RESPONSE]
        return [b.text for b in self.bot_messages if b.text is not None]


def slot_type_repr(value: Any) -> str:
    """``value (type)`` as Rasa's transcript shows a slot value."""
    return f"{value} ({type(value).__name__})"


def describe_step(step: m.Step) -> str:
    """A step as one transcript line (``user: ...``, ``bot: ...``, ``utter: ...``, ``slot_was_set: ...``)."""
    if isinstance(step, m.UserStep):
        return f"user: {step.text}"
    if isinstance(step, m.BotStep):
        return f"bot: {step.text}"
    if isinstance(step, m.UtterStep):
        return f"utter: {step.name}"
    if isinstance(step, (m.SlotWasSetStep, m.SlotWasNotSetStep)):
        key = "slot_was_set" if isinstance(step, m.SlotWasSetStep) else "slot_was_not_set"
        if step.has_value:
            return f"{key}: {step.name}: {slot_type_repr(step.value)}"
        return f"{key}: {step.name}"
    return repr(step)


__all__ = ["NO_BOT_RESPONSE", "NO_SLOT_SET", "Turn", "describe_step", "slot_type_repr"]
