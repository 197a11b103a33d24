"""YAML 1.2 as Rasa reads it, end to end: ``Yes``/``No``/``on``/``off``/``010`` in a test file, a domain, a flow,
slot values and a command script stay what they say (under YAML 1.1 they became booleans and octal numbers).

The assistant (a light switch) is ours; it runs offline from a command script.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_cmdgen.runtime.project import Project

pytest_plugins = ["pytester"]

CONFIG = """\
recipe: default.v1
language: en
assistant_id: lights
pipeline:
  - name: CompactLLMCommandGenerator
    llm:
      model: gpt-4o-2024-11-20
    flow_retrieval:
      active: false
policies:
  - name: FlowPolicy
"""

DOMAIN = """\
version: "3.1"
slots:
  lights:
    type: categorical
    values: [on, off]
    mappings:
      - type: from_llm
  room_code:
    type: text
    mappings:
      - type: from_llm
  confirm:
    type: bool
    mappings:
      - type: from_llm
  heating:
    type: text
    initial_value: on
    mappings:
      - type: controlled
responses:
  utter_ask_lights:
    - text: On or off?
      buttons:
        - title: On
          payload: /SetSlots(lights=on)
        - title: Off
          payload: /SetSlots(lights=off)
  utter_ask_room_code:
    - text: Which room?
  utter_ask_confirm:
    - text: Sure?
      buttons:
        - title: Yes
          payload: /SetSlots(confirm=true)
        - title: No
          payload: /SetSlots(confirm=false)
  utter_done:
    - text: Lights {lights} in room {room_code}, heating {heating}.
  utter_declined:
    - text: No
"""

FLOWS = """\
flows:
  switch_lights:
    description: Switch the lights of a room on or off
    steps:
      - collect: lights
      - collect: room_code
      - collect: confirm
        next:
          - if: slots.confirm
            then:
              - set_slots:
                  - heating: off
              - action: utter_done
                next: END
          - else:
              - action: utter_declined
                next: END
"""

TESTS = """\
test_cases:
  - test_case: lights off in room 010
    steps:
      - user: lights please
      - bot: On or off?
      - user: /SetSlots(lights=off)
      - slot_was_set:
          - lights: off
      - utter: utter_ask_room_code
      - user: room 010
      - slot_was_set:
          - room_code: "010"
      - utter: utter_ask_confirm
      - user: Yes
      - slot_was_set:
          - heating: off
      - bot: Lights off in room 010, heating off.

  - test_case: declined
    steps:
      - user: lights please
        assertions:
          - bot_uttered:
              utter_name: utter_ask_lights
              buttons:
                - title: On
                  payload: /SetSlots(lights=on)
                - title: Off
                  payload: /SetSlots(lights=off)
      - user: /SetSlots(lights=on)
        assertions:
          - slot_was_set:
              - name: lights
                value: on
          - bot_uttered:
              utter_name: utter_ask_room_code
      - user: room 7
        assertions:
          - bot_uttered:
              buttons:
                - title: Yes
                  payload: /SetSlots(confirm=true)
                - title: No
                  payload: /SetSlots(confirm=false)
      - user: No
        assertions:
          - bot_uttered:
              text_matches: No
"""

SCRIPT = """\
conversations:
  - original_test_case: tests/lights.yml::lights off in room 010
    steps:
      - user: lights please
        llm_commands:
          - start flow switch_lights
      - user: room 010
        llm_commands:
          - set slot room_code 010
      - user: Yes
        llm_commands:
          - set slot confirm true
  - original_test_case: tests/lights.yml::declined
    steps:
      - user: lights please
        llm_commands:
          - start flow switch_lights
      - user: room 7
        llm_commands:
          - set slot room_code 7
      - user: No
        llm_commands:
          - set slot confirm false
"""


def write_lights(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "tests").mkdir()
    for name, text in {
        "config.yml": CONFIG,
        "domain.yml": DOMAIN,
        "data/flows.yml": FLOWS,
        "tests/lights.yml": TESTS,
        "commands.yml": SCRIPT,
        "endpoints.yml": "",
    }.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


def test_domain_and_flow_scalars_stay_strings(tmp_path: Path) -> None:
    project = Project.load(write_lights(tmp_path / "lights"))
    assert project.domain.slots["lights"].values == ["on", "off"]
    assert project.domain.slots["heating"].initial_value == "on"
    buttons = project.domain.responses["utter_ask_confirm"][0]["buttons"]
    assert [b["title"] for b in buttons] == ["Yes", "No"]
    assert project.domain.responses["utter_declined"][0]["text"] == "No"
    set_step = next(s for s in project.flows.get("switch_lights").steps if s.kind == "set_slots")
    assert set_step.slot_sets == [("heating", "off")]


def test_the_suite_passes_with_yaml_12_scalars(pytester: pytest.Pytester) -> None:
    write_lights(pytester.path / "lights")
    result = pytester.runpytest(
        "lights/tests", "--cmdgen-assistant", "lights", "--cmdgen-command-script", "lights/commands.yml", "-v"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["cmdgen: assistant *lights, Rasa 3.12 = 3.12.42, its latest patch (inferred: *"])
