"""3.14+ StartFlow while ``pattern_continue_interrupted`` is active / for a flow on the stack, 3.15+ StartFlow
removing ``pattern_completed``, and ``/intent`` payloads of domain intents that trigger no flow."""

from __future__ import annotations

from pytest_cmdgen.runtime.agent import Agent
from pytest_cmdgen.runtime.commands import SetSlot, StartFlow
from pytest_cmdgen.runtime.project import Project
from tests.runtime.conftest import (
    BASIC_DOMAIN,
    BASIC_FLOWS,
    ScriptedSource,
    StubRunner,
    event_kinds,
    utters,
    write_project,
)

SCRIPT = {
    "send": [StartFlow("transfer")],
    "weather?": [StartFlow("weather")],
    "paris": [SetSlot("city", "Paris")],
    "hi": [StartFlow("greet")],
}


def _shape(conv) -> list[tuple[str, str | None, str | None]]:
    return [(f.type, f.flow_id, f.frame_type) for f in conv.tracker.stack]


def test_314_startflow_of_the_interrupted_flow_removes_the_pattern_and_resumes(converse):
    conv = converse(SCRIPT, version="3.14")
    for text in ("send", "weather?", "paris"):
        conv.handle_message(text)
    events = conv.handle_message("send")
    kinds = event_kinds(events)
    # every pattern frame on top is popped, transfer's own collect frame included (FlowCompleted each)
    assert kinds[:4] == [
        ("flow_completed", "pattern_collect_information"),
        ("flow_completed", "pattern_continue_interrupted"),
        ("flow_completed", "pattern_collect_information"),
        ("flow_resumed", "transfer"),
    ]
    assert not any(f.type == "pattern_continue_interrupted" for f in conv.tracker.stack)
    # transfer continues after its collect step (its collect frame is gone)
    assert utters(events) == ["utter_ask_amount"]
    assert conv.tracker.get_slot("continue_interrupted_flow_confirmation") is None


def test_314_startflow_of_a_flow_lower_on_the_stack_resumes_it(converse):
    conv = converse(SCRIPT, version="3.14")
    conv.handle_message("send")
    conv.handle_message("weather?")
    events = conv.handle_message("send")
    assert event_kinds(events) == [("flow_resumed", "transfer"), ("flow_interrupted", "weather")]
    assert _shape(conv) == [
        ("flow", "weather", "regular"),
        ("pattern_collect_information", "pattern_collect_information", None),
        ("flow", "transfer", "interrupt"),
        ("pattern_collect_information", "pattern_collect_information", None),
    ]
    assert utters(events) == ["utter_ask_recipient"]


def test_313_startflow_of_a_flow_on_the_stack_is_skipped(converse):
    conv = converse(SCRIPT, version="3.13")
    conv.handle_message("send")
    conv.handle_message("weather?")
    events = conv.handle_message("send")
    assert event_kinds(events) == []
    assert [f.flow_id for f in conv.tracker.stack if f.is_user_flow] == ["transfer", "weather"]


def test_314_digression_removes_the_continue_interrupted_pattern(converse):
    conv = converse(SCRIPT, version="3.14")
    for text in ("send", "weather?", "paris"):
        conv.handle_message(text)
    events = conv.handle_message("hi")
    kinds = event_kinds(events)
    assert kinds[:5] == [
        ("flow_completed", "pattern_collect_information"),
        ("flow_completed", "pattern_continue_interrupted"),
        ("flow_completed", "pattern_collect_information"),
        ("flow_interrupted", "transfer"),
        ("flow_started", "greet"),
    ]
    # greet was pushed as an interrupt: the pattern asks again once it ends
    assert utters(events) == ["utter_welcome", "utter_ask_continue_interrupted_flow_confirmation"]
    assert [f.type for f in conv.tracker.stack].count("pattern_continue_interrupted") == 1


COMPLETED_FLOWS = (
    BASIC_FLOWS
    + """
  pattern_completed:
    description: anything else?
    steps:
      - collect: confirm
"""
)


def _after_completed(tmp_path, version: str):
    root = write_project(tmp_path / version, BASIC_DOMAIN, COMPLETED_FLOWS)
    agent = Agent(Project.load(root, version), ScriptedSource(SCRIPT), StubRunner())
    conv = agent.start_conversation("t")
    conv.handle_message("hi")
    assert conv.tracker.stack[0].type == "pattern_completed"
    return conv, conv.handle_message("weather?")


def test_315_startflow_removes_a_lingering_pattern_completed(tmp_path):
    conv, events = _after_completed(tmp_path, "3.15")
    assert event_kinds(events)[:3] == [
        ("flow_completed", "pattern_collect_information"),
        ("flow_completed", "pattern_completed"),
        ("flow_started", "weather"),
    ]
    assert _shape(conv)[0] == ("flow", "weather", "regular")


def test_314_startflow_keeps_pattern_completed(tmp_path):
    conv, events = _after_completed(tmp_path, "3.14")
    assert ("flow_completed", "pattern_completed") not in event_kinds(events)
    assert conv.tracker.stack[0].type == "pattern_completed"


INTENT_FLOWS = (
    BASIC_FLOWS
    + """
  via_intent:
    description: d
    nlu_trigger:
      - intent:
          name: start_it
          confidence_threshold: 0.5
    steps:
      - action: utter_done
"""
)
INTENT_DOMAIN = BASIC_DOMAIN + "intents:\n  - greet_plain\n  - start_it\n"


def _intent_conv(tmp_path, script=None):
    source = ScriptedSource(script or {})
    root = write_project(tmp_path / "i", INTENT_DOMAIN, INTENT_FLOWS)
    conv = Agent(Project.load(root, "3.13"), source, StubRunner()).start_conversation("t")
    return conv, source


def test_domain_intent_without_trigger_gives_no_commands_and_skips_the_source(tmp_path):
    conv, source = _intent_conv(tmp_path, {"greet_plain": [StartFlow("transfer")]})
    events = conv.handle_message("/greet_plain")
    assert source.requests == []
    message = events[0]
    assert message.parse_data["intent"] == {"name": "greet_plain", "confidence": 1.0}
    assert message.parse_data["commands"] == []
    assert utters(events) == []
    assert conv.tracker.stack == []


def test_undeclared_intent_is_sanitised_and_goes_to_the_source(tmp_path):
    conv, source = _intent_conv(tmp_path, {"unknown_intent": [StartFlow("transfer")]})
    events = conv.handle_message("/unknown_intent")
    assert [r.text for r in source.requests] == ["unknown_intent"]
    assert utters(events) == ["utter_ask_recipient"]


def test_intent_payload_confidence_is_checked_against_the_trigger_threshold(tmp_path):
    conv, source = _intent_conv(tmp_path)
    events = conv.handle_message("/start_it@0.4")
    assert events[0].parse_data["intent"] == {"name": "start_it", "confidence": 0.4}
    assert utters(events) == [] and source.requests == []
    events = conv.handle_message("/start_it@0.7")
    assert utters(events)[0] == "utter_done"


def test_default_intent_is_unpacked_without_being_declared(tmp_path):
    conv, source = _intent_conv(tmp_path)
    events = conv.handle_message("/out_of_scope")
    assert events[0].parse_data["intent"]["name"] == "out_of_scope"
    assert source.requests == []
