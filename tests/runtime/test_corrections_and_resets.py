"""Corrections of slots collected by called flows, and slot resets at flow end (REF §10.2, §13.3, §13.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_cmdgen.runtime.agent import Agent
from pytest_cmdgen.runtime.commands import SetSlot, StartFlow
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.runtime.stack import CORRECTION_PATTERN
from tests.runtime.conftest import ScriptedSource, StubRunner, utters, write_project

CALL_DOMAIN = """
slots:
  card:
    type: text
  reason:
    type: text
  confirm:
    type: bool
responses:
  utter_ask_card:
    - text: "Which card?"
  utter_ask_reason:
    - text: "Why?"
  utter_ask_confirm:
    - text: "Block {card}?"
  utter_blocked:
    - text: "Blocked."
"""

CALL_FLOWS = """
flows:
  block_card:
    description: block a card
    steps:
      - call: select_card
      - collect: reason
      - collect: confirm
        ask_before_filling: true
      - action: utter_blocked
  select_card:
    if: false
    description: pick a card
    steps:
      - collect: card
        ask_before_filling: {ask}
"""

SCRIPT = {
    "block": [StartFlow("block_card")],
    "1111": [SetSlot("card", "1111")],
    "lost": [SetSlot("reason", "lost")],
    "wrong card": [SetSlot("card", None)],
    "use 2222": [SetSlot("card", "2222")],
}


def _conversation(tmp_path: Path, ask_before_filling: bool, version: str = "3.13"):
    flows = CALL_FLOWS.format(ask="true" if ask_before_filling else "false")
    root = write_project(tmp_path / f"call-{ask_before_filling}-{version}", CALL_DOMAIN, flows)
    agent = Agent(Project.load(root, version), ScriptedSource(SCRIPT), StubRunner())
    conv = agent.start_conversation("test")
    for text in ("block", "1111", "lost"):
        conv.handle_message(text)
    assert conv.tracker.stack[-2].flow_id == "block_card"  # asking `confirm`; select_card has completed
    return conv


@pytest.mark.parametrize("version", ["3.10", "3.13", "3.21"])
def test_correction_of_called_flow_slot_rewinds_into_the_called_flow(tmp_path, version):
    conv = _conversation(tmp_path, ask_before_filling=False, version=version)
    correction_frames = []
    original = conv.tracker.update

    def spy(event):
        original(event)
        correction_frames.extend(f for f in conv.tracker.stack if f.type == CORRECTION_PATTERN)

    conv.tracker.update = spy  # type: ignore[method-assign]
    events = conv.handle_message("use 2222")
    frame = correction_frames[0]
    # the collect step was visited with the *called* frame on top: the reset targets that flow (Rasa's
    # previous_collect_steps_for_active_flow keeps the top frame's flow id).
    assert (frame.fields["reset_flow_id"], frame.fields["reset_step_id"]) == ("select_card", "0_collect_card")
    assert frame.fields["is_reset_only"] is False
    # select_card re-runs its collect step (filled: skipped), completes, and block_card goes on from the
    # step after the call; `reason` is still filled, `confirm` is asked again.
    assert utters(events) == ["utter_corrected_previous_input", "utter_ask_confirm"]
    assert conv.tracker.get_slot("card") == "2222"
    assert [f.flow_id for f in conv.tracker.stack if f.is_user_flow] == ["block_card"]


def test_reset_only_correction_of_called_flow_slot_reasks_without_utter(tmp_path):
    conv = _conversation(tmp_path, ask_before_filling=True)
    events = conv.handle_message("wrong card")
    # `card` is only collected with ask_before_filling: is_reset_only -> pattern_correction ends without
    # utter_corrected_previous_input (Appendix P pattern_correction); the rewound select_card re-asks.
    assert utters(events) == ["utter_ask_card"]
    stack = conv.tracker.stack
    assert [(f.flow_id, f.frame_type) for f in stack if f.is_user_flow] == [
        ("block_card", "regular"),
        ("select_card", "call"),
    ]
    assert stack[-1].fields["collect"] == "card"
    # the answer is a plain SetSlot for the slot being asked (no second correction); block_card resumes.
    events = conv.handle_message("use 2222")
    assert utters(events) == ["utter_ask_confirm"]
    assert conv.tracker.get_slot("card") == "2222"
    assert conv.tracker.get_slot("reason") == "lost"


SHARED_DOMAIN = """
slots:
  payee:
    type: text
  amount:
    type: float
  account:
    type: text
responses:
  utter_ask_payee:
    - text: "To whom?"
  utter_ask_amount:
    - text: "How much?"
  utter_ask_account:
    - text: "Account number?"
"""

SHARED_FLOWS = """
flows:
  transfer:
    description: send money
    steps:
      - collect: amount
      - collect: payee
  add_payee:
    description: add a payee
    steps:
      - collect: payee
      - collect: account
"""


@pytest.mark.parametrize("version", ["3.10", "3.13", "3.16"])
def test_end_of_interrupting_flow_resets_slot_shared_with_interrupted_flow(tmp_path, version):
    """REF §13.4 "Slot reset at END": one SlotSet per reset_after_flow_ends collect step, emitted
    unconditionally; no version consults the other flows on the stack (only call frames and, 3.12+,
    ``persisted_slots`` are exempt). So `payee`, filled while add_payee interrupted transfer, is gone
    when transfer resumes and is asked again."""
    root = write_project(tmp_path / f"shared-{version}", SHARED_DOMAIN, SHARED_FLOWS)
    script = {
        "send": [StartFlow("transfer")],
        "add tim": [StartFlow("add_payee"), SetSlot("payee", "tim")],
        "123": [SetSlot("account", "123")],
        "5": [SetSlot("amount", "5")],
    }
    conv = Agent(Project.load(root, version), ScriptedSource(script), StubRunner()).start_conversation("t")
    conv.handle_message("send")
    assert utters(conv.handle_message("add tim")) == ["utter_ask_account"]
    events = conv.handle_message("123")
    resets = [e for e in events if getattr(e, "key", None) == "payee"]
    assert resets and resets[-1].value is None
    assert conv.tracker.get_slot("payee") is None
    if version != "3.16":  # 3.14+ first asks whether to continue (pattern_continue_interrupted)
        assert utters(events)[-2:] == ["utter_flow_continue_interrupted", "utter_ask_amount"]
        assert utters(conv.handle_message("5")) == ["utter_ask_payee"]


CLARIFY_DOMAIN = """
slots:
  amount:
    type: float
responses:
  utter_ask_amount:
    - text: "How much?"
"""

CLARIFY_FLOWS = """
flows:
  transfer:
    description: send money
    steps:
      - collect: amount
  pay_bill:
    description: pay a bill
    steps:
      - collect: amount
"""


@pytest.mark.parametrize(("version", "with_ids"), [("3.13", False), ("3.14", False), ("3.15", True), ("3.21", True)])
def test_clarification_ids_in_flow_started_metadata_from_315(tmp_path, version, with_ids):
    """rasa-modern-generators §4.2: 3.15+ ``pattern_clarification_contains``/``flow_started``
    ``{operator, flow_ids}`` compare against the pattern's ``clarification_ids`` metadata."""
    from pytest_cmdgen.runtime.commands import Clarify
    from pytest_cmdgen.runtime.events import FlowStarted

    root = write_project(tmp_path / f"clarify-{version}", CLARIFY_DOMAIN, CLARIFY_FLOWS)
    script = {"money": [Clarify(("transfer", "pay_bill"))]}
    conv = Agent(Project.load(root, version), ScriptedSource(script), StubRunner()).start_conversation("t")
    events = conv.handle_message("money")
    started = next(e for e in events if isinstance(e, FlowStarted) and e.flow_id == "pattern_clarification")
    assert started.metadata["names"] == ["transfer", "pay bill"]
    if with_ids:
        assert started.metadata["clarification_ids"] == ["transfer", "pay_bill"]
    else:
        assert "clarification_ids" not in started.metadata
    assert utters(events)[-1] == "utter_clarification_options_rasa"


@pytest.mark.parametrize(("version", "expected"), [("3.14", []), ("3.15", ["utter_clarification_no_options_rasa"])])
def test_clarify_without_options(tmp_path, version, expected):
    """rasa-modern-generators §2.5/§4.1: 3.15+ a Clarify with no options runs pattern_clarification's
    no-options branch; before, it does nothing."""
    from pytest_cmdgen.runtime.commands import Clarify

    root = write_project(tmp_path / f"noopt-{version}", CLARIFY_DOMAIN, CLARIFY_FLOWS)
    conv = Agent(Project.load(root, version), ScriptedSource({"hm": [Clarify(())]}), StubRunner()).start_conversation(
        "t"
    )
    assert utters(conv.handle_message("hm")) == expected
