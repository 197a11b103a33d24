"""Judging a finished E2E conversation the way ``rasa test e2e`` does (reference §11.3, §11.4).

Everything here is a pure function over the test model (:mod:`pytest_cmdgen.e2e.model`) and tracker
events (:mod:`pytest_cmdgen.runtime.events`): the runner records what happened, the judge says whether it
matches what the test expected.

* **Step format** (§11.3): every non-user step is matched against the *latest user turn* (turn ``-1`` =
  the session-start events before the first user message). Matching is order-insensitive and
  non-consuming; extra bot messages are allowed.
* **Assertion format** (§11.4): each user step with ``assertions`` is matched against the slice of *all*
  tracker events that starts at the first ``UserUttered`` with the step's text (and metadata) and ends
  before the next ``UserUttered``; the first step also searches the prior (session start) events for
  action, slot and bot assertions.
* ``generative_response_is_*`` assertions need an LLM judge: a test using them that does not fail
  otherwise is reported as *skipped*.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_cmdgen.e2e import model as m
from pytest_cmdgen.e2e.transcript import assertion_transcript, step_format_transcript
from pytest_cmdgen.e2e.turns import NO_BOT_RESPONSE, Turn, describe_step, slot_type_repr
from pytest_cmdgen.runtime.events import (
    ActionExecuted,
    BotUttered,
    Event,
    FlowCancelled,
    FlowCompleted,
    FlowStarted,
    SlotSet,
    UserUttered,
)

Outcome = Literal["passed", "failed", "skipped"]

#: The reason given when a test can only be judged with an LLM judge.
GENERATIVE_SKIP_REASON = (
    "needs an LLM judge: {kinds} assertion(s) are not evaluated by pytest-cmdgen "
    "(all other assertions of the test passed)"
)


# --- results -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepFailure:
    """One failed step (step format) or assertion (assertion format).

    ``line`` is the 1-based YAML line of the failing step or assertion, ``step_index`` the index of the
    step in ``TestCase.steps``; ``expected`` and ``actual`` are one-line human-readable descriptions.
    """

    line: int
    step_index: int
    expected: str
    actual: str
    message: str = ""

    def describe(self) -> str:
        """A short multi-line description of the failure."""
        lines = [f"line {self.line}: expected {self.expected}", f"  actual: {self.actual}"]
        if self.message:
            lines.insert(0, self.message)
        return "\n".join(lines)


@dataclass
class JudgeResult:
    """The verdict on one test case.

    ``failures`` lists the failures in step order (assertion format: only the first, as Rasa stops there);
    ``transcript`` is an expected-versus-actual transcript (``difflib.ndiff`` lines for the step format,
    event lines for the assertion format) up to the last failure; ``reason`` explains a skip.
    """

    outcome: Outcome
    failures: list[StepFailure] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    reason: str | None = None

    @property
    def passed(self) -> bool:
        """True if the test passed."""
        return self.outcome == "passed"

    @property
    def failed(self) -> bool:
        """True if the test failed."""
        return self.outcome == "failed"

    @property
    def skipped(self) -> bool:
        """True if the test could not be judged (``reason`` says why)."""
        return self.outcome == "skipped"

    @property
    def first_failure(self) -> StepFailure | None:
        """The first failing step, or None."""
        return self.failures[0] if self.failures else None

    @property
    def error_line(self) -> int | None:
        """The YAML line of the first failing step, or None."""
        return self.failures[0].line if self.failures else None

    def describe(self) -> str:
        """A human-readable report: the first failure, then the transcript."""
        if self.passed:
            return "passed"
        if self.skipped:
            return f"skipped: {self.reason}"
        parts: list[str] = []
        first = self.first_failure
        if first is not None:
            parts.append(first.describe())
        if self.reason:
            parts.append(self.reason)
        if self.transcript:
            parts.append("")
            parts.append("transcript (- expected, + actual):" if self._is_diff() else "transcript:")
            parts.extend(self.transcript)
        return "\n".join(parts)

    def _is_diff(self) -> bool:
        return any(line[:2] in ("- ", "+ ", "  ", "? ") for line in self.transcript)


def failed_result(line: int, step_index: int, expected: str, actual: str, message: str = "") -> JudgeResult:
    """A failed result with a single failure and no transcript (used for run errors)."""
    return JudgeResult(outcome="failed", failures=[StepFailure(line, step_index, expected, actual, message)])


# --- step format (§11.3) -----------------------------------------------------------------------------


def step_matches(step: m.Step, turn: Turn) -> bool:
    """Whether a non-user step matches a turn (order-insensitive, non-consuming)."""
    if isinstance(step, m.BotStep):
        return any(text == step.text for text in turn.bot_texts)
    if isinstance(step, m.UtterStep):
        return any(b.utter_action == step.name for b in turn.bot_messages)
    if isinstance(step, m.SlotWasSetStep):
        return _slot_matches(step.name, step.value, step.has_value, turn)
    if isinstance(step, m.SlotWasNotSetStep):
        return not _slot_matches(step.name, step.value, step.has_value, turn)
    return True


def _slot_matches(name: str, value: Any, has_value: bool, turn: Turn) -> bool:
    for event in turn.slots_set:
        if event.key != name:
            continue
        if not has_value or _python_equal(event.value, value):
            return True
    return False


def _python_equal(actual: Any, expected: Any) -> bool:
    try:
        return bool(actual == expected)
    except Exception:  # pragma: no cover - exotic values
        return False


def judge_step_format(test_case: m.TestCase, turns: Mapping[int, Turn]) -> JudgeResult:
    """Judge a step-format test case (§11.3) from its turns (key ``-1`` = session start, else step index)."""
    latest = turns.get(-1) or Turn(index=-1, user_text=None)
    failures: list[StepFailure] = []
    step_turns: list[Turn] = []
    for index, step in enumerate(test_case.steps):
        if isinstance(step, m.UserStep):
            if index in turns:
                latest = turns[index]
            step_turns.append(latest)
            continue
        step_turns.append(latest)
        if not step_matches(step, latest):
            failures.append(
                StepFailure(
                    line=step.line,
                    step_index=index,
                    expected=describe_step(step),
                    actual=describe_turn_for(step, latest),
                )
            )
    if not failures:
        return JudgeResult(outcome="passed")
    transcript = step_format_transcript(test_case.steps, step_turns, {f.step_index for f in failures})
    return JudgeResult(outcome="failed", failures=failures, transcript=transcript)


def describe_turn_for(step: m.Step, turn: Turn) -> str:
    """What the turn actually held, in the vocabulary of ``step`` (one line)."""
    if isinstance(step, m.BotStep):
        texts = turn.bot_texts
        return "; ".join(f"bot: {t}" for t in texts) if texts else NO_BOT_RESPONSE
    if isinstance(step, m.UtterStep):
        bots = turn.bot_messages
        if not bots:
            return NO_BOT_RESPONSE
        return "; ".join(f"utter: {b.utter_action}" if b.utter_action else f"bot: {b.text}" for b in bots)
    if isinstance(step, (m.SlotWasSetStep, m.SlotWasNotSetStep)):
        slots = [s for s in turn.slots_set if s.key == step.name] or turn.slots_set
        if not slots:
            return "* No Slot Set *"
        return "; ".join(f"slot_was_set: {s.key}: {slot_type_repr(s.value)}" for s in slots)
    return ""


# --- assertion format (§11.4) ------------------------------------------------------------------------


@dataclass(frozen=True)
class AssertionOutcome:
    """The result of one assertion: ``failure`` (None when it passed) and the matched event, if any."""

    failure: str | None
    matched: Event | None = None
    actual: str = ""


_PRIOR_KINDS = (
    m.ActionExecutedAssertion,
    m.SlotWasSetAssertion,
    m.SlotWasNotSetAssertion,
    m.BotUtteredAssertion,
)


def split_turn(
    events: Sequence[Event], text: str, metadata: Mapping[str, Any] | None = None
) -> tuple[list[Event], list[Event]] | None:
    """Split all tracker events at the first ``UserUttered`` with ``text`` (and ``metadata``).

    Returns ``(prior events, turn events)``: the turn runs from that event (included) up to the next
    ``UserUttered`` (excluded), so a repeated identical text is always judged at its first occurrence.
    None if no such user message exists. With ``metadata`` every given key must equal the event's.
    """
    start = None
    for i, event in enumerate(events):
        if isinstance(event, UserUttered) and event.text == text and _metadata_matches(event, metadata):
            start = i
            break
    if start is None:
        return None
    end = len(events)
    for j in range(start + 1, len(events)):
        if isinstance(events[j], UserUttered):
            end = j
            break
    return list(events[:start]), list(events[start:end])


def _metadata_matches(event: UserUttered, metadata: Mapping[str, Any] | None) -> bool:
    if not metadata:
        return True
    return all(k in event.metadata and event.metadata[k] == v for k, v in metadata.items())


def judge_assertions(
    test_case: m.TestCase,
    events: Sequence[Event],
    step_metadata: Mapping[int, Mapping[str, Any]] | None = None,
) -> JudgeResult:
    """Judge an assertion-format test case (§11.4) over all tracker events.

    ``step_metadata`` maps a step index to the merged metadata of that step; it is used for turn
    splitting only when the step names metadata (``metadata:``).
    """
    step_metadata = step_metadata or {}
    generative: list[str] = []
    judged_steps: list[int] = []
    for index, step in enumerate(test_case.steps):
        if not isinstance(step, m.UserStep) or not step.assertions:
            continue
        judged_steps.append(index)
        metadata = step_metadata.get(index) if step.metadata_name else None
        split = split_turn(events, step.text, metadata)
        if split is None:
            failure = StepFailure(
                line=step.line,
                step_index=index,
                expected=f"user message {step.text!r}",
                actual="no such user message in the conversation",
                message="the user message of this step was not found in the tracker",
            )
            return _assertion_failure(test_case, events, judged_steps, failure)
        prior, turn = split
        if index != 0:
            prior = []
        for assertion in step.assertions:
            if isinstance(assertion, m.GenerativeResponseAssertion):
                generative.append(assertion.kind)
                continue
            search_prior = prior if isinstance(assertion, _PRIOR_KINDS) else []
            outcome = run_assertion(assertion, turn, search_prior)
            if outcome.failure is not None:
                failure = StepFailure(
                    line=assertion.line,
                    step_index=index,
                    expected=describe_assertion(assertion),
                    actual=outcome.actual,
                    message=outcome.failure,
                )
                return _assertion_failure(test_case, events, judged_steps, failure)
            if step.assertion_order_enabled and outcome.matched is not None:
                turn, prior = _slice_after(outcome.matched, turn, prior)
    if generative:
        kinds = ", ".join(sorted(set(generative)))
        return JudgeResult(outcome="skipped", reason=GENERATIVE_SKIP_REASON.format(kinds=kinds))
    return JudgeResult(outcome="passed")


def _assertion_failure(
    test_case: m.TestCase, events: Sequence[Event], judged_steps: list[int], failure: StepFailure
) -> JudgeResult:
    transcript = assertion_transcript(test_case, events, failure.step_index, failure.expected)
    return JudgeResult(outcome="failed", failures=[failure], transcript=transcript)


def _slice_after(matched: Event, turn: list[Event], prior: list[Event]) -> tuple[list[Event], list[Event]]:
    """Cut the search space after the matched event (only if it is not the last event there)."""
    for i, event in enumerate(turn):
        if event is matched:
            if i + 1 < len(turn):
                return turn[i + 1 :], []
            return turn, prior
    for i, event in enumerate(prior):
        if event is matched and i + 1 < len(prior):
            return turn, prior[i + 1 :]
    return turn, prior


def run_assertion(assertion: m.Assertion, turn: Sequence[Event], prior: Sequence[Event] = ()) -> AssertionOutcome:
    """Run one (non-generative) assertion over the turn events (and ``prior`` events, where allowed)."""
    if isinstance(assertion, m.FlowStartedAssertion):
        return _flow_started(assertion, turn)
    if isinstance(assertion, (m.FlowCompletedAssertion, m.FlowCancelledAssertion)):
        return _flow_ended(assertion, turn)
    if isinstance(assertion, m.PatternClarificationContainsAssertion):
        return _clarification(assertion, turn)
    search = [*prior, *turn]
    if isinstance(assertion, m.ActionExecutedAssertion):
        return _action_executed(assertion, search)
    if isinstance(assertion, m.SlotWasSetAssertion):
        return _slot_was_set(assertion, search)
    if isinstance(assertion, m.SlotWasNotSetAssertion):
        return _slot_was_not_set(assertion, search)
    if isinstance(assertion, m.BotUtteredAssertion):
        return _bot_uttered(assertion, search)
    if isinstance(assertion, m.BotDidNotUtterAssertion):
        return _bot_did_not_utter(assertion, search)
    raise TypeError(f"unsupported assertion {assertion!r}")


def _flow_started(a: m.FlowStartedAssertion, turn: Sequence[Event]) -> AssertionOutcome:
    started = [e for e in turn if isinstance(e, FlowStarted)]
    hits = [e for e in started if e.flow_id in a.flow_ids]
    wanted = set(a.flow_ids)
    ok = wanted.issubset({e.flow_id for e in hits}) if a.operator == "all" else bool(hits)
    if ok and hits:
        return AssertionOutcome(None, hits[-1] if a.operator == "all" else hits[0])
    ids = " / ".join(a.flow_ids)
    return AssertionOutcome(
        f"Flow with id '{ids}' did not start.",
        actual=f"flows started: {[e.flow_id for e in started] or 'none'}",
    )


def _flow_ended(a: m.FlowCompletedAssertion | m.FlowCancelledAssertion, turn: Sequence[Event]) -> AssertionOutcome:
    cls = FlowCompleted if isinstance(a, m.FlowCompletedAssertion) else FlowCancelled
    verb = "complete" if cls is FlowCompleted else "cancel"
    matching = [e for e in turn if isinstance(e, cls) and e.flow_id == a.flow_id]
    if not matching:
        others = [e.flow_id for e in turn if isinstance(e, cls)]
        return AssertionOutcome(
            f"Flow with id '{a.flow_id}' did not {verb}.", actual=f"flows {verb}d: {others or 'none'}"
        )
    first = matching[0]
    if a.flow_step_id is not None and first.step_id != a.flow_step_id:
        return AssertionOutcome(
            f"Flow with id '{a.flow_id}' did not {verb} at step '{a.flow_step_id}'.",
            actual=f"{verb}d at step '{first.step_id}'",
        )
    return AssertionOutcome(None, first)


def _clarification(a: m.PatternClarificationContainsAssertion, turn: Sequence[Event]) -> AssertionOutcome:
    seen: list[list[str]] = []
    for event in turn:
        if not (isinstance(event, FlowStarted) and event.flow_id == "pattern_clarification"):
            continue
        if a.operator is None:
            names = list(event.metadata.get("names") or [])
            seen.append(names)
            if set(names) == set(a.flow_names):
                return AssertionOutcome(None, event)
            continue
        ids = list(event.metadata.get("clarification_ids") or [])
        seen.append(ids)
        wanted = set(a.flow_ids)
        if (a.operator == "all" and wanted.issubset(ids)) or (a.operator != "all" and wanted & set(ids)):
            return AssertionOutcome(None, event)
    expected = sorted(a.flow_names) if a.operator is None else f"{a.operator} of {sorted(a.flow_ids)}"
    return AssertionOutcome(
        f"'pattern_clarification' did not offer {expected}.",
        actual=f"clarifications: {seen or 'none'}",
    )


def _action_executed(a: m.ActionExecutedAssertion, events: Sequence[Event]) -> AssertionOutcome:
    for event in events:
        if isinstance(event, ActionExecuted) and event.action_name == a.action_name:
            return AssertionOutcome(None, event)
    ran = [e.action_name for e in events if isinstance(e, ActionExecuted) and e.action_name != "action_listen"]
    return AssertionOutcome(f"Action '{a.action_name}' did not execute.", actual=f"actions: {ran or 'none'}")


def _slot_was_set(a: m.SlotWasSetAssertion, events: Sequence[Event]) -> AssertionOutcome:
    matched: Event | None = None
    for slot in a.slots:
        candidates = [e for e in events if isinstance(e, SlotSet) and e.key == slot.name]
        if not candidates:
            return AssertionOutcome(f"Slot '{slot.name}' was not set.", actual=_slots_line(events))
        if slot.has_value:
            hit = next((e for e in candidates if _python_equal(e.value, slot.value)), None)
            if hit is None:
                values = ", ".join(slot_type_repr(e.value) for e in candidates)
                return AssertionOutcome(
                    f"Slot '{slot.name}' was set to a different value than {slot_type_repr(slot.value)}.",
                    actual=f"{slot.name} set to: {values}",
                )
            matched = hit
        else:
            matched = candidates[0]
    return AssertionOutcome(None, matched)


def _slot_was_not_set(a: m.SlotWasNotSetAssertion, events: Sequence[Event]) -> AssertionOutcome:
    for slot in a.slots:
        candidates = [e for e in events if isinstance(e, SlotSet) and e.key == slot.name]
        if not candidates:
            continue
        last = candidates[-1]
        if slot.has_value:
            if _python_equal(last.value, slot.value):
                return AssertionOutcome(
                    f"Slot '{slot.name}' was set to {slot_type_repr(slot.value)}.",
                    actual=f"{slot.name} set to: {slot_type_repr(last.value)}",
                )
        elif last.value is not None:
            return AssertionOutcome(
                f"Slot '{slot.name}' was set.", actual=f"{slot.name} set to: {slot_type_repr(last.value)}"
            )
    return AssertionOutcome(None)


def _buttons_match(expected: Sequence[m.ButtonExpectation], actual: Any) -> bool:
    if not actual:
        return False
    for exp, act in zip(expected, actual, strict=False):
        if not isinstance(act, Mapping):
            return False
        if exp.title != act.get("title"):
            return False
        if exp.payload != act.get("payload"):
            return False
    return True


def _text_search(pattern: str, text: str | None) -> bool:
    return text is not None and re.search(pattern, text) is not None


def _bot_uttered(a: m.BotUtteredAssertion, events: Sequence[Event]) -> AssertionOutcome:
    bots = [e for e in events if isinstance(e, BotUttered)]
    matched: Event | None = None
    if a.utter_name is not None:
        matched = next((b for b in bots if b.utter_action == a.utter_name), None)
        if matched is None:
            return AssertionOutcome(f"Bot did not utter '{a.utter_name}' response.", actual=_bots_line(bots))
    if a.buttons:
        matched = next((b for b in bots if _buttons_match(a.buttons, b.buttons)), None)
        if matched is None:
            return AssertionOutcome(
                "Bot did not utter any response with the expected buttons.", actual=_buttons_line(bots)
            )
    if a.text_matches is not None:
        matched = next((b for b in bots if _text_search(a.text_matches, b.text)), None)
        if matched is None:
            return AssertionOutcome(
                f"Bot did not utter any response which matches the provided text pattern '{a.text_matches}'.",
                actual=_bots_line(bots),
            )
    return AssertionOutcome(None, matched)


def _bot_did_not_utter(a: m.BotDidNotUtterAssertion, events: Sequence[Event]) -> AssertionOutcome:
    for bot in (e for e in events if isinstance(e, BotUttered)):
        if a.utter_name is not None and bot.utter_action == a.utter_name:
            return AssertionOutcome(f"Bot uttered '{a.utter_name}' response.", actual=_bots_line([bot]))
        if a.text_matches is not None and _text_search(a.text_matches, bot.text):
            return AssertionOutcome(
                f"Bot uttered a response matching the text pattern '{a.text_matches}'.",
                actual=_bots_line([bot]),
            )
        if a.buttons:
            for act in bot.buttons or []:
                if not isinstance(act, Mapping):
                    continue
                if any(exp.title == act.get("title") and exp.payload == act.get("payload") for exp in a.buttons):
                    return AssertionOutcome(
                        "Bot uttered a response with a forbidden button.", actual=_buttons_line([bot])
                    )
    return AssertionOutcome(None)


def _bots_line(bots: Sequence[BotUttered]) -> str:
    if not bots:
        return NO_BOT_RESPONSE
    return "; ".join(f"{b.utter_action or '-'}: {b.text!r}" for b in bots)


def _buttons_line(bots: Sequence[BotUttered]) -> str:
    shown = []
    for b in bots:
        if b.buttons:
            pairs = [(x.get("title"), x.get("payload")) for x in b.buttons if isinstance(x, Mapping)]
            shown.append(f"{b.utter_action or '-'}: {pairs}")
    return "; ".join(shown) if shown else "no bot message with buttons"


def _slots_line(events: Sequence[Event]) -> str:
    slots = [e for e in events if isinstance(e, SlotSet)]
    if not slots:
        return "* No Slot Set *"
    return "slots set: " + ", ".join(f"{s.key}={s.value!r}" for s in slots)


def describe_assertion(a: m.Assertion) -> str:
    """An assertion as one line, e.g. ``flow_started: transfer_money``."""
    if isinstance(a, m.FlowStartedAssertion):
        if a.operator == "any" and len(a.flow_ids) == 1:
            return f"flow_started: {a.flow_ids[0]}"
        return f"flow_started: {a.operator} of {list(a.flow_ids)}"
    if isinstance(a, (m.FlowCompletedAssertion, m.FlowCancelledAssertion)):
        step = f" (step {a.flow_step_id})" if a.flow_step_id else ""
        return f"{a.kind}: {a.flow_id}{step}"
    if isinstance(a, m.PatternClarificationContainsAssertion):
        if a.operator is None:
            return f"pattern_clarification_contains: {list(a.flow_names)}"
        return f"pattern_clarification_contains: {a.operator} of {list(a.flow_ids)}"
    if isinstance(a, m.ActionExecutedAssertion):
        return f"action_executed: {a.action_name}"
    if isinstance(a, (m.SlotWasSetAssertion, m.SlotWasNotSetAssertion)):
        parts = [f"{s.name}={s.value!r}" if s.has_value else s.name for s in a.slots]
        return f"{a.kind}: {', '.join(parts)}"
    if isinstance(a, (m.BotUtteredAssertion, m.BotDidNotUtterAssertion)):
        props: list[str] = []
        if a.utter_name is not None:
            props.append(f"utter_name={a.utter_name}")
        if a.text_matches is not None:
            props.append(f"text_matches={a.text_matches!r}")
        if a.buttons:
            props.append(f"buttons={[(b.title, b.payload) for b in a.buttons]}")
        return f"{a.kind}: {', '.join(props)}"
    if isinstance(a, m.GenerativeResponseAssertion):
        return a.kind
    return repr(a)


# --- entry point -------------------------------------------------------------------------------------


def judge(
    test_case: m.TestCase,
    turns: Mapping[int, Turn],
    events: Sequence[Event],
    step_metadata: Mapping[int, Mapping[str, Any]] | None = None,
) -> JudgeResult:
    """Judge a test case: assertions if any step has them, else the step format."""
    if test_case.uses_assertions:
        return judge_assertions(test_case, events, step_metadata)
    return judge_step_format(test_case, turns)


def session_start_turn(events: Sequence[Event]) -> Turn:
    """Turn ``-1`` built from the events before the first user message."""
    prefix: list[Event] = []
    for event in events:
        if isinstance(event, UserUttered):
            break
        prefix.append(event)
    return Turn(index=-1, user_text=None, events=prefix)


__all__ = [
    "AssertionOutcome",
    "GENERATIVE_SKIP_REASON",
    "JudgeResult",
    "Outcome",
    "StepFailure",
    "Turn",
    "describe_assertion",
    "describe_step",
    "failed_result",
    "judge",
    "judge_assertions",
    "judge_step_format",
    "run_assertion",
    "session_start_turn",
    "split_turn",
    "step_matches",
]
