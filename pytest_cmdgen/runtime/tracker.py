"""The dialogue state of one conversation: events, slots, the stack and its history (§14 item 2)."""

from __future__ import annotations

import copy
from typing import Any

from pytest_cmdgen.runtime.domain import Domain
from pytest_cmdgen.runtime.events import (
    ActionExecuted,
    BotUttered,
    DialogueStackUpdated,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from pytest_cmdgen.runtime.stack import Frame, apply_patch, dump, frame_context, make_patch


class Tracker:
    """Events of a conversation and the state derived from them (slots, stack, latest message/action)."""

    def __init__(self, sender_id: str, domain: Domain) -> None:
        self.sender_id = sender_id
        self.domain = domain
        self.events: list[Event] = []
        self.slots: dict[str, Any] = {}
        self.set_slots: set[str] = set()
        self.stack: list[Frame] = []
        self.stack_states: list[list[Frame]] = []
        self.latest_message: UserUttered | None = None
        self.latest_action_name: str | None = None
        self.latest_bot_utterance: BotUttered | None = None
        self.followup_action: str | None = "action_listen"
        self.paused = False
        self.session_start_index = 0
        self._reset()

    # --- state ------------------------------------------------------------------------------------

    def _reset(self) -> None:
        self.slots = {name: copy.deepcopy(slot.initial_value) for name, slot in self.domain.slots.items()}
        self.set_slots = set()
        self.stack = []
        self.stack_states = []
        self.latest_action_name = None
        self.followup_action = "action_listen"
        self.paused = False

    def get_slot(self, name: str) -> Any:
        """Current value of a slot (None if unknown)."""
        return self.slots.get(name)

    def has_been_set(self, name: str) -> bool:
        """Whether a SlotSet for the slot was applied in the current session (even to null)."""
        return name in self.set_slots

    @property
    def top_frame(self) -> Frame | None:
        """The frame on top of the stack."""
        return self.stack[-1] if self.stack else None

    def context(self) -> dict[str, Any]:
        """The top frame's context (collect pattern merged with the frame below)."""
        return frame_context(self.stack)

    @property
    def active_flow(self) -> str | None:
        """``flow_id`` of the top frame's context (the user flow while a question is being asked)."""
        return self.context().get("flow_id")

    @property
    def current_step_id(self) -> str | None:
        """``step_id`` of the top frame's context."""
        return self.context().get("step_id")

    def copy_stack(self) -> list[Frame]:
        """A copy of the stack whose frames can be changed without touching the tracker."""
        return [frame.copy() for frame in self.stack]

    def applied_events(self) -> list[Event]:
        """Events since the last restart or session start (that event included)."""
        return self.events[self.session_start_index :]

    # --- updates ----------------------------------------------------------------------------------

    def stack_update_event(self, frames: list[Frame]) -> DialogueStackUpdated | None:
        """The event that turns the current stack into ``frames`` (None if nothing changes)."""
        old, new = dump(self.stack), dump(frames)
        if old == new:
            return None
        event = DialogueStackUpdated(update=make_patch(old, new))
        event._frames = [f.copy() for f in frames]  # type: ignore[attr-defined]
        return event

    def update_stack(self, frames: list[Frame]) -> DialogueStackUpdated | None:
        """Record a stack change as a DialogueStackUpdated event and apply it."""
        event = self.stack_update_event(frames)
        if event is not None:
            self.update(event)
        return event

    def update(self, event: Event) -> None:
        """Append an event and apply it to the state."""
        self.events.append(event)
        if isinstance(event, SlotSet):
            self.slots[event.key] = event.value
            self.set_slots.add(event.key)
        elif isinstance(event, DialogueStackUpdated):
            frames = getattr(event, "_frames", None)
            if frames is None:
                frames = [Frame.from_dict(d) for d in apply_patch(dump(self.stack), event.update)]
            self.stack = [f.copy() for f in frames]
            self.stack_states.append([f.copy() for f in frames])
        elif isinstance(event, UserUttered):
            self.latest_message = event
        elif isinstance(event, BotUttered):
            self.latest_bot_utterance = event
        elif isinstance(event, ActionExecuted):
            self.latest_action_name = event.action_name
            self.followup_action = None
        elif isinstance(event, (SessionStarted, Restarted)):
            self._reset()
            self.session_start_index = len(self.events) - 1
        else:
            name = type(event).__name__
            if name == "UnknownEvent":
                self._apply_unknown(event)

    def _apply_unknown(self, event: Event) -> None:
        raw = getattr(event, "raw", {})
        kind = raw.get("event")
        if kind == "followup":
            self.followup_action = raw.get("name")
        elif kind == "pause":
            self.paused = True
        elif kind == "resume":
            self.paused = False
        elif kind == "reset_slots":
            self.slots = {name: copy.deepcopy(s.initial_value) for name, s in self.domain.slots.items()}

    def update_with_events(self, events: list[Event]) -> None:
        """Apply several events in order."""
        for event in events:
            self.update(event)

    # --- wire form --------------------------------------------------------------------------------

    def latest_message_dict(self) -> dict[str, Any]:
        """``latest_message`` as Rasa sends it (the parse data of the latest user message)."""
        message = self.latest_message
        if message is None:
            return {"intent": {}, "entities": [], "text": None, "message_id": None, "metadata": {}}
        data = {"intent": {}, "entities": [], **message.parse_data}
        data.setdefault("text", message.text)
        data.setdefault("message_id", message.message_id)
        data.setdefault("metadata", message.metadata)
        return data

    def current_state(self) -> dict[str, Any]:
        """The tracker dict a rasa-sdk action server expects in a webhook request."""
        latest_event_time = self.events[-1].timestamp if self.events else None
        latest_action = {"action_name": self.latest_action_name} if self.latest_action_name else {}
        return {
            "sender_id": self.sender_id,
            "slots": dict(self.slots),
            "latest_message": self.latest_message_dict(),
            "latest_event_time": latest_event_time,
            "followup_action": self.followup_action,
            "paused": self.paused,
            "stack": dump(self.stack),
            "events": [event.to_dict() for event in self.events],
            "latest_input_channel": self.latest_message.input_channel if self.latest_message else None,
            "active_loop": {},
            "latest_action": latest_action,
            "latest_action_name": self.latest_action_name,
        }
