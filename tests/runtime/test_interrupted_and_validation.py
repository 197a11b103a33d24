"""3.14+ continue-interrupted confirmation and 3.12+ domain slot validation (``pattern_validate_slot``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_cmdgen.runtime.agent import Agent, Conversation
from pytest_cmdgen.runtime.commands import SetSlot, StartFlow
from pytest_cmdgen.runtime.events import SlotSet
from pytest_cmdgen.runtime.project import Project
from tests.runtime.conftest import ScriptedSource, StubRunner, event_kinds, texts, utters, write_project

CONFIRM = "continue_interrupted_flow_confirmation"
CHOICE = "interrupted_flow_to_continue"


def test_314_asks_to_continue_the_single_interrupted_flow(converse):
    conv = converse(
        {
            "send": [StartFlow("transfer")],
            "weather?": [StartFlow("weather")],
            "paris": [SetSlot("city", "Paris")],
            "yes": [SetSlot(CONFIRM, "true")],
        },
        version="3.14",
    )
    conv.handle_message("send")
    conv.handle_message("weather?")
    events = conv.handle_message("paris")
    assert utters(events) == ["utter_ask_continue_interrupted_flow_confirmation"]
    assert texts(events) == ["Would you like to continue with transfer?"]
    # 3.14+: no FlowResumed when the pattern is pushed
    assert ("flow_resumed", "transfer") not in event_kinds(events)
    frame = next(f for f in conv.tracker.stack if f.type == "pattern_continue_interrupted")
    assert frame.fields["interrupted_flow_ids"] == ["transfer"]
    assert frame.fields["multiple_flows_interrupted"] is False

    events = conv.handle_message("yes")
    assert ("flow_resumed", "transfer") in event_kinds(events)
    assert utters(events) == ["utter_ask_recipient"]
    assert conv.tracker.get_slot(CONFIRM) is None


def test_314_declining_cancels_the_interrupted_flow(converse):
    conv = converse(
        {
            "send": [StartFlow("transfer")],
            "weather?": [StartFlow("weather")],
            "paris": [SetSlot("city", "Paris")],
            "no": [SetSlot(CONFIRM, "false")],
        },
        version="3.14",
    )
    conv.handle_message("send")
    conv.handle_message("weather?")
    conv.handle_message("paris")
    events = conv.handle_message("no")
    assert ("flow_cancelled", "transfer") in event_kinds(events)
    assert utters(events)[0] == "utter_flow_cancelled_rasa"
    # canceled_name is the flow id (ActionCancelInterruptedFlows.cancel_flow)
    assert texts(events)[0] == "Okay, stopping transfer."
    assert "utter_ask_recipient" not in utters(events)
    assert not any(f.is_user_flow for f in conv.tracker.stack)


def test_313_still_announces_the_resumed_flow(converse):
    conv = converse(
        {"send": [StartFlow("transfer")], "weather?": [StartFlow("weather")], "paris": [SetSlot("city", "Paris")]}
    )
    conv.handle_message("send")
    conv.handle_message("weather?")
    events = conv.handle_message("paris")
    assert utters(events) == ["utter_flow_continue_interrupted", "utter_ask_recipient"]


MULTI_DOMAIN = """
slots:
  a:
    type: text
  b:
    type: text
responses:
  utter_ask_a:
    - text: "A?"
  utter_ask_b:
    - text: "B?"
  utter_done:
    - text: "Done."
"""

MULTI_FLOWS = """
flows:
  first:
    name: First
    description: first
    steps:
      - collect: a
  second:
    name: Second
    description: second
    steps:
      - collect: b
  third:
    description: third
    steps:
      - action: utter_done
"""


@pytest.fixture
def multi(tmp_path: Path) -> Conversation:
    project = Project.load(write_project(tmp_path / "m", MULTI_DOMAIN, MULTI_FLOWS), "3.14")
    script = {
        "1": [StartFlow("first")],
        "2": [StartFlow("second")],
        "3": [StartFlow("third")],
        "first please": [SetSlot(CHOICE, "First")],
        "neither": [SetSlot(CHOICE, "none")],
    }
    return Agent(project, ScriptedSource(script), StubRunner()).start_conversation("t")


def test_314_several_interrupted_flows_ask_which(multi):
    for text in ("1", "2"):
        multi.handle_message(text)
    events = multi.handle_message("3")
    assert utters(events) == ["utter_done", "utter_ask_interrupted_flow_to_continue"]
    assert texts(events)[-1] == "Would you like to resume First and Second?"
    frame = next(f for f in multi.tracker.stack if f.type == "pattern_continue_interrupted")
    assert frame.fields["multiple_flows_interrupted"] is True
    assert frame.fields["interrupted_flow_ids"] == ["first", "second"]

    events = multi.handle_message("first please")
    assert ("flow_resumed", "first") in event_kinds(events)
    assert utters(events) == ["utter_ask_a"]
    user = [f for f in multi.tracker.stack if f.is_user_flow]
    # move_frames_to_top: first is on top again, the lowest user frame becomes regular
    assert [(f.flow_id, f.frame_type) for f in user] == [("second", "regular"), ("first", "interrupt")]


def test_314_none_cancels_every_interrupted_flow(multi):
    for text in ("1", "2", "3"):
        multi.handle_message(text)
    events = multi.handle_message("neither")
    cancelled = [flow for kind, flow in event_kinds(events) if kind == "flow_cancelled"]
    assert cancelled == ["first", "second"]
    # each stack patch was made against the same stack: the first flow's cancel frame ends on top
    assert texts(events)[:2] == ["Okay, stopping first.", "Okay, stopping second."]
    assert not any(f.is_user_flow for f in multi.tracker.stack)


VALIDATION_DOMAIN = """
slots:
  amount:
    type: float
    validation:
      rejections:
        - if: slots.amount > 100
          utter: utter_too_much
responses:
  utter_ask_amount:
    - text: "How much?"
  utter_too_much:
    - text: "At most 100."
  utter_done:
    - text: "Paid."
"""

VALIDATION_FLOWS = """
flows:
  pay:
    description: pay
    steps:
      - collect: amount
      - action: utter_done
"""


def _pay(tmp_path: Path, version: str) -> Conversation:
    project = Project.load(write_project(tmp_path / version, VALIDATION_DOMAIN, VALIDATION_FLOWS), version)
    script = {"pay": [StartFlow("pay")], "500": [SetSlot("amount", "500")], "50": [SetSlot("amount", "50")]}
    return Agent(project, ScriptedSource(script), StubRunner()).start_conversation("t")


@pytest.mark.parametrize("version", ["3.12", "3.13", "3.16"])
def test_domain_validation_rejects_and_reasks(tmp_path, version):
    conv = _pay(tmp_path, version)
    conv.handle_message("pay")
    events = conv.handle_message("500")
    assert ("flow_started", "pattern_validate_slot") in event_kinds(events)
    assert utters(events) == ["utter_too_much", "utter_ask_amount"]
    assert conv.tracker.get_slot("amount") is None
    frame = next(f for f in conv.tracker.stack if f.type == "pattern_validate_slot")
    assert frame.fields["validate"] == "amount"
    assert frame.fields["refill_utter"] == "utter_ask_amount"
    assert frame.fields["refill_action"] == "action_ask_amount"
    events = conv.handle_message("50")
    assert utters(events)[0] == "utter_done"  # then pattern_completed
    assert any(isinstance(e, SlotSet) and e.key == "amount" and e.value == 50.0 for e in events)


def test_domain_validation_ignored_before_312(tmp_path):
    conv = _pay(tmp_path, "3.11")
    conv.handle_message("pay")
    events = conv.handle_message("500")
    assert ("flow_started", "pattern_validate_slot") not in event_kinds(events)
    assert utters(events)[0] == "utter_done"
