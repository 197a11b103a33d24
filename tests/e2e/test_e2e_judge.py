"""The E2E judge: step format (§11.3) and assertion format (§11.4) over hand-built events."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_cmdgen.e2e import model as m
from pytest_cmdgen.e2e.judge import Turn, judge, judge_assertions, judge_step_format, split_turn
from pytest_cmdgen.runtime.events import (
    ActionExecuted,
    BotUttered,
    DialogueStackUpdated,
    FlowCancelled,
    FlowCompleted,
    FlowStarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)


def case(*steps: m.Step) -> m.TestCase:
    return m.TestCase(name="t", steps=tuple(steps), line=1, file=Path("t.yml"))


def bot(text: str | None = None, utter: str | None = None, buttons=None) -> BotUttered:
    return BotUttered(
        text=text,
        metadata={"utter_action": utter} if utter else {},
        data={"buttons": buttons} if buttons else {},
    )


def user(text: str, **metadata) -> UserUttered:
    return UserUttered(text=text, metadata=dict(metadata))


# --- step format ------------------------------------------------------------------------------------


def test_step_format_passes_order_insensitive_and_non_consuming() -> None:
    tc = case(
        m.UserStep(2, "hi"),
        m.UtterStep(3, "utter_b"),
        m.UtterStep(4, "utter_a"),
        m.UtterStep(5, "utter_a"),
        m.BotStep(6, "Hello"),
    )
    turns = {
        -1: Turn(-1, None, []),
        0: Turn(0, "hi", [user("hi"), bot("Hello", "utter_a"), bot("x", "utter_b"), bot("extra", "utter_c")]),
    }
    assert judge_step_format(tc, turns).passed


def test_step_format_turn_minus_one_is_session_start() -> None:
    tc = case(m.UtterStep(2, "utter_greet"), m.UserStep(3, "hi"), m.UtterStep(4, "utter_greet"))
    turns = {
        -1: Turn(-1, None, [SessionStarted(), bot("Hi!", "utter_greet")]),
        1: Turn(1, "hi", [user("hi")]),
    }
    result = judge_step_format(tc, turns)
    assert result.failed
    assert [f.line for f in result.failures] == [4]
    assert result.error_line == 4


def test_step_format_slot_name_only_and_value_with_python_equality() -> None:
    events = [user("x"), SlotSet(key="amount", value=55), SlotSet(key="flag", value=None)]
    turns = {-1: Turn(-1, None), 0: Turn(0, "x", events)}
    ok = case(
        m.UserStep(1, "x"),
        m.SlotWasSetStep(2, "amount"),
        m.SlotWasSetStep(3, "amount", 55.0, True),  # 55 == 55.0 in Python
        m.SlotWasSetStep(4, "flag"),  # set to null still counts as set
        m.SlotWasNotSetStep(5, "other"),
        m.SlotWasNotSetStep(6, "amount", 56, True),
    )
    assert judge_step_format(ok, turns).passed
    bad = case(
        m.UserStep(1, "x"),
        m.SlotWasSetStep(2, "amount", "55", True),  # YAML types matter
        m.SlotWasNotSetStep(3, "flag"),
    )
    result = judge_step_format(bad, turns)
    assert [f.line for f in result.failures] == [2, 3]
    assert "slot_was_set: amount: 55 (str)" in result.failures[0].expected
    assert "slot_was_set: amount: 55 (int)" in result.failures[0].actual


def test_step_format_transcript_is_ndiff_up_to_last_failure() -> None:
    tc = case(
        m.UserStep(1, "hi"),
        m.BotStep(2, "Hello"),
        m.UserStep(3, "bye"),
        m.UtterStep(4, "utter_goodbye"),
        m.SlotWasSetStep(5, "x", 1, True),
        m.UserStep(6, "later"),
        m.UtterStep(7, "utter_never_reached"),
    )
    turns = {
        -1: Turn(-1, None),
        0: Turn(0, "hi", [user("hi"), bot("Hello", "utter_hello")]),
        2: Turn(2, "bye", [], no_events=True),
        5: Turn(5, "later", [user("later"), bot("ok", "utter_never_reached")]),
    }
    result = judge_step_format(tc, turns)
    assert result.failed
    assert result.transcript == [
        "  user: hi",
        "  bot: Hello",
        "  user: bye",
        "- utter: utter_goodbye",
        "- slot_was_set: x: 1 (int)",
        "+ * No Bot Response *",
        "+ * No Slot Set *",
    ]
    text = result.describe()
    assert "line 4" in text and "utter_goodbye" in text


def test_step_format_no_events_turn_bot_text() -> None:
    tc = case(m.UserStep(1, "hi"), m.BotStep(2, "* No Bot Response *"))
    assert judge_step_format(tc, {-1: Turn(-1, None), 0: Turn(0, "hi", no_events=True)}).passed


def test_step_format_skipped_user_step_keeps_previous_turn() -> None:
    tc = case(m.UserStep(1, "hi"), m.UserStep(2, ""), m.UtterStep(3, "utter_x"))
    turns = {-1: Turn(-1, None), 0: Turn(0, "hi", [user("hi"), bot("x", "utter_x")])}
    assert judge_step_format(tc, turns).passed


# --- assertion format -------------------------------------------------------------------------------


def acase(*steps: m.UserStep) -> m.TestCase:
    return case(*steps)


def step(line: int, text: str, *assertions: m.Assertion, order: bool = False, metadata: str | None = None):
    return m.UserStep(line, text, metadata_name=metadata, assertions=assertions, assertion_order_enabled=order)


SESSION = [
    SessionStarted(),
    SlotSet(key="username", value="John"),
    ActionExecuted(action_name="action_listen"),
]


def test_split_turn_first_occurrence_until_next_user_message() -> None:
    events = [*SESSION, user("a"), bot("1"), user("b"), bot("2"), user("a"), bot("3")]
    prior, turn = split_turn(events, "a")
    assert prior == SESSION
    assert [e.text for e in turn] == ["a", "1"]
    assert split_turn(events, "zzz") is None
    meta_events = [user("a", device="ios"), bot("1"), user("a", device="android"), bot("2")]
    _, turn = split_turn(meta_events, "a", {"device": "android"})
    assert turn[1].text == "2"


def test_assertion_user_message_not_found_fails() -> None:
    tc = acase(step(3, "hello", m.FlowStartedAssertion(4, flow_ids=("x",))))
    result = judge_assertions(tc, [*SESSION, user("bye")])
    assert result.failed and result.error_line == 3


def test_flow_started_any_and_all() -> None:
    events = [*SESSION, user("x"), FlowStarted(flow_id="a"), FlowStarted(flow_id="b")]
    assert judge_assertions(acase(step(1, "x", m.FlowStartedAssertion(2, flow_ids=("a",)))), events).passed
    assert judge_assertions(
        acase(step(1, "x", m.FlowStartedAssertion(2, flow_ids=("c", "b"), operator="any"))), events
    ).passed
    assert judge_assertions(
        acase(step(1, "x", m.FlowStartedAssertion(2, flow_ids=("a", "b"), operator="all"))), events
    ).passed
    r = judge_assertions(acase(step(1, "x", m.FlowStartedAssertion(2, flow_ids=("a", "c"), operator="all"))), events)
    assert r.failed and r.error_line == 2


def test_flow_assertions_never_look_at_prior_events() -> None:
    events = [SessionStarted(), FlowStarted(flow_id="pattern_session_start"), user("x")]
    r = judge_assertions(acase(step(1, "x", m.FlowStartedAssertion(2, flow_ids=("pattern_session_start",)))), events)
    assert r.failed


def test_action_slot_bot_assertions_look_at_prior_events_only_for_first_step() -> None:
    events = [
        SessionStarted(),
        ActionExecuted(action_name="action_session_start"),
        SlotSet(key="username", value="John"),
        bot("Welcome", "utter_welcome"),
        user("x"),
        user("y"),
    ]
    first = acase(
        step(
            1,
            "x",
            m.ActionExecutedAssertion(2, action_name="action_session_start"),
            m.SlotWasSetAssertion(3, slots=(m.SlotExpectation("username", "John", True),)),
            m.BotUtteredAssertion(4, utter_name="utter_welcome"),
        )
    )
    assert judge_assertions(first, events).passed
    # the first step (index 0) has no assertions: the second step does not see prior events
    second = acase(m.UserStep(1, "x"), step(2, "y", m.ActionExecutedAssertion(3, action_name="action_session_start")))
    assert judge_assertions(second, events).failed


@pytest.mark.parametrize(
    "cls,event_cls", [(m.FlowCompletedAssertion, FlowCompleted), (m.FlowCancelledAssertion, FlowCancelled)]
)
def test_flow_completed_cancelled_only_first_event_compared(cls, event_cls) -> None:
    events = [*SESSION, user("x"), event_cls(flow_id="f", step_id="s1"), event_cls(flow_id="f", step_id="s2")]
    assert judge_assertions(acase(step(1, "x", cls(2, flow_id="f"))), events).passed
    assert judge_assertions(acase(step(1, "x", cls(2, flow_id="f", flow_step_id="s1"))), events).passed
    assert judge_assertions(acase(step(1, "x", cls(2, flow_id="f", flow_step_id="s2"))), events).failed
    assert judge_assertions(acase(step(1, "x", cls(2, flow_id="g"))), events).failed


def test_pattern_clarification_contains_names_and_ids() -> None:
    clar = FlowStarted(
        flow_id="pattern_clarification",
        metadata={"names": ["Add a contact", "Remove a contact"], "clarification_ids": ["add", "remove"]},
    )
    events = [*SESSION, user("x"), clar]
    ok = m.PatternClarificationContainsAssertion(2, flow_names=("Remove a contact", "Add a contact"))
    assert judge_assertions(acase(step(1, "x", ok)), events).passed
    subset = m.PatternClarificationContainsAssertion(2, flow_names=("Add a contact",))
    assert judge_assertions(acase(step(1, "x", subset)), events).failed  # set equality
    ids_all = m.PatternClarificationContainsAssertion(2, flow_ids=("add", "remove"), operator="all")
    assert judge_assertions(acase(step(1, "x", ids_all)), events).passed
    ids_bad = m.PatternClarificationContainsAssertion(2, flow_ids=("add", "other"), operator="all")
    assert judge_assertions(acase(step(1, "x", ids_bad)), events).failed


def test_slot_was_set_rules() -> None:
    events = [
        *SESSION,
        user("x"),
        SlotSet(key="a", value=1),
        SlotSet(key="a", value=2),
        SlotSet(key="n", value=None),
    ]

    def run(*slots):
        return judge_assertions(acase(step(1, "x", m.SlotWasSetAssertion(2, slots=slots))), events)

    assert run(m.SlotExpectation("a")).passed
    assert run(m.SlotExpectation("a", 2, True)).passed  # any of the events
    assert run(m.SlotExpectation("a", 2.0, True)).passed
    assert run(m.SlotExpectation("a", "2", True)).failed
    assert run(m.SlotExpectation("n", None, True)).passed  # value: null requires a null SlotSet
    assert run(m.SlotExpectation("a", None, True)).failed
    assert run(m.SlotExpectation("missing")).failed


def test_slot_was_not_set_last_event_rule() -> None:
    events = [
        *SESSION,
        user("x"),
        SlotSet(key="a", value="v"),
        SlotSet(key="a", value=None),
        SlotSet(key="b", value=3),
    ]

    def run(*slots):
        return judge_assertions(acase(step(1, "x", m.SlotWasNotSetAssertion(2, slots=slots))), events)

    assert run(m.SlotExpectation("a")).passed  # reset to null at flow end passes
    assert run(m.SlotExpectation("a", "v", True)).passed  # only the last event matters
    assert run(m.SlotExpectation("a", None, True)).failed
    assert run(m.SlotExpectation("b")).failed
    assert run(m.SlotExpectation("b", 4, True)).passed
    assert run(m.SlotExpectation("never")).passed


def test_bot_uttered_properties_are_independent_and_buttons_zip() -> None:
    buttons = [
        {"title": "Yes", "payload": "/SetSlots(x=True)"},
        {"title": "No", "payload": None},
        {"title": "Extra"},
    ]
    events = [
        *SESSION,
        user("x"),
        bot("Pick one", "utter_pick", buttons=buttons),
        bot("Something else", "utter_other"),
    ]

    def run(**kw):
        return judge_assertions(acase(step(1, "x", m.BotUtteredAssertion(2, **kw))), events)

    assert run(utter_name="utter_other", text_matches="Pick").passed  # different messages may satisfy
    assert run(text_matches="^Some").passed
    assert run(text_matches="^else").failed
    assert run(utter_name="utter_missing").failed
    assert run(buttons=(m.ButtonExpectation("Yes", "/SetSlots(x=True)"),)).passed
    assert run(buttons=(m.ButtonExpectation("Yes", "/SetSlots(x=True)"), m.ButtonExpectation("No"))).passed
    assert run(buttons=(m.ButtonExpectation("Yes"),)).failed  # missing payload requires a null payload
    assert run(buttons=(m.ButtonExpectation("No", None),)).failed  # zipped by position
    many = tuple(m.ButtonExpectation(t, p) for t, p in [("Yes", "/SetSlots(x=True)"), ("No", None), ("Extra", None)])
    assert run(buttons=(*many, m.ButtonExpectation("Fourth", "p"))).passed  # extra expected ones ignored by zip
    no_buttons = [*SESSION, user("x"), bot("plain", "utter_plain")]
    r = judge_assertions(acase(step(1, "x", m.BotUtteredAssertion(2, buttons=(m.ButtonExpectation("A"),)))), no_buttons)
    assert r.failed


def test_bot_did_not_utter() -> None:
    events = [*SESSION, user("x"), bot("Pick", "utter_pick", buttons=[{"title": "Yes", "payload": "/y"}])]

    def run(**kw):
        return judge_assertions(acase(step(1, "x", m.BotDidNotUtterAssertion(2, **kw))), events)

    assert run(utter_name="utter_other").passed
    assert run(utter_name="utter_pick").failed
    assert run(utter_name="utter_other", text_matches="Pi").failed  # any property matching fails
    assert run(buttons=(m.ButtonExpectation("No", "/n"), m.ButtonExpectation("Yes", "/y"))).failed
    assert run(buttons=(m.ButtonExpectation("Yes", "/n"),)).passed


def test_assertion_order_enabled_slices_after_matched_event() -> None:
    events = [
        *SESSION,
        user("x"),
        bot("a", "utter_a"),
        ActionExecuted(action_name="act"),
        bot("b", "utter_b"),
        ActionExecuted(action_name="action_listen"),
    ]
    in_order = step(
        1,
        "x",
        m.BotUtteredAssertion(2, utter_name="utter_a"),
        m.ActionExecutedAssertion(3, action_name="act"),
        m.BotUtteredAssertion(4, utter_name="utter_b"),
        order=True,
    )
    assert judge_assertions(acase(in_order), events).passed
    wrong = step(
        1,
        "x",
        m.BotUtteredAssertion(2, utter_name="utter_b"),
        m.BotUtteredAssertion(3, utter_name="utter_a"),
        order=True,
    )
    r = judge_assertions(acase(wrong), events)
    assert r.failed and r.error_line == 3
    # without ordering the same assertions pass
    unordered = step(
        1, "x", m.BotUtteredAssertion(2, utter_name="utter_b"), m.BotUtteredAssertion(3, utter_name="utter_a")
    )
    assert judge_assertions(acase(unordered), events).passed
    # the last event of the turn is not cut away: the same event can match again
    events = events[:-1]
    last = step(
        1,
        "x",
        m.BotUtteredAssertion(2, utter_name="utter_b"),
        m.BotUtteredAssertion(3, utter_name="utter_b"),
        order=True,
    )
    assert judge_assertions(acase(last), events).passed


def test_assertion_order_multi_slot_matched_event_is_last_slots_first_match() -> None:
    events = [*SESSION, user("x"), SlotSet(key="b", value=1), SlotSet(key="a", value=1), bot("z", "utter_z")]
    events.append(ActionExecuted(action_name="action_listen"))

    def run(*names: str):
        slots = tuple(m.SlotExpectation(n) for n in names)
        again = m.SlotWasSetAssertion(3, slots=(m.SlotExpectation("a"),))
        return judge_assertions(acase(step(1, "x", m.SlotWasSetAssertion(2, slots=slots), again, order=True)), events)

    # matched event = the first SlotSet of the *last* listed slot ("b", index 0): "a" is still ahead
    assert run("a", "b").passed
    # matched event = SlotSet of "a": the cut leaves no "a" behind
    r = run("b", "a")
    assert r.failed and r.error_line == 3


def test_generative_assertions_skip_the_test_with_a_reason() -> None:
    gen = m.GenerativeResponseAssertion(3, kind="generative_response_is_grounded", threshold=0.9, ground_truth="x")
    events = [*SESSION, user("x"), FlowCompleted(flow_id="pattern_search", step_id="END")]
    r = judge_assertions(acase(step(1, "x", gen, m.FlowCompletedAssertion(4, flow_id="pattern_search"))), events)
    assert r.skipped and "LLM judge" in (r.reason or "") and "generative_response_is_grounded" in r.reason
    # a real failure still wins
    r = judge_assertions(acase(step(1, "x", gen, m.FlowCompletedAssertion(4, flow_id="other"))), events)
    assert r.failed


def test_assertion_failure_transcript_and_describe() -> None:
    events = [
        *SESSION,
        user("x"),
        DialogueStackUpdated(update="[]"),
        FlowStarted(flow_id="f"),
        bot("Hi", "utter_hi"),
        SlotSet(key="dialogue_stack", value=[]),
        user("y"),
        bot("later"),
    ]
    r = judge_assertions(acase(step(1, "x", m.BotUtteredAssertion(7, utter_name="utter_nope"))), events)
    assert r.failed
    assert r.transcript == [
        "    slot_was_set: username: John (str)",
        "user: x",
        "    flow_started: f",
        "    bot [utter_hi]: Hi",
        ">>> expected: bot_uttered: utter_name=utter_nope",
    ]
    assert "utter_nope" in r.describe() and "line 7" in r.describe()


def test_judge_dispatches_on_format() -> None:
    steps_case = case(m.UserStep(1, "x"), m.UtterStep(2, "utter_a"))
    turns = {-1: Turn(-1, None), 0: Turn(0, "x", [user("x"), bot("a", "utter_a")])}
    assert judge(steps_case, turns, []).passed
    a_case = acase(step(1, "x", m.BotUtteredAssertion(2, utter_name="utter_a")))
    assert judge(a_case, {}, [user("x"), bot("a", "utter_a")]).passed
