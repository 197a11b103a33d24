"""Tracker events, in memory as dataclasses and on the wire as Rasa's event dicts.

The E2E judge reads these events, the action-server protocol ships them as dicts (``to_dict`` /
``event_from_dict``), and annotation reads the prompt and commands from ``UserUttered.parse_data``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class Event:
    """Base of every tracker event; ``type_name`` is Rasa's ``event`` key."""

    type_name: ClassVar[str] = ""
    timestamp: float = field(default_factory=time.time, kw_only=True, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The event as Rasa serialises it (``{"event": ..., "timestamp": ..., ...}``)."""
        return {"event": self.type_name, "timestamp": self.timestamp, **self._fields()}

    def _fields(self) -> dict[str, Any]:
        return {}


@dataclass
class SessionStarted(Event):
    """A new conversation session began (turn -1 of an E2E test)."""

    type_name: ClassVar[str] = "session_started"


@dataclass
class UserUttered(Event):
    """A user message; ``parse_data`` carries ``commands`` and, when annotating, ``llm_prompt``/``llm_commands``."""

    type_name: ClassVar[str] = "user"
    text: str | None = None
    parse_data: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    input_channel: str | None = None
    message_id: str | None = None

    def _fields(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "parse_data": self.parse_data,
            "input_channel": self.input_channel,
            "message_id": self.message_id,
            "metadata": self.metadata,
        }

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The command dicts the message carries (``parse_data.commands``)."""
        return list(self.parse_data.get("commands") or [])


@dataclass
class BotUttered(Event):
    """A bot message; ``metadata.utter_action`` names the response it came from."""

    type_name: ClassVar[str] = "bot"
    text: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def _fields(self) -> dict[str, Any]:
        return {"text": self.text, "data": self.data, "metadata": self.metadata}

    @property
    def utter_action(self) -> str | None:
        """The response name this message came from, if any."""
        return self.metadata.get("utter_action")

    @property
    def buttons(self) -> list[dict[str, Any]] | None:
        """The buttons shown with the message, or None."""
        return self.data.get("buttons")


@dataclass
class SlotSet(Event):
    """A slot got a value (``None`` included)."""

    type_name: ClassVar[str] = "slot"
    key: str = ""
    value: Any = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)
    filled_by: str | None = field(default=None, compare=False)

    def _fields(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.key, "value": self.value}
        # 3.12+ only: reset markers and the extractor; absent keys keep the 3.10 wire form.
        if self.metadata:
            data["metadata"] = self.metadata
        if self.filled_by is not None:
            data["filled_by"] = self.filled_by
        return data


@dataclass
class ActionExecuted(Event):
    """An action ran; custom actions carry the active flow and step in ``metadata``."""

    type_name: ClassVar[str] = "action"
    action_name: str = ""
    policy: str | None = None
    confidence: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def _fields(self) -> dict[str, Any]:
        return {
            "name": self.action_name,
            "policy": self.policy,
            "confidence": self.confidence,
            "action_text": None,
            "hide_rule_turn": False,
            "metadata": self.metadata,
        }


@dataclass
class _FlowEvent(Event):
    flow_id: str = ""
    step_id: str | None = None

    def _fields(self) -> dict[str, Any]:
        return {"flow_id": self.flow_id, "step_id": self.step_id}


@dataclass
class FlowStarted(Event):
    """A flow (user flow or pattern) was pushed; clarification carries ``metadata.names``."""

    type_name: ClassVar[str] = "flow_started"
    flow_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def _fields(self) -> dict[str, Any]:
        return {"flow_id": self.flow_id, "metadata": self.metadata}


@dataclass
class FlowCompleted(_FlowEvent):
    """A flow reached its end at ``step_id``."""

    type_name: ClassVar[str] = "flow_completed"


@dataclass
class FlowCancelled(_FlowEvent):
    """A flow was cancelled while at ``step_id``."""

    type_name: ClassVar[str] = "flow_cancelled"


@dataclass
class FlowInterrupted(_FlowEvent):
    """A flow was interrupted by another one at ``step_id``."""

    type_name: ClassVar[str] = "flow_interrupted"


@dataclass
class FlowResumed(_FlowEvent):
    """An interrupted flow was resumed at ``step_id``."""

    type_name: ClassVar[str] = "flow_resumed"


@dataclass
class DialogueStackUpdated(Event):
    """The dialogue stack changed; ``update`` is a JSON-patch string of the stack dump."""

    type_name: ClassVar[str] = "stack"
    update: str = "[]"

    def _fields(self) -> dict[str, Any]:
        return {"update": self.update}


@dataclass
class Restarted(Event):
    """The conversation was restarted."""

    type_name: ClassVar[str] = "restart"


@dataclass
class ActionExecutionRejected(Event):
    """An action refused to run."""

    type_name: ClassVar[str] = "action_execution_rejected"
    action_name: str = ""

    def _fields(self) -> dict[str, Any]:
        return {"name": self.action_name}


@dataclass
class UnknownEvent(Event):
    """An event dict of a kind we do not model; kept verbatim so nothing is lost."""

    raw: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)


def event_from_dict(data: dict[str, Any]) -> Event:
    """Build an event from Rasa's dict form (as an action server returns it)."""
    kind = data.get("event")
    extra: dict[str, Any] = {}
    if "timestamp" in data and data["timestamp"] is not None:
        extra["timestamp"] = data["timestamp"]
    if kind == "user":
        return UserUttered(
            text=data.get("text"),
            parse_data=dict(data.get("parse_data") or {}),
            metadata=dict(data.get("metadata") or {}),
            input_channel=data.get("input_channel"),
            message_id=data.get("message_id"),
            **extra,
        )
    if kind == "bot":
        return BotUttered(
            text=data.get("text"), data=dict(data.get("data") or {}), metadata=dict(data.get("metadata") or {}), **extra
        )
    if kind == "slot":
        return SlotSet(
            key=data.get("name", ""),
            value=data.get("value"),
            metadata=dict(data.get("metadata") or {}),
            filled_by=data.get("filled_by"),
            **extra,
        )
    if kind == "action":
        return ActionExecuted(
            action_name=data.get("name", ""),
            policy=data.get("policy"),
            confidence=data.get("confidence"),
            metadata=dict(data.get("metadata") or {}),
            **extra,
        )
    if kind == "flow_started":
        return FlowStarted(flow_id=data.get("flow_id", ""), metadata=dict(data.get("metadata") or {}), **extra)
    flow_events: dict[str, type[_FlowEvent]] = {
        "flow_completed": FlowCompleted,
        "flow_cancelled": FlowCancelled,
        "flow_interrupted": FlowInterrupted,
        "flow_resumed": FlowResumed,
    }
    if kind in flow_events:
        return flow_events[kind](flow_id=data.get("flow_id", ""), step_id=data.get("step_id"), **extra)
    if kind == "stack":
        return DialogueStackUpdated(update=data.get("update", "[]"), **extra)
    if kind == "session_started":
        return SessionStarted(**extra)
    if kind == "restart":
        return Restarted(**extra)
    if kind == "action_execution_rejected":
        return ActionExecutionRejected(action_name=data.get("name", ""), **extra)
    return UnknownEvent(raw=dict(data), **extra)
