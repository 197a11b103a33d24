"""call / link / set_slots / noop steps, payloads, tracker state and action-server request form."""

from __future__ import annotations

from pytest_cmdgen.runtime.agent import ActionResult, Agent
from pytest_cmdgen.runtime.commands import SetSlot, StartFlow
from pytest_cmdgen.runtime.errors import ActionError
from pytest_cmdgen.runtime.events import SlotSet
from pytest_cmdgen.runtime.payloads import parse_set_slots
from tests.runtime.conftest import BASIC_DOMAIN, ScriptedSource, StubRunner, event_kinds, texts, utters

STEP_FLOWS = """
flows:
  main:
    description: main flow
    steps:
      - set_slots:
          - recipient: alice
      - noop: true
        next:
          - if: slots.recipient = "alice"
            then: greet_step
          - else: END
      - id: greet_step
        action: utter_hi
      - call: child
      - action: utter_done
      - link: linked
  child:
    description: child flow
    steps:
      - collect: amount
  linked:
    description: linked flow
    steps:
      - action: utter_cancelled
"""


def test_set_slots_noop_call_and_link(basic_project):
    project = basic_project(flows=STEP_FLOWS)
    conv = Agent(
        project, ScriptedSource({"go": [StartFlow("main")], "5": [SetSlot("amount", "5")]})
    ).start_conversation("s")
    events = conv.handle_message("go")
    assert utters(events) == ["utter_hi", "utter_ask_amount"]
    assert texts(events)[0] == "Hi alice!"
    frames = [f.frame_type for f in conv.tracker.stack if f.is_user_flow]
    assert frames == ["regular", "call"]
    events = conv.handle_message("5")
    assert utters(events) == ["utter_done", "utter_cancelled", "utter_can_do_something_else"]
    kinds = event_kinds(events)
    assert ("flow_completed", "child") in kinds and ("flow_started", "linked") in kinds
    # call frames do not reset; the caller resets its own set_slots and the called collect steps
    assert conv.tracker.get_slot("recipient") is None and conv.tracker.get_slot("amount") is None


def test_set_slots_payload_parsing(basic_project):
    project = basic_project()
    commands = parse_set_slots("/SetSlots(recipient=bob, amount=null)", project)
    assert commands == [SetSlot("recipient", "bob"), SetSlot("amount", None)]
    assert all(c.extractor == "CommandPayloadReader" for c in commands)
    assert parse_set_slots("/SetSlots(unknown=1)", project) is None
    assert parse_set_slots("hello", project) is None


def test_invalid_payload_goes_to_the_source(basic_project):
    source = ScriptedSource({"SetSlots(unknown=1)": [StartFlow("transfer")]})
    conv = Agent(basic_project(), source).start_conversation("s")
    assert utters(conv.handle_message("/SetSlots(unknown=1)")) == ["utter_ask_recipient"]
    assert source.requests[0].text == "SetSlots(unknown=1)"


def test_intent_payload_triggers_flow(basic_project):
    flows = (
        STEP_FLOWS
        + "  via_intent:\n    description: d\n    nlu_trigger:\n      - intent: hello\n"
        + "    steps:\n      - action: utter_done\n"
    )
    source = ScriptedSource()
    # Rasa only unpacks a `/intent` payload of a domain intent
    conv = Agent(basic_project(flows=flows, domain=BASIC_DOMAIN + "intents:\n  - hello\n"), source).start_conversation(
        "s"
    )
    events = conv.handle_message("/hello")
    assert events[0].parse_data["intent"]["name"] == "hello"
    assert utters(events)[0] == "utter_done"
    assert source.requests == []


def test_session_start_payload_runs_pattern(basic_project):
    flows = (
        STEP_FLOWS
        + "  pattern_session_start:\n    description: d\n    nlu_trigger:\n      - intent: session_start\n"
        + "    steps:\n      - action: utter_done\n"
    )
    conv = Agent(basic_project(flows=flows), ScriptedSource()).start_conversation("s")
    assert utters(conv.handle_message("/session_start")) == ["utter_done"]


def test_fixture_slots_and_session_start_events(basic_project):
    conv = Agent(basic_project(), ScriptedSource()).start_conversation("s", fixture_slots=[("recipient", "zed")])
    names = [e.type_name for e in conv.tracker.events]
    assert names == ["action", "session_started", "action", "slot"]
    assert conv.tracker.get_slot("recipient") == "zed"


def test_custom_session_start_uses_runner(basic_project):
    domain = BASIC_DOMAIN + "  - action_session_start\n"
    runner = StubRunner(
        {
            "action_session_start": ActionResult(
                events=[{"event": "session_started"}, {"event": "slot", "name": "recipient", "value": "x"}]
            )
        }
    )
    conv = Agent(basic_project(domain=domain), ScriptedSource(), runner).start_conversation("s")
    assert runner.calls == ["action_session_start"]
    assert conv.tracker.get_slot("recipient") == "x"


def test_action_error_propagates(basic_project):
    class Failing:
        def run(self, name, tracker, project):
            raise ActionError(name, "not implemented")

    conv = Agent(
        basic_project(), ScriptedSource({"w": [StartFlow("weather"), SetSlot("city", "Paris")]}), Failing()
    ).start_conversation("s")
    try:
        conv.handle_message("w")
    except ActionError as exc:
        assert "action_check" in str(exc)
    else:
        raise AssertionError("ActionError should propagate")


def test_current_state_shape(basic_project):
    runner = StubRunner()
    seen = {}

    def capture(tracker):
        seen.update(tracker.current_state())
        return ActionResult(events=[{"event": "slot", "name": "confirm", "value": True}])

    runner.actions["action_check"] = capture
    project = basic_project()
    conv = Agent(
        project, ScriptedSource({"w": [StartFlow("weather"), SetSlot("city", "Paris")]}), runner
    ).start_conversation("s")
    events = conv.handle_message("w")
    assert SlotSet(key="confirm", value=True) in events
    assert set(seen) == {
        "sender_id",
        "slots",
        "latest_message",
        "latest_event_time",
        "followup_action",
        "paused",
        "events",
        "latest_input_channel",
        "active_loop",
        "latest_action",
        "latest_action_name",
        "stack",
    }
    assert seen["latest_message"]["text"] == "w"
    assert seen["latest_message"]["commands"][0] == {"command": "start flow", "flow": "weather"}
    assert seen["stack"][-1]["flow_id"] == "weather" and seen["stack"][-1]["type"] == "flow"
    assert seen["slots"]["city"] == "Paris"
    assert project.domain.as_dict()["slots"]["city"]["values"] == ["Berlin", "Paris"]


def test_stack_events_replay_to_same_stack(basic_project):
    from pytest_cmdgen.runtime.events import event_from_dict
    from pytest_cmdgen.runtime.tracker import Tracker

    project = basic_project()
    conv = Agent(
        project, ScriptedSource({"send": [StartFlow("transfer")], "w": [StartFlow("weather")]})
    ).start_conversation("s")
    conv.handle_message("send")
    conv.handle_message("w")
    replay = Tracker("r", project.domain)
    for event in conv.tracker.events:
        replay.update(event_from_dict(event.to_dict()))
    assert [f.as_dict() for f in replay.stack] == [f.as_dict() for f in conv.tracker.stack]
