"""The agent: handles user messages end to end (commands → command processor → flow executor → actions).

``CommandSource``, ``ActionRunner`` and friends are defined in :mod:`pytest_cmdgen.runtime.interfaces` and
re-exported here, the module other packages import them from.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import zlib
from typing import Any

from pytest_cmdgen.runtime.command_processor import (
    CommandInvariantError,
    corrected_slot_validate_frames,
    execute_commands,
)
from pytest_cmdgen.runtime.commands import Command, Error
from pytest_cmdgen.runtime.context import RuntimeContext
from pytest_cmdgen.runtime.default_actions import DEFAULT_ACTIONS, utter
from pytest_cmdgen.runtime.errors import ActionError, CommandSourceError
from pytest_cmdgen.runtime.events import (
    ActionExecuted,
    DialogueStackUpdated,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
    event_from_dict,
)
from pytest_cmdgen.runtime.executor import ACTION_LISTEN, FlowExecutor, Prediction
from pytest_cmdgen.runtime.interfaces import (
    ActionResult,
    ActionRunner,
    CommandPrediction,
    CommandRequest,
    CommandSource,
    FallbackResponder,
    NoCustomActions,
    Responder,
)
from pytest_cmdgen.runtime.nlg import Rephraser, ResponseGenerator
from pytest_cmdgen.runtime.payloads import parse_intent_trigger, parse_set_slots, strip_slash, unpack_intent
from pytest_cmdgen.runtime.postprocess import available_flows, post_process
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.runtime.stack import CHITCHAT_FRAME, Frame
from pytest_cmdgen.runtime.tracker import Tracker

__all__ = [
    "ActionError",
    "ActionResult",
    "ActionRunner",
    "Agent",
    "CommandPrediction",
    "CommandRequest",
    "CommandSource",
    "Conversation",
    "FallbackResponder",
    "Responder",
]

log = logging.getLogger(__name__)

MAX_PREDICTIONS = 1000
CORRECTION_FACTOR = 5
ERROR_EMPTY = "rasa_internal_error_user_input_empty"
ERROR_TOO_LONG = "rasa_internal_error_user_input_too_long"
ERROR_DEFAULT = "rasa_internal_error_default"
DELEGATE_POLICIES = {"search": "EnterpriseSearchPolicy", CHITCHAT_FRAME: "IntentlessPolicy"}


class Agent:
    """An assistant ready to hold conversations: a project plus its command source and action runner."""

    def __init__(
        self,
        project: Project,
        command_source: CommandSource,
        action_runner: ActionRunner | None = None,
        seed: int = 0,
        responder: Responder | None = None,
        channel: str | None = None,
        rephraser: Rephraser | None = None,
    ) -> None:
        self.project = project
        self.command_source = command_source
        self.action_runner = action_runner or NoCustomActions()
        self.responder = responder or FallbackResponder()
        self.seed = seed
        self.channel = channel
        self.nlg = ResponseGenerator(project.domain, rephraser=rephraser)  # ``nlg: {type: rephrase}`` if given

    def start_conversation(
        self, sender_id: str, fixture_slots: list[tuple[str, Any]] | None = None, variation_key: str | None = None
    ) -> Conversation:
        """A new conversation: session start (turn -1), then the fixture slots as raw SlotSet events.

        Response variations are drawn from a generator seeded with the agent's seed and ``variation_key``
        (default: the sender id); pass a stable key (the test case's name) when the sender id carries a
        timestamp, so that reruns say, and prompt, the same.
        """
        tracker = Tracker(sender_id, self.project.domain)
        rng = random.Random(zlib.crc32(f"{self.seed}:{variation_key or sender_id}".encode()))
        nlg = self.nlg.bind(tracker)
        ctx = RuntimeContext(self.project, tracker, nlg, rng, self.action_runner, self.responder, self.channel)
        conversation = Conversation(self, ctx)
        conversation.start_session()
        for name, value in fixture_slots or []:
            tracker.update(SlotSet(key=name, value=value))
        return conversation


class Conversation:
    """One conversation with an :class:`Agent`; :meth:`handle_message` returns each turn's new events."""

    def __init__(self, agent: Agent, ctx: RuntimeContext) -> None:
        self.agent = agent
        self.ctx = ctx
        self.project = agent.project
        self.executor = FlowExecutor(ctx)

    @property
    def tracker(self) -> Tracker:
        """The conversation's tracker."""
        return self.ctx.tracker

    # --- session start ----------------------------------------------------------------------------

    def start_session(self) -> list[Event]:
        """Run ``action_session_start`` (custom if the domain lists it) as Rasa does for a new tracker."""
        start = len(self.tracker.events)
        name = "action_session_start"
        if name in self.project.domain.actions:
            events = self._custom_action(name)
            self.tracker.update(ActionExecuted(action_name=name))
            self.tracker.update_with_events(events)
        else:
            self.tracker.update(ActionExecuted(action_name=name))
            self.tracker.update_with_events([SessionStarted(), ActionExecuted(action_name=ACTION_LISTEN)])
        return self.tracker.events[start:]

    # --- one user message -------------------------------------------------------------------------

    def handle_message(self, text: str, metadata: dict[str, Any] | None = None) -> list[Event]:
        """Handle one user message; returns the events it added to the tracker."""
        tracker = self.tracker
        start = len(tracker.events)
        message = UserUttered(
            text=text,
            metadata=dict(metadata or {}),
            message_id=f"{self.ctx.rng.getrandbits(128):032x}",
        )
        commands, prediction, intent = self._commands_for(message)
        parse_data: dict[str, Any] = {
            "text": text,
            "intent": {"name": intent[0], "confidence": intent[1]} if intent else {},
            "entities": [],
            "commands": [c.as_dict() for c in commands],
        }
        if prediction is not None and prediction.llm_prompt is not None:
            parse_data["llm_prompt"] = prediction.llm_prompt
        if prediction is not None and prediction.llm_commands is not None:
            parse_data["llm_commands"] = prediction.llm_commands
        if prediction is not None and prediction.llm_answer is not None:
            parse_data["llm_answer"] = prediction.llm_answer
        message.parse_data = parse_data
        tracker.update(message)
        try:
            tracker.update_with_events(execute_commands(self.ctx, commands))
        except CommandInvariantError as exc:
            log.warning("commands of message %r not executed: %s", text, exc)
            return tracker.events[start:]
        self._predict_and_run()
        return tracker.events[start:]

    def _commands_for(
        self, message: UserUttered
    ) -> tuple[list[Command], CommandPrediction | None, tuple[str, float] | None]:
        text = message.text or ""
        payload = parse_set_slots(text, self.project)
        if payload is not None:
            return payload, None, None
        triggered = parse_intent_trigger(text, self.project)
        if triggered is not None:
            return triggered, None, unpack_intent(text, self.project)
        if text.lstrip().startswith("/"):
            text = strip_slash(text)
            message = UserUttered(text=text, metadata=message.metadata, message_id=message.message_id)
        if not text.strip():
            return [Error(error_type=ERROR_EMPTY)], None, None
        generator = self.project.config.generator
        max_characters = generator.max_characters if generator else None
        if max_characters is not None and len(text) > max_characters:
            return [Error(error_type=ERROR_TOO_LONG, info=(("max_characters", max_characters),))], None, None
        available, startable = available_flows(self.tracker, self.project)
        request = CommandRequest(
            message=message,
            tracker=self.tracker,
            project=self.project,
            available_flows=available,
            startable_flows=startable,
            profile=self.project.profile,
        )
        try:
            prediction = self.agent.command_source.predict(request)
        except (ActionError, CommandSourceError):
            raise
        except Exception as exc:  # noqa: BLE001 - any source failure is Rasa's LLM-error path
            log.warning("command source failed: %s", exc)
            return [Error(error_type=ERROR_DEFAULT)], None, None
        commands = post_process(list(prediction.commands), self.tracker, self.project, startable)
        return commands, prediction, None

    # --- the prediction loop ----------------------------------------------------------------------

    def _predict_and_run(self) -> None:
        limit = MAX_PREDICTIONS
        validate_after_next: list[Frame] = []
        for count in range(MAX_PREDICTIONS * CORRECTION_FACTOR):
            if count >= limit:
                log.warning("prediction limit reached")
                break
            prediction = self.executor.predict()
            if prediction.delegate is not None:
                self._run_delegate(prediction.delegate)
                self._push_validate_frames(validate_after_next, [])
                validate_after_next = []
                continue
            name = prediction.action or ACTION_LISTEN
            if name == ACTION_LISTEN:
                self._push_validate_frames(validate_after_next, [])
                self.tracker.update(self._executed(name, prediction))
                return
            events = self.run_action(name)
            events = self._push_validate_frames(validate_after_next, events)
            validate_after_next = []
            self.tracker.update(self._executed(name, prediction))
            self.tracker.update_with_events(events)
            if name == "action_correct_flow_slot":
                limit = MAX_PREDICTIONS * CORRECTION_FACTOR
                if self.project.profile.slot_validation:
                    validate_after_next = corrected_slot_validate_frames(self.ctx)

    def _push_validate_frames(self, frames: list[Frame], events: list[Event]) -> list[Event]:
        """3.12+ ``MessageProcessor._run_action`` after ``action_correct_flow_slot``: the corrected slots'
        validate frames go on top of the stack once the next action has run (it ran without them), before
        its events are logged; its stack changes then apply to the stack with the frames, as Rasa's JSON
        patch does. Returns ``events`` ready to apply."""
        if not frames:
            return events
        self.tracker.update_stack([*self.tracker.copy_stack(), *frames])
        return [_as_patch(e) for e in events]

    @staticmethod
    def _executed(name: str, prediction: Prediction) -> ActionExecuted:
        return ActionExecuted(
            action_name=name, policy=prediction.policy, confidence=1.0, metadata=dict(prediction.metadata)
        )

    def run_action(self, name: str) -> list[Event]:
        """The events of running one action (custom actions through the action runner)."""
        domain = self.project.domain
        if name in domain.actions:
            return self._custom_action(name)
        if name in domain.responses:
            return utter(self.ctx, name)
        action = DEFAULT_ACTIONS.get(name)
        return action(self.ctx) if action else []

    def _custom_action(self, name: str) -> list[Event]:
        result = self.agent.action_runner.run(name, self.tracker, self.project)
        return self.result_events(result)

    def result_events(self, result: ActionResult, utter_source: str | None = None) -> list[Event]:
        """Bot messages first, then the returned events, as Rasa applies an action server's answer.

        A message naming a ``response`` is that response filled in (the message's keys fill its variables),
        with the message's ``buttons`` appended to the template's and its other non-empty keys (``text``,
        ``image``, ``custom``, ``attachment``, ``elements``, …) merged in, as ``RemoteAction._utter_responses``
        does: where both have a value, the message's wins, or the template's in 3.12.26 – 3.12.42, 3.13.3 –
        3.13.10 and 3.14+ (:attr:`~pytest_cmdgen.versions.VersionProfile.action_response_template_wins`).
        """
        events: list[Event] = []
        context = self.tracker.context()
        extra = {"utter_source": utter_source} if utter_source else {}
        template_wins = self.project.profile.action_response_template_wins
        for response in result.responses:
            name = response.get("response") or response.get("template")
            message = dict(response)
            if name:
                kwargs = {k: v for k, v in response.items() if k not in ("response", "template")}
                generated = self.ctx.nlg.generate(
                    name, self.tracker.slots, context, self.ctx.rng, kwargs=kwargs, channel=self.ctx.channel
                )
                if generated is None:
                    continue
                given = {k: v for k, v in response.items() if v and k not in ("response", "buttons")}
                buttons = [*(generated.get("buttons") or []), *(response.get("buttons") or [])]
                if buttons:
                    generated["buttons"] = buttons
                message = {**given, **generated} if template_wins else {**generated, **given}
            if message.get("json_message") and not message.get("custom"):
                message["custom"] = message.pop("json_message")
            events.append(self.ctx.nlg.bot_event(message, name, extra))
        events.extend(event_from_dict(dict(e)) for e in result.events)
        return events

    def _run_delegate(self, kind: str) -> None:
        tracker = self.tracker
        result = self.agent.responder.respond(kind, tracker, self.project)
        frames = tracker.copy_stack()
        if frames and frames[-1].type == kind:
            frames.pop()
        tracker.update_stack(frames)
        policy = DELEGATE_POLICIES.get(kind, "FlowPolicy")
        events = self.result_events(result, utter_source=policy)
        tracker.update(ActionExecuted(action_name="action_send_text", policy=policy, confidence=1.0))
        tracker.update_with_events(events)


def _as_patch(event: Event) -> Event:
    """A stack update applied by its JSON patch rather than as the whole stack it was computed on."""
    if isinstance(event, DialogueStackUpdated) and hasattr(event, "_frames"):
        return dataclasses.replace(event)  # a copy without the frames the event was computed on
    return event
