"""The E2E runner against a fake agent: turns, fixtures, metadata, empty steps, action errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pytest_cmdgen.e2e import model as m
from pytest_cmdgen.e2e.runner import make_sender_id, parse_data_of, run_test_case
from pytest_cmdgen.runtime.errors import ActionError
from pytest_cmdgen.runtime.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered


class FakeTracker:
    def __init__(self) -> None:
        self.events: list[Event] = []


class FakeConversation:
    def __init__(self, script: dict[str, list[Event]], fail_on: str | None = None) -> None:
        self.tracker = FakeTracker()
        self.script = script
        self.fail_on = fail_on
        self.received: list[tuple[str, Any]] = []

    def handle_message(self, text: str, metadata: dict[str, Any] | None = None) -> list[Event]:
        self.received.append((text, metadata))
        if text == self.fail_on:
            self.tracker.events.append(UserUttered(text=text))
            raise ActionError("action_x", "cannot reach the action server at http://127.0.0.1:1/webhook")
        if text == "boom":
            raise RuntimeError("kaputt")
        new = [UserUttered(text=text, metadata=metadata or {}, parse_data={"llm_commands": [{"command": "x"}]})]
        new += self.script.get(text, [])
        self.tracker.events.extend(new)
        return new


class FakeAgent:
    def __init__(self, conversation: FakeConversation) -> None:
        self.conversation = conversation
        self.started: list[tuple[str, Any]] = []

    def start_conversation(self, sender_id: str, fixture_slots=(), variation_key=None) -> FakeConversation:
        self.started.append((sender_id, list(fixture_slots)))
        self.conversation.tracker.events.extend(
            [SessionStarted(), ActionExecuted(action_name="action_session_start")]
            + [SlotSet(key=k, value=v) for k, v in fixture_slots]
            + [BotUttered(text="Welcome", metadata={"utter_action": "utter_welcome"})]
        )
        return self.conversation


def suite(*cases: m.TestCase) -> m.TestSuiteFile:
    return m.TestSuiteFile(
        path=Path("t.yml"),
        test_cases=cases,
        fixtures={"premium": m.Fixture("premium", (("tier", "premium"), ("age", 3)), 1)},
        metadata={
            "ios": m.MetadataEntry("ios", {"os": "ios", "v": 1}, 2),
            "v2": m.MetadataEntry("v2", {"v": 2}, 3),
        },
    )


def tc(*steps: m.Step, **kw: Any) -> m.TestCase:
    return m.TestCase(name="my case", steps=steps, line=10, file=Path("t.yml"), **kw)


def test_sender_id_has_name_and_timestamp() -> None:
    moment = dt.datetime(2024, 1, 2, 3, 4, 5)
    assert make_sender_id(tc(), lambda: moment) == "my case_2024-01-02 03:04:05"


def test_run_records_turns_fixtures_metadata_and_judges() -> None:
    case = tc(
        m.UtterStep(11, "utter_welcome"),
        m.SlotWasSetStep(12, "tier", "premium", True),
        m.UserStep(13, "hi", metadata_name="v2"),
        m.UtterStep(14, "utter_hi"),
        m.UserStep(15, ""),
        m.UserStep(16, "quiet"),
        m.BotStep(17, "* No Bot Response *"),
        fixture_names=("premium",),
        metadata_name="ios",
    )
    convo = FakeConversation({"hi": [BotUttered(text="Hi", metadata={"utter_action": "utter_hi"})]})
    convo.script["quiet"] = []
    agent = FakeAgent(convo)
    # "quiet" produces only its UserUttered; make it produce nothing at all:
    original = convo.handle_message

    def handle(text: str, metadata: dict[str, Any] | None = None) -> list[Event]:
        if text == "quiet":
            return []
        return original(text, metadata)

    convo.handle_message = handle  # type: ignore[method-assign]
    run = run_test_case(case, suite(case), agent, sender_id="s1")
    assert run.passed, run.result.describe()
    assert agent.started == [("s1", [("tier", "premium"), ("age", 3)])]
    assert convo.received == [("hi", {"os": "ios", "v": 2})]
    assert sorted(run.turns) == [-1, 2, 5]
    assert run.turns[5].no_events
    assert any("no text" in w for w in run.warnings)
    assert any("overrides" in w for w in run.warnings)
    assert parse_data_of(run.turns[2]) == {"llm_commands": [{"command": "x"}]}
    assert [i for i, _, _ in run.user_turns()] == [2, 5]
    assert "user: hi" in run.transcript()


def test_run_fails_on_step_mismatch_with_line() -> None:
    case = tc(m.UserStep(11, "hi"), m.UtterStep(12, "utter_other"))
    convo = FakeConversation({"hi": [BotUttered(text="Hi", metadata={"utter_action": "utter_hi"})]})
    run = run_test_case(case, suite(case), FakeAgent(convo), sender_id="s")
    assert run.result.failed and run.result.error_line == 12


def test_action_error_fails_the_test_naming_action_and_url() -> None:
    case = tc(m.UserStep(11, "hi"), m.UserStep(12, "never sent"))
    convo = FakeConversation({}, fail_on="hi")
    run = run_test_case(case, suite(case), FakeAgent(convo), sender_id="s")
    assert run.result.failed and run.result.error_line == 11
    text = run.result.describe()
    assert "action_x" in text and "http://127.0.0.1:1/webhook" in text
    assert [t for t, _ in convo.received] == ["hi"]


def test_other_exceptions_are_logged_and_the_run_continues() -> None:
    case = tc(m.UserStep(11, "boom"), m.UserStep(12, "hi"), m.UtterStep(13, "utter_hi"))
    convo = FakeConversation({"hi": [BotUttered(text="Hi", metadata={"utter_action": "utter_hi"})]})
    run = run_test_case(case, suite(case), FakeAgent(convo), sender_id="s")
    assert run.passed
    assert any("kaputt" in w for w in run.warnings)


def test_assertion_format_uses_all_events() -> None:
    case = tc(
        m.UserStep(
            11,
            "hi",
            assertions=(
                m.ActionExecutedAssertion(12, action_name="action_session_start"),
                m.BotUtteredAssertion(13, utter_name="utter_hi"),
            ),
        )
    )
    convo = FakeConversation({"hi": [BotUttered(text="Hi", metadata={"utter_action": "utter_hi"})]})
    run = run_test_case(case, suite(case), FakeAgent(convo), sender_id="s")
    assert run.passed, run.result.describe()


def test_each_turn_makes_its_llm_calls_with_the_number_of_user_turns_left() -> None:
    from pytest_cmdgen.llm import DEFAULT_PRIORITY, current_priority, turn_priority

    seen: list[tuple[str, Any]] = []

    class PriorityRecordingConversation(FakeConversation):
        def handle_message(self, text: str, metadata: dict[str, Any] | None = None) -> list[Event]:
            seen.append((text, current_priority()))  # what an LLM call submitted now would queue with
            return super().handle_message(text, metadata)

    case = tc(
        m.UserStep(11, "one"), m.UserStep(12, ""), m.UserStep(13, "boom"), m.UserStep(14, "two"), m.UserStep(15, "end")
    )
    run_test_case(case, suite(case), FakeAgent(PriorityRecordingConversation({})), sender_id="s")
    assert seen == [("one", turn_priority(4)), ("boom", turn_priority(3)), ("two", turn_priority(2)),
                    ("end", turn_priority(1))]  # fmt: skip
    assert current_priority() == DEFAULT_PRIORITY
