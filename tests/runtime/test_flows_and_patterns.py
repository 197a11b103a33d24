"""Step kinds, patterns and conversation repair on tiny projects."""

from __future__ import annotations

import json

import pytest

from pytest_cmdgen.runtime.commands import (
    CancelFlow,
    CannotHandle,
    ChitChat,
    Clarify,
    HumanHandoff,
    Knowledge,
    SetSlot,
    SkipQuestion,
    StartFlow,
)
from pytest_cmdgen.runtime.events import DialogueStackUpdated, SlotSet
from tests.runtime.conftest import actions, event_kinds, texts, utters


def test_collect_steps_ask_then_continue(converse):
    conv = converse({"send": [StartFlow("transfer")], "bob": [SetSlot("recipient", "bob")]})
    events = conv.handle_message("send")
    assert utters(events) == ["utter_ask_recipient"]
    assert actions(events)[-1] == "action_listen"
    events = conv.handle_message("bob")
    assert utters(events) == ["utter_ask_amount"]
    assert conv.tracker.get_slot("recipient") == "bob"


def test_prefilled_slots_skip_questions_and_ask_before_filling_still_asks(converse):
    conv = converse({"send 5 to bob": [StartFlow("transfer"), SetSlot("recipient", "bob"), SetSlot("amount", "5")]})
    events = conv.handle_message("send 5 to bob")
    assert utters(events) == ["utter_ask_confirm"]
    bot = [e for e in events if e.type_name == "bot"][-1]
    assert bot.text == "Send 5.0 to bob?"
    assert bot.buttons[0]["payload"] == "/SetSlots(confirm=true)"
    assert SlotSet(key="confirm", value=None) in events


def test_button_payload_branches_and_completes_with_slot_reset(converse):
    conv = converse({"send 5 to bob": [StartFlow("transfer"), SetSlot("recipient", "bob"), SetSlot("amount", "5")]})
    conv.handle_message("send 5 to bob")
    events = conv.handle_message("/SetSlots(confirm=true)")
    user = events[0]
    assert user.parse_data["commands"] == [
        {"command": "set slot", "name": "confirm", "value": "true", "extractor": "CommandPayloadReader"}
    ]
    assert utters(events) == ["utter_done", "utter_can_do_something_else"]
    assert ("flow_completed", "transfer") in event_kinds(events)
    assert conv.tracker.get_slot("recipient") is None
    assert conv.tracker.get_slot("logged_in") is True


def test_rejection_refuses_value_and_reasks(converse):
    conv = converse({"send": [StartFlow("transfer"), SetSlot("recipient", "bob")], "-3": [SetSlot("amount", "-3")]})
    conv.handle_message("send")
    events = conv.handle_message("-3")
    assert utters(events) == ["utter_bad_amount", "utter_ask_amount"]
    assert conv.tracker.get_slot("amount") is None


def test_invalid_categorical_value_is_rejected(converse):
    conv = converse({"weather": [StartFlow("weather")], "rome": [SetSlot("city", "Rome")]})
    conv.handle_message("weather")
    events = conv.handle_message("rome")
    assert utters(events)[0] == "utter_categorical_slot_rejection"
    assert "Rome" in texts(events)[0]


def test_categorical_coercion_and_custom_action(converse):
    from pytest_cmdgen.runtime.agent import ActionResult
    from tests.runtime.conftest import StubRunner

    runner = StubRunner({"action_check": ActionResult(responses=[{"text": "Sunny"}])})
    conv = converse({"weather in berlin": [StartFlow("weather"), SetSlot("city", "berlin")]}, runner=runner)
    events = conv.handle_message("weather in berlin")
    assert conv.tracker.slots["city"] is None  # reset at the end of the flow
    assert SlotSet(key="city", value="Berlin") in events
    assert "Sunny" in texts(events)
    assert runner.calls == ["action_check"]


def test_cancel_flow(converse):
    conv = converse({"send": [StartFlow("transfer")], "stop": [CancelFlow()]})
    conv.handle_message("send")
    events = conv.handle_message("stop")
    assert texts(events) == ["Okay, stopping transfer.", "What else can I help you with?"]
    assert ("flow_cancelled", "transfer") in event_kinds(events)


def test_correction_updates_slot_and_reasks_current_question(converse):
    conv = converse(
        {
            "send 5 to bob": [StartFlow("transfer"), SetSlot("recipient", "bob"), SetSlot("amount", "5")],
            "no, 7": [SetSlot("amount", "7")],
        }
    )
    conv.handle_message("send 5 to bob")
    events = conv.handle_message("no, 7")
    assert utters(events) == ["utter_corrected_previous_input", "utter_ask_confirm"]
    assert conv.tracker.get_slot("amount") == 7.0
    assert texts(events)[-1] == "Send 7.0 to bob?"


def test_interruption_and_resume(converse):
    conv = converse(
        {"send": [StartFlow("transfer")], "weather?": [StartFlow("weather")], "paris": [SetSlot("city", "Paris")]}
    )
    conv.handle_message("send")
    events = conv.handle_message("weather?")
    assert ("flow_interrupted", "transfer") in event_kinds(events)
    assert utters(events) == ["utter_ask_city"]
    events = conv.handle_message("paris")
    assert utters(events) == ["utter_flow_continue_interrupted", "utter_ask_recipient"]
    assert texts(events)[0] == "Let's continue with transfer."
    assert ("flow_resumed", "transfer") in event_kinds(events)


def test_chitchat_digression_reasks(converse):
    conv = converse({"send": [StartFlow("transfer")], "nice day": [ChitChat()]})
    conv.handle_message("send")
    events = conv.handle_message("nice day")
    # 3.13 default pattern_chitchat utters utter_cannot_handle, then the question is asked again.
    assert utters(events) == ["utter_cannot_handle", "utter_ask_recipient"]


def test_chitchat_falls_back_to_cannot_handle_in_310(converse):
    conv = converse({"nice day": [ChitChat()]}, version="3.10")
    events = conv.handle_message("nice day")
    assert ("flow_started", "pattern_cannot_handle") in event_kinds(events)
    assert utters(events) == ["utter_cannot_handle"]


def test_knowledge_uses_default_search_pattern(converse):
    conv = converse({"what is a bic": [Knowledge()]})
    # pattern_search ending on an empty stack is followed by pattern_completed, as in Rasa.
    assert utters(conv.handle_message("what is a bic")) == ["utter_no_knowledge_base", "utter_can_do_something_else"]


def test_clarification(converse):
    conv = converse({"money": [Clarify(("transfer", "weather"))]})
    events = conv.handle_message("money")
    assert texts(events) == [
        "I can help, but I need more information. Which of these would you like to do: transfer or weather?"
    ]
    started = [e for e in events if e.type_name == "flow_started"][0]
    assert started.metadata["names"] == ["transfer", "weather"]


def test_skip_question_reasks(converse):
    conv = converse({"send": [StartFlow("transfer")], "skip": [SkipQuestion()]})
    conv.handle_message("send")
    assert utters(conv.handle_message("skip")) == ["utter_skip_question_answer", "utter_ask_recipient"]


def test_cannot_handle_when_no_commands(converse):
    conv = converse({})
    events = conv.handle_message("gibberish")
    assert events[0].parse_data["commands"] == [{"command": "cannot handle", "reason": "cannot_handle_default"}]
    assert utters(events) == ["utter_ask_rephrase"]


def test_human_handoff_pattern(converse):
    conv = converse({"human": [HumanHandoff()]})
    assert utters(conv.handle_message("human")) == ["utter_human_handoff_not_available"]


def test_empty_and_too_long_messages_skip_the_source(converse):
    conv = converse({})
    assert utters(conv.handle_message("   ")) == ["utter_user_input_empty_error_rasa"]
    events = conv.handle_message("x" * 421)
    assert events[0].parse_data["commands"][0]["error_type"] == "rasa_internal_error_user_input_too_long"
    assert texts(events) == [
        "I'm sorry, but your message is too long for me to process. "
        "Please keep your message concise and within 420 characters."
    ]
    source = conv.agent.command_source
    assert source.requests == []


def test_source_exception_becomes_internal_error(converse):
    conv = converse({"boom": RuntimeError("llm down")})
    assert utters(conv.handle_message("boom")) == ["utter_internal_error_rasa"]


def test_guarded_flow_not_startable(converse):
    conv = converse({"hidden": [StartFlow("hidden")]})
    events = conv.handle_message("hidden")
    assert events[0].parse_data["commands"] == []
    request = conv.agent.command_source.requests[0]
    assert "hidden" not in request.available_flow_ids
    assert "greet" in request.available_flow_ids


def test_conditional_response_variation(converse):
    conv = converse({"hi": [StartFlow("greet")]})
    assert texts(conv.handle_message("hi"))[0] == "Welcome back"


def test_unknown_slot_setslot_gives_cannot_handle_from_311(converse):
    conv = converse({"x": [SetSlot("nope", "1")]}, version="3.13")
    assert ("flow_started", "pattern_cannot_handle") in event_kinds(conv.handle_message("x"))
    conv = converse({"x": [SetSlot("nope", "1")]}, version="3.10")
    assert utters(conv.handle_message("x")) == []


def test_setslot_outside_active_flow_is_ignored(converse):
    conv = converse({"bob": [SetSlot("recipient", "bob")]})
    events = conv.handle_message("bob")
    assert not [e for e in events if isinstance(e, SlotSet)]


def test_cannot_handle_removed_next_to_other_commands(converse):
    conv = converse({"send": [StartFlow("transfer"), CannotHandle()]})
    events = conv.handle_message("send")
    assert utters(events) == ["utter_ask_recipient"]


def test_seeded_runs_are_identical(converse):
    def run():
        conv = converse({"send": [StartFlow("transfer")], "stop": [CancelFlow()]})
        conv.handle_message("send")
        conv.handle_message("stop")
        return [e.to_dict() | {"timestamp": 0} for e in conv.tracker.events]

    assert run() == run()


@pytest.mark.parametrize(
    ("version", "entry"),
    [("3.11", "7"), ("3.12", {"value": "7", "filled_by": "LLM"}), ("3.21", {"value": "7", "filled_by": "LLM"})],
)
def test_correction_frame_shape_per_version(converse, version, entry):
    """3.12.42 and later wheels store each corrected slot as {value, filled_by} (CorrectSlotsCommand)."""
    conv = converse(
        {
            "send 5 to bob": [StartFlow("transfer"), SetSlot("recipient", "bob"), SetSlot("amount", "5")],
            "no, 7": [SetSlot("amount", "7")],
        },
        version=version,
    )
    conv.handle_message("send 5 to bob")
    events = conv.handle_message("no, 7")
    started = [e for e in events if isinstance(e, DialogueStackUpdated)]
    frames = [json.loads(e.update) for e in started]
    added = [
        op["value"] for patch in frames for op in patch if op.get("op") == "add" and isinstance(op.get("value"), dict)
    ]
    correction = next(f for f in added if f.get("type") == "pattern_correction")
    assert correction["corrected_slots"] == {"amount": entry}
