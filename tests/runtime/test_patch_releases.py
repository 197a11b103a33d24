"""Corrections and slot validation per Rasa patch release, the version a project pins, and the header.

Rasa changed, inside the 3.11 – 3.14 lines, which slots a ``set slot`` may correct, what a correction of a
slot no visited step fills does, and more (``versions.PATCH_HISTORY``, bisected from every wheel). From 3.12
the slots ``action_correct_flow_slot`` corrected are validated once the next action ran; the validate frames of
several slots go on the stack in the order Rasa executes the commands. The assistant (a parcel service) is ours;
its user turns are answered by the package's command-script source.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_cmdgen.e2e.scripted_commands import CommandScript, ScriptedCommandSource
from pytest_cmdgen.runtime.agent import Agent, Conversation
from pytest_cmdgen.runtime.events import Event, FlowStarted, SlotSet
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.runtime.version_inference import PinnedVersion, pinned_version
from pytest_cmdgen.versions import PATCH_HISTORY, PROFILES, REFERENCE_PATCH, profile_for, version_label
from tests.runtime.conftest import utters, write_project
from tests.support.paths import ASSISTANTS, EXAMPLES

pytest_plugins = ["pytester"]

DOMAIN = """
slots:
  weight:
    type: float
    mappings: [{type: from_llm}]
    validation:
      rejections:
        - if: slots.weight > 30
          utter: utter_too_heavy
  destination:
    type: text
    mappings: [{type: from_llm}]
    validation:
      rejections:
        - if: slots.destination contains "moon"
          utter: utter_no_moon
  confirm:
    type: bool
    mappings: [{type: from_llm}]
  nickname:
    type: text
    mappings: [{type: from_llm}]
responses:
  utter_ask_weight:
    - text: "How heavy is the parcel?"
  utter_ask_destination:
    - text: "Where to?"
  utter_ask_confirm:
    - text: "Send it?"
  utter_ask_nickname:
    - text: "Your nickname?"
  utter_too_heavy:
    - text: "We take parcels up to 30 kg."
  utter_no_moon:
    - text: "We do not deliver to the moon."
  utter_sent:
    - text: "Sent {weight} kg to {destination}."
"""

FLOWS = """
flows:
  send_parcel:
    description: send a parcel
    steps:
      - collect: weight
      - collect: destination
      - collect: confirm
      - action: utter_sent
  set_nickname:
    description: set your nickname
    steps:
      - collect: nickname
"""

COMMANDS = {
    "send a parcel": ["StartFlow(send_parcel)"],
    "5": ["SetSlot(weight, 5)"],
    "50": ["SetSlot(weight, 50)"],
    "Paris": ["SetSlot(destination, Paris)"],
    "make it 50 kg": ["SetSlot(weight, 50)"],
    "50 kg to the moon": ["SetSlot(weight, 50)", "SetSlot(destination, moon)"],
    "to the moon, 50 kg": ["SetSlot(destination, moon)", "SetSlot(weight, 50)"],
    "call me Bob": ["SetSlot(nickname, Bob)"],
}


def converse(
    tmp_path: Path, version: str, messages: list[str], fixture: list[tuple[str, str]] | None = None
) -> tuple[Conversation, list[list[Event]]]:
    """Run ``messages`` through the parcel assistant at ``version``; the events of each turn."""
    project = Project.load(write_project(tmp_path / version, DOMAIN, FLOWS), version)
    script = CommandScript.from_data(
        {
            "conversations": [
                {
                    "original_test_case": "parcel.yml::case",
                    "steps": [{"user": text, "llm_commands": COMMANDS[text]} for text in messages],
                }
            ]
        }
    )
    source = ScriptedCommandSource(script).for_test_case("parcel.yml::case")
    conversation = Agent(project, source).start_conversation("case", fixture_slots=fixture)
    return conversation, [conversation.handle_message(text) for text in messages]


ANSWERS = {"utter_too_heavy": "5", "utter_no_moon": "Paris"}
"""A valid answer after each rejection."""
REFILL = {"utter_too_heavy": "utter_ask_weight", "utter_no_moon": "utter_ask_destination"}


def validated(events: list[Event]) -> int:
    """How many pattern_validate_slot frames started."""
    return sum(isinstance(e, FlowStarted) and e.flow_id == "pattern_validate_slot" for e in events)


def validate_frames(conversation: Conversation) -> list[str]:
    """The slots of the pattern_validate_slot frames on the stack, bottom to top."""
    return [str(f.fields["validate"]) for f in conversation.tracker.stack if f.type == "pattern_validate_slot"]


# --- the version profile --------------------------------------------------------------------------------


def test_each_line_replays_to_its_profile_at_the_reference_patch() -> None:
    for line, patch in REFERENCE_PATCH.items():
        assert profile_for(f"{line}.{patch}") == replace(PROFILES[line], patch=patch)
        assert profile_for(line) == profile_for(f"{line}.{patch}")
    for line, history in PATCH_HISTORY.items():
        start = history[0]
        assert start[0] == 0
        for _, changes in history[1:]:
            assert set(changes) <= set(start[1]), f"{line}: a change without a value at {line}.0"
    assert profile_for("3.12.6").release == "3.12.6"
    assert profile_for("3.16").release == "3.16.0"


@pytest.mark.parametrize(
    ("requested", "label"),
    [
        ("3.12", "3.12 = 3.12.42, its latest patch"),
        ("3.12.6", "3.12.6"),
        ("3.13", "3.13 = 3.13.9"),
        ("3.14", "3.14 = 3.14.29, its latest patch"),
        ("3.10", "3.10"),
        ("3.16.3", "3.16.3"),
    ],
)
def test_the_version_label_names_the_patch_release(requested: str, label: str) -> None:
    assert version_label(profile_for(requested), requested) == label


# --- which slots a set slot may correct -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "correction"),
    [
        ("3.12.6", True),
        ("3.12.23", True),
        ("3.12.24", True),
        ("3.12.29", True),
        ("3.12.30", False),
        ("3.12", False),
        ("3.13.0", True),
        ("3.13.6", True),
        ("3.13.7", False),
        ("3.16", False),
    ],
)
def test_a_value_given_again_after_a_rejection(tmp_path: Path, version: str, correction: bool) -> None:
    """The rejected weight is reset to None while pattern_validate_slot waits: up to 3.12.29 the weight's visited
    collect step (or its SlotSet) still makes the new value a correction; from 3.12.30 a slot must have a value."""
    conversation, turns = converse(tmp_path, version, ["send a parcel", "50", "5"])
    assert utters(turns[1]) == ["utter_too_heavy", "utter_ask_weight"]
    assert ("utter_corrected_previous_input" in utters(turns[2])) is correction
    assert conversation.tracker.get_slot("weight") == 5.0
    assert "utter_ask_destination" in utters(turns[2])


@pytest.mark.parametrize(
    ("version", "correction"),
    [("3.11.17", False), ("3.11.18", True), ("3.12.6", False), ("3.12.24", True), ("3.12", True)],
)
def test_a_slot_set_before_but_not_yet_asked(tmp_path: Path, version: str, correction: bool) -> None:
    """A fixture set the destination; the user names another one before the flow asks: only the visited collect
    steps count up to 3.11.17 / 3.12.23 (a plain answer), every slot set before from 3.11.18 / 3.12.24."""
    conversation, turns = converse(tmp_path, version, ["send a parcel", "Paris"], fixture=[("destination", "Berlin")])
    assert ("utter_corrected_previous_input" in utters(turns[1])) is correction
    assert conversation.tracker.get_slot("destination") == "Paris"


@pytest.mark.parametrize(("version", "corrected"), [("3.12.28", True), ("3.12.29", False), ("3.13.4", True)])
def test_a_correction_needs_its_slot_in_a_flow_on_the_stack_from_3_12_29(
    tmp_path: Path, version: str, corrected: bool
) -> None:
    """The nickname (set by a fixture) belongs to another flow: 3.12.24 – 3.12.28 correct it anyway, from
    3.12.29 (3.13.5) ``should_correct_slot`` drops the correction."""
    conversation, turns = converse(tmp_path, version, ["send a parcel", "call me Bob"], fixture=[("nickname", "Al")])
    assert conversation.tracker.get_slot("nickname") == ("Bob" if corrected else "Al")
    assert ("utter_corrected_previous_input" in utters(turns[1])) is corrected


# --- validation after a correction ----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.12.6", "3.12", "3.13", "3.16"])
def test_a_corrected_value_is_validated(tmp_path: Path, version: str) -> None:
    conversation, turns = converse(tmp_path, version, ["send a parcel", "5", "Paris", "make it 50 kg", "5"])
    assert utters(turns[3]) == ["utter_corrected_previous_input", "utter_too_heavy", "utter_ask_weight"]
    assert [e.value for e in turns[3] if isinstance(e, SlotSet) and e.key == "weight"][-1] is None  # rejected
    assert utters(turns[4])[-1] == "utter_ask_confirm"  # destination kept; the flow goes on
    assert conversation.tracker.get_slot("weight") == 5.0


def test_before_312_a_corrected_value_is_not_validated(tmp_path: Path) -> None:
    conversation, turns = converse(tmp_path, "3.11", ["send a parcel", "5", "Paris", "make it 50 kg"])
    assert utters(turns[3]) == ["utter_corrected_previous_input", "utter_ask_confirm"]
    assert conversation.tracker.get_slot("weight") == 50.0


@pytest.mark.parametrize(
    ("message", "first", "second"),
    [
        ("50 kg to the moon", "utter_too_heavy", "utter_no_moon"),
        ("to the moon, 50 kg", "utter_no_moon", "utter_too_heavy"),
    ],
)
@pytest.mark.parametrize("version", ["3.12.6", "3.12"])
def test_several_corrected_slots_are_validated_in_the_llm_order(
    tmp_path: Path, version: str, message: str, first: str, second: str
) -> None:
    """action_correct_flow_slot sets the slots in the LLM's order; Rasa collects their validate frames from the
    newest SlotSet back and pushes them in that order, so the slot the LLM named first is validated first."""
    answer = ANSWERS[first]
    _, turns = converse(tmp_path, version, ["send a parcel", "5", "Paris", message, answer])
    assert utters(turns[3])[:2] == ["utter_corrected_previous_input", first]
    assert second in utters(turns[4])


@pytest.mark.parametrize(
    ("message", "first", "second"),
    [
        ("50 kg to the moon", "utter_too_heavy", "utter_no_moon"),
        ("to the moon, 50 kg", "utter_no_moon", "utter_too_heavy"),
    ],
)
@pytest.mark.parametrize("version", ["3.12.6", "3.12", "3.16"])
def test_several_slots_of_one_message_are_validated_in_the_llm_order(
    tmp_path: Path, version: str, message: str, first: str, second: str
) -> None:
    """``execute_commands`` runs the commands in reverse and pushes each SlotSet's validate frame in that order:
    the frame of the slot the LLM named first ends on top and is validated first."""
    _, turns = converse(tmp_path, version, ["send a parcel", message, ANSWERS[first]])
    assert utters(turns[1]) == [first, REFILL[first]]
    assert second in utters(turns[2])


def test_a_correction_validates_only_its_own_conversations_slots(tmp_path: Path) -> None:
    """Rasa's shared default list would push the first conversation's validate frame again in the second."""
    first, turns = converse(tmp_path / "a", "3.12", ["send a parcel", "5", "Paris", "make it 50 kg"])
    assert validated(turns[3]) == 1
    assert validate_frames(first) == ["weight"]
    second, turns = converse(tmp_path / "b", "3.12", ["send a parcel", "5", "Paris", "50 kg to the moon"])
    assert validated(turns[3]) == 1  # the weight (on top) is rejected; the destination waits below it
    assert validate_frames(second) == ["destination", "weight"]  # nothing left over from the first conversation


# --- the version the project pins -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "pinned"),
    [
        ("requirements.txt", "rasa-sdk==3.12.0\nrasa-pro==3.12.6 --hash=sha256:00\n", "3.12.6"),
        ("requirements-prod.txt", "rasa_pro[full] == 3.12.28  # pinned\n", "3.12.28"),
        ("uv.lock", '[[package]]\nname = "rasa-pro"\nversion = "3.13.7"\nsource = { registry = "x" }\n', "3.13.7"),
        ("poetry.lock", '[[package]]\nname = "rasa-pro"\nversion = "3.12.30"\ndescription = ""\n', "3.12.30"),
        ("pyproject.toml", '[project]\ndependencies = ["rasa-pro==3.14.2"]\n', "3.14.2"),
        ("pyproject.toml", '[tool.poetry.dependencies]\nrasa-pro = "3.11.18"\n', "3.11.18"),
        ("pyproject.toml", '[tool.poetry.dependencies]\nrasa-pro = {version = "3.12.6", extras = ["x"]}\n', "3.12.6"),
        ("requirements.txt", "rasa-pro>=3.12.6\n", None),
        ("pyproject.toml", '[tool.poetry.dependencies]\nrasa-pro = "^3.12.6"\n', None),
    ],
)
def test_pinned_versions_are_read_from_lock_and_requirements_files(
    tmp_path: Path, name: str, text: str, pinned: str | None
) -> None:
    (tmp_path / name).write_text(text)
    assert pinned_version(tmp_path) == (PinnedVersion(pinned, name) if pinned else None)


def test_a_lock_file_wins_over_requirements(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("rasa-pro==3.12.6\n")
    (tmp_path / "uv.lock").write_text('[[package]]\nname = "rasa-pro"\nversion = "3.12.42"\n')
    assert pinned_version(tmp_path) == PinnedVersion("3.12.42", "uv.lock")


def test_the_pinned_version_is_used_unless_one_is_given(tmp_path: Path) -> None:
    root = Path(shutil.copytree(EXAMPLES / "car_rental", tmp_path / "car_rental"))
    (root / "requirements.txt").write_text("rasa-pro==3.12.6\n")
    project = Project.load(root)
    assert (project.profile.release, project.version_reason) == (
        "3.12.6",
        "pinned: requirements.txt names rasa-pro==3.12.6",
    )
    assert project.profile.correction_eligible == "visited"
    assert Project.load(root, "3.15").version_reason == "given"
    (root / "requirements.txt").write_text("rasa-pro==3.9.17\n")
    project = Project.load(root)
    assert project.profile.version == "3.10"
    assert project.version_reason == (
        "inferred: no feature newer than 3.10; "
        "requirements.txt pins rasa-pro 3.9.17, which this tool does not reproduce"
    )


def test_the_header_names_the_pinned_patch_release(pytester: pytest.Pytester) -> None:
    shutil.copytree(EXAMPLES / "car_rental", pytester.path / "car_rental", ignore=shutil.ignore_patterns("conftest.py"))
    (pytester.path / "car_rental" / "poetry.lock").write_text('[[package]]\nname = "rasa-pro"\nversion = "3.12.6"\n')
    result = pytester.runpytest("car_rental/tests", "--cmdgen-assistant", "car_rental", "--collect-only")
    result.stdout.fnmatch_lines(
        ["cmdgen: assistant *car_rental, Rasa 3.12.6 (pinned: poetry.lock names rasa-pro==3.12.6), commands from *"]
    )
    result = pytester.runpytest(
        "car_rental/tests", "--cmdgen-assistant", "car_rental", "--cmdgen-rasa-version", "3.12", "--collect-only"
    )
    result.stdout.fnmatch_lines(["cmdgen: assistant *car_rental, Rasa 3.12 = 3.12.42, its latest patch (given), *"])


@pytest.mark.parametrize(
    ("pack", "shown"),
    [
        ("starterpack-retail-banking-en", "Rasa 3.13 = 3.13.9 (inferred: uses SearchReadyLLMCommandGenerator)"),
        ("starterpack-telco-en", "Rasa 3.16 (inferred: uses the gpt-5.1-2025-11-13 model for the command generator)"),
    ],
)
def test_the_starter_packs_header(pytester: pytest.Pytester, pack: str, shown: str) -> None:
    result = pytester.runpytest(
        str(ASSISTANTS / pack / "tests"), "--cmdgen-assistant", str(ASSISTANTS / pack), "--collect-only"
    )
    result.stdout.fnmatch_lines([f"cmdgen: assistant *{pack}, {shown}, commands from *"])


def test_a_patch_release_on_the_command_line(pytester: pytest.Pytester) -> None:
    shutil.copytree(EXAMPLES / "car_rental", pytester.path / "car_rental", ignore=shutil.ignore_patterns("conftest.py"))
    args = ("car_rental/tests", "--cmdgen-assistant", "car_rental", "--collect-only")
    pytester.runpytest(*args, "--cmdgen-rasa-version", "3.12.6").stdout.fnmatch_lines(
        ["cmdgen: assistant *car_rental, Rasa 3.12.6 (given), *"]
    )
    result = pytester.runpytest(*args, "--cmdgen-rasa-version", "3.12.x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*expected a Rasa version X.Y or X.Y.Z from 3.10 to 3.21, got '3.12.x'*"])
