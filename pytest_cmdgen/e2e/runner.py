"""Running one E2E test case against the assistant runtime, like ``rasa test e2e`` (reference §11.2).

:func:`run_test_case` starts a conversation (sender ``<name>_<timestamp>``, the test's fixtures applied as
raw ``SlotSet`` events after the session start, i.e. in turn ``-1``), sends every user step with its
merged metadata, records each turn's new tracker events, and judges the result (:mod:`.judge`). The
:class:`TestRun` it returns carries everything later stages need: the per-step turns (with the
``UserUttered`` ``parse_data`` that holds ``llm_prompt`` / ``llm_commands`` for annotation, §4.2), all
tracker events and the verdict.

The runtime is used only through its agreed interface (``Agent.start_conversation``,
``Conversation.handle_message``, ``Conversation.tracker.events``), so this module imports nothing from
the runtime engine at import time.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pytest_cmdgen.actions import DEFAULT_TIMEOUT, ChoosingActionRunner, StubActionRunner
from pytest_cmdgen.e2e import model as m
from pytest_cmdgen.e2e.judge import JudgeResult, StepFailure, Turn, judge
from pytest_cmdgen.e2e.placeholders import placeholder_reason
from pytest_cmdgen.e2e.transcript import render_turns
from pytest_cmdgen.llm.priority import call_priority, turn_priority
from pytest_cmdgen.runtime.agent import Agent
from pytest_cmdgen.runtime.errors import ActionError, CommandSourceError
from pytest_cmdgen.runtime.events import Event, UserUttered

logger = logging.getLogger(__name__)


#: A callable giving "now" (for deterministic sender ids in tests).
datetime_factory = Callable[[], _dt.datetime]


class ConversationLike(Protocol):
    """What the runner needs from the runtime's ``Conversation``."""

    tracker: Any

    def handle_message(self, text: str, metadata: dict[str, Any] | None = None) -> list[Event]:
        """Handle one user message; returns the new events."""
        ...


class AgentLike(Protocol):
    """What the runner needs from the runtime's ``Agent``."""

    def start_conversation(
        self, sender_id: str, fixture_slots: Sequence[tuple[str, Any]] = (), variation_key: str | None = None
    ) -> Any:
        """Start a conversation (session start + fixture slots)."""
        ...


@dataclass
class TestRun:
    """The outcome of running one test case.

    ``turns`` maps ``-1`` (session start) and the index of every *sent* user step to its :class:`Turn`;
    ``events`` is the whole tracker; ``result`` is the judge's verdict (or the run error); ``warnings``
    lists what Rasa would log as warnings (skipped empty user steps, metadata overlaps, handling errors).
    """

    __test__ = False

    test_case: m.TestCase
    sender_id: str
    turns: dict[int, Turn] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    result: JudgeResult = field(default_factory=lambda: JudgeResult(outcome="passed"))
    warnings: list[str] = field(default_factory=list)
    step_metadata: dict[int, dict[str, Any]] = field(default_factory=dict)
    error: Exception | None = None
    tracker: Any = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        """True if the test passed."""
        return self.result.passed

    def user_turns(self) -> list[tuple[int, m.UserStep, Turn]]:
        """``(step index, user step, turn)`` for every user step that was sent, in order."""
        out: list[tuple[int, m.UserStep, Turn]] = []
        for index, step in enumerate(self.test_case.steps):
            if isinstance(step, m.UserStep) and index in self.turns:
                out.append((index, step, self.turns[index]))
        return out

    def transcript(self) -> list[str]:
        """A plain transcript of what happened, turn by turn."""
        return render_turns([self.turns[k] for k in sorted(self.turns)])


def user_uttered_of(turn: Turn) -> UserUttered | None:
    """The turn's single ``UserUttered`` event, or None if there is not exactly one."""
    users = turn.user_messages
    return users[0] if len(users) == 1 else None


def parse_data_of(turn: Turn) -> dict[str, Any] | None:
    """The ``parse_data`` of the turn's single user message (``llm_prompt``, ``llm_commands``, ...), or None."""
    event = user_uttered_of(turn)
    return dict(event.parse_data) if event is not None else None


def make_sender_id(test_case: m.TestCase, now: datetime_factory | None = None) -> str:
    """``<test case name>_<datetime.now()>`` (the fine-tuning run's form, spaces kept)."""
    moment = (now or _dt.datetime.now)()
    return f"{test_case.name}_{moment}"


def merged_metadata(
    suite: m.TestSuiteFile, test_case: m.TestCase, step: m.UserStep
) -> tuple[dict[str, Any], list[str]]:
    """Test-case metadata merged with the step's (the step wins) and warnings for overlapping keys.

    A metadata name that the file does not define gives a warning and contributes ``{}``.
    """
    warnings: list[str] = []
    merged: dict[str, Any] = {}
    for name in (test_case.metadata_name, step.metadata_name):
        if not name:
            continue
        entry = suite.metadata.get(name)
        if entry is None:
            warnings.append(f"metadata {name!r} is not defined in {suite.path}; using {{}}")
            continue
        overlap = sorted(set(merged) & set(entry.data))
        if overlap:
            warnings.append(
                f"step metadata {name!r} overrides test-case metadata keys {overlap} "
                f"(test case {test_case.name!r}, line {step.line})"
            )
        merged.update(entry.data)
    return merged, warnings


def fixture_slots(suite: m.TestSuiteFile, test_case: m.TestCase) -> list[tuple[str, Any]]:
    """The ``(slot, value)`` pairs of the fixtures the test case names, in order."""
    return [pair for fixture in suite.fixtures_of(test_case) for pair in fixture.slots]


def _tracker_events(conversation: Any) -> list[Event]:
    return list(conversation.tracker.events)


def _action_failure(test_case: m.TestCase, line: int, index: int, exc: ActionError) -> JudgeResult:
    return JudgeResult(
        outcome="failed",
        failures=[
            StepFailure(
                line=line,
                step_index=index,
                expected="the custom action to run",
                actual=exc.reason,
                message=f"custom action {exc.action_name!r} failed",
            )
        ],
    )


def run_test_case(
    test_case: m.TestCase,
    suite: m.TestSuiteFile,
    agent: AgentLike,
    *,
    sender_id: str | None = None,
    now: datetime_factory | None = None,
) -> TestRun:
    """Run ``test_case`` (from ``suite``) against ``agent`` and judge it (reference §11.2 – §11.4).

    An :class:`~pytest_cmdgen.runtime.errors.ActionError` stops the run and fails the test with a message
    naming the action (and, for an action server, its URL). Other exceptions while handling a message are
    logged, recorded in ``warnings`` and the run continues, as in Rasa. A test case with placeholder user
    turns (:mod:`.placeholders`) is not run: it is skipped, naming them.
    """
    sender = sender_id or make_sender_id(test_case, now)
    run = TestRun(test_case=test_case, sender_id=sender)
    placeholder = placeholder_reason(test_case)
    if placeholder is not None:  # a skeleton from the coverage report, not completed yet: never run it
        run.result = JudgeResult(outcome="skipped", reason=placeholder)
        return run
    try:
        conversation = agent.start_conversation(
            sender, fixture_slots=fixture_slots(suite, test_case), variation_key=test_case.name
        )
    except ActionError as exc:
        run.error = exc
        run.result = _action_failure(test_case, test_case.line, -1, exc)
        return run
    run.tracker = conversation.tracker
    run.events = _tracker_events(conversation)
    run.turns[-1] = Turn(index=-1, user_text=None, events=list(run.events))
    cursor = len(run.events)
    turns_left = sum(1 for step in test_case.steps if isinstance(step, m.UserStep) and step.text)
    for index, step in enumerate(test_case.steps):
        if not isinstance(step, m.UserStep):
            continue
        if not step.text:
            warning = f"user step at line {step.line} of {test_case.name!r} has no text; skipped"
            logger.warning(warning)
            run.warnings.append(warning)
            continue
        metadata, warnings = merged_metadata(suite, test_case, step)
        for warning in warnings:
            logger.warning(warning)
        run.warnings.extend(warnings)
        run.step_metadata[index] = metadata
        try:
            # this turn's LLM calls queue ahead of those of conversations with fewer turns to go
            with call_priority(turn_priority(turns_left)):
                conversation.handle_message(step.text, metadata or None)
        except ActionError as exc:
            run.error = exc
            run.events = _tracker_events(conversation)
            run.turns[index] = Turn(index=index, user_text=step.text, events=run.events[cursor:])
            run.result = _action_failure(test_case, step.line, index, exc)
            return run
        except CommandSourceError:
            raise
        except Exception as exc:  # Rasa logs and goes on
            warning = f"handling {step.text!r} (line {step.line}) raised {type(exc).__name__}: {exc}"
            logger.exception(warning)
            run.warnings.append(warning)
        turns_left -= 1
        run.events = _tracker_events(conversation)
        new = run.events[cursor:]
        cursor = len(run.events)
        run.turns[index] = Turn(index=index, user_text=step.text, events=new, no_events=not new)
    run.result = judge(test_case, run.turns, run.events, run.step_metadata)
    return run


def build_agent(
    project: Any,
    command_source: Any,
    *,
    suite: m.TestSuiteFile | None = None,
    test_case: m.TestCase | None = None,
    action_url: str | None = None,
    action_timeout: float | None = None,
    seed: int = 0,
) -> Any:
    """An ``Agent`` for one test case: its stubs first, then the action server (``action_url`` or the
    project's ``action_endpoint``), then the project's ``actions_module``."""
    stubs = StubActionRunner.for_test_case(suite.stub_custom_actions, test_case.name) if suite and test_case else None
    runner = ChoosingActionRunner.for_project(
        project, stubs=stubs, url=action_url, timeout=action_timeout or DEFAULT_TIMEOUT
    )
    return Agent(project, command_source, runner, seed=seed)


__all__ = [
    "AgentLike",
    "ConversationLike",
    "TestRun",
    "build_agent",
    "fixture_slots",
    "make_sender_id",
    "merged_metadata",
    "parse_data_of",
    "run_test_case",
    "user_uttered_of",
]
