"""Dialogue-understanding commands as data, with Rasa's JSON form (reference §9.6).

These are plain values: parsing LLM text into them lives in ``pytest_cmdgen.generator``, executing them
in the runtime's command processor. Equality follows Rasa's validation rule: StartFlow by flow, SetSlot
by name and value, Clarify by options, CannotHandle by reason, the others by type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Command:
    """Base of every command; ``command`` is Rasa's JSON discriminator."""

    command: ClassVar[str] = ""

    def as_dict(self) -> dict[str, Any]:
        """Rasa's JSON form: the dataclass fields plus ``"command"``."""
        return {"command": self.command, **self._fields()}

    def _fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class StartFlow(Command):
    """Start a user flow."""

    command: ClassVar[str] = "start flow"
    flow: str = ""

    def _fields(self) -> dict[str, Any]:
        return {"flow": self.flow}


@dataclass(frozen=True)
class SetSlot(Command):
    """Fill a slot; ``extractor`` is ``LLM``, ``CommandPayloadReader`` or ``NLU``."""

    command: ClassVar[str] = "set slot"
    name: str = ""
    value: Any = None
    extractor: str = field(default="LLM", compare=False)

    def _fields(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "extractor": self.extractor}


@dataclass(frozen=True)
class CorrectedSlot:
    """One slot of a correction; ``filled_by`` is the extractor of the SetSlot it came from (3.12+)."""

    name: str
    value: Any
    filled_by: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CorrectSlots(Command):
    """Correct slots that were filled earlier in the active flow."""

    command: ClassVar[str] = "correct slot"
    corrected_slots: tuple[CorrectedSlot, ...] = ()

    def _fields(self) -> dict[str, Any]:
        return {"corrected_slots": [{"name": s.name, "value": s.value} for s in self.corrected_slots]}


@dataclass(frozen=True)
class CancelFlow(Command):
    """Cancel the active user flow."""

    command: ClassVar[str] = "cancel flow"


@dataclass(frozen=True)
class ChitChat(Command):
    """Answer small talk."""

    command: ClassVar[str] = "chitchat"


@dataclass(frozen=True)
class Knowledge(Command):
    """Answer from the knowledge base (``SearchAndReply()``)."""

    command: ClassVar[str] = "knowledge"


@dataclass(frozen=True)
class SkipQuestion(Command):
    """The user wants to skip the question being asked."""

    command: ClassVar[str] = "skip question"


@dataclass(frozen=True)
class HumanHandoff(Command):
    """Hand the conversation over to a human."""

    command: ClassVar[str] = "human handoff"


@dataclass(frozen=True)
class Clarify(Command):
    """Ask which of several flows the user meant."""

    command: ClassVar[str] = "clarify"
    options: tuple[str, ...] = ()

    def _fields(self) -> dict[str, Any]:
        return {"options": list(self.options)}


@dataclass(frozen=True)
class CannotHandle(Command):
    """The assistant cannot handle the message."""

    command: ClassVar[str] = "cannot handle"
    reason: str = "cannot_handle_default"

    def _fields(self) -> dict[str, Any]:
        return {"reason": self.reason}


@dataclass(frozen=True)
class RepeatBotMessages(Command):
    """Repeat the last bot messages (3.12+)."""

    command: ClassVar[str] = "repeat"


@dataclass(frozen=True)
class Error(Command):
    """An internal error (LLM failure, empty or too long message)."""

    command: ClassVar[str] = "error"
    error_type: str = "rasa_internal_error_default"
    info: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    def _fields(self) -> dict[str, Any]:
        return {"error_type": self.error_type, "info": dict(self.info)}


@dataclass(frozen=True)
class Noop(Command):
    """Do nothing."""

    command: ClassVar[str] = "noop"


@dataclass(frozen=True)
class Restart(Command):
    """Restart the conversation."""

    command: ClassVar[str] = "restart"


@dataclass(frozen=True)
class SessionStart(Command):
    """Start a new session."""

    command: ClassVar[str] = "session start"


@dataclass(frozen=True)
class HandleCodeChange(Command):
    """Flows on the stack changed since the conversation started."""

    command: ClassVar[str] = "handle code change"


_SIMPLE: dict[str, type[Command]] = {
    cls.command: cls
    for cls in (
        CancelFlow,
        ChitChat,
        Knowledge,
        SkipQuestion,
        HumanHandoff,
        RepeatBotMessages,
        Noop,
        Restart,
        SessionStart,
        HandleCodeChange,
    )
}


class UnknownCommandError(ValueError):
    """A command dict whose ``command`` key we do not know."""


def command_from_dict(data: dict[str, Any]) -> Command:
    """Rebuild a command from its JSON form (``llm_commands`` / ``parse_data.commands``)."""
    kind = data.get("command")
    if kind == StartFlow.command:
        return StartFlow(flow=data["flow"])
    if kind == SetSlot.command:
        return SetSlot(name=data["name"], value=data.get("value"), extractor=data.get("extractor") or "LLM")
    if kind == CorrectSlots.command:
        slots = tuple(CorrectedSlot(s["name"], s.get("value")) for s in data.get("corrected_slots") or [])
        return CorrectSlots(corrected_slots=slots)
    if kind == Clarify.command:
        return Clarify(options=tuple(data.get("options") or ()))
    if kind == CannotHandle.command:
        return CannotHandle(reason=data.get("reason") or "cannot_handle_default")
    if kind == Error.command:
        return Error(
            error_type=data.get("error_type") or "rasa_internal_error_default",
            info=tuple(sorted((data.get("info") or {}).items())),
        )
    if kind in _SIMPLE:
        return _SIMPLE[kind]()
    raise UnknownCommandError(f"unknown command {kind!r} in {data!r}")
