"""The pluggable parts of the runtime: command sources, action runners and knowledge responders.

Re-exported by :mod:`pytest_cmdgen.runtime.agent`; other packages code against these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pytest_cmdgen.runtime.commands import Command
from pytest_cmdgen.runtime.errors import ActionError
from pytest_cmdgen.runtime.events import UserUttered

if TYPE_CHECKING:
    from pytest_cmdgen.runtime.flows import Flow
    from pytest_cmdgen.runtime.project import Project
    from pytest_cmdgen.runtime.tracker import Tracker
    from pytest_cmdgen.versions import VersionProfile


@dataclass
class CommandRequest:
    """What a command source sees for one user message.

    ``message`` is not yet in ``tracker.events``. ``available_flows`` is set (a) of §9.3 (startable flows,
    then active flows not already listed; patterns included), ``startable_flows`` its startable part.
    """

    message: UserUttered
    tracker: Tracker
    project: Project
    available_flows: list[Flow]
    startable_flows: list[Flow]
    profile: VersionProfile

    @property
    def text(self) -> str:
        """The user's text."""
        return self.message.text or ""

    @property
    def available_flow_ids(self) -> set[str]:
        """Ids of ``available_flows``, the set StartFlow/Clarify ids are checked against."""
        return {flow.id for flow in self.available_flows}


@dataclass
class CommandPrediction:
    """A command source's answer; prompt and raw commands are stored in ``parse_data`` when given."""

    commands: list[Command]
    llm_prompt: str | None = None
    llm_commands: list[dict[str, Any]] | None = None
    llm_answer: str | None = None
    """The LLM's answer when it gave no command (an unparseable answer), for the failure report."""


class CommandSource(Protocol):
    """Turns a user message into commands (an LLM command generator, a script, an oracle)."""

    def predict(self, request: CommandRequest) -> CommandPrediction:
        """The commands for ``request.message``."""
        ...


@dataclass
class ActionResult:
    """What a custom action returned, in rasa-sdk form: event dicts and response dicts."""

    events: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)


class ActionRunner(Protocol):
    """Runs custom actions (HTTP action server, in-process module, E2E stubs)."""

    def run(self, action_name: str, tracker: Tracker, project: Project) -> ActionResult:
        """Run one action; raise :class:`ActionError` when it cannot run."""
        ...


class Responder(Protocol):
    """Answers ``search`` (EnterpriseSearchPolicy) and ``chitchat`` (IntentlessPolicy) frames."""

    def respond(self, kind: str, tracker: Tracker, project: Project) -> ActionResult:
        """``kind`` is ``"search"`` or ``"chitchat"``; return the answer as responses (and events)."""
        ...


class NoCustomActions:
    """An action runner for projects without custom actions: every call fails with ActionError."""

    def run(self, action_name: str, tracker: Tracker, project: Project) -> ActionResult:
        """Always raises :class:`ActionError`."""
        raise ActionError(action_name, "no action runner is configured for custom actions")


class FallbackResponder:
    """The default responder: utter the pattern's fallback response instead of an LLM answer.

    ``search`` → ``utter_no_knowledge_base``; ``chitchat`` → ``utter_free_chitchat_response``.
    """

    responses = {"search": "utter_no_knowledge_base", "chitchat": "utter_free_chitchat_response"}

    def respond(self, kind: str, tracker: Tracker, project: Project) -> ActionResult:
        """A single response naming the fallback response for ``kind``."""
        name = self.responses.get(kind)
        return ActionResult(responses=[{"response": name}] if name else [])
