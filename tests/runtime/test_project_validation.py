"""Project validation at load time, like ``rasa data validate``: file:line, the value found, what was expected.

Each case writes a small assistant whose one mistake Rasa's validator refuses (or warns about), and checks
the one-line message; a project with several mistakes gets one error listing each.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_cmdgen.errors import CmdgenInputError, describe_error
from pytest_cmdgen.runtime.errors import ProjectError
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.runtime.validation import ProjectValidationError

DOMAIN = """\
intents:
  - greet
slots:
  destination:
    type: text
  confirmed:
    type: bool
  tags:
    type: list
  returning:
    type: bool
    initial_value: false
responses:
  utter_ask_destination:
    - text: "Where to?"
  utter_ask_confirmed:
    - text: "Book it?"
  utter_booked:
    - text: "Booked."
  utter_bad_destination:
    - text: "We do not go there."
actions:
  - action_book
"""

FLOWS = """\
flows:
  book:
    description: book a trip
    steps:
      - collect: destination
      - collect: confirmed
      - action: action_book
      - action: utter_booked
"""

CONFIG = """\
pipeline:
  - name: SingleStepLLMCommandGenerator
policies:
  - name: FlowPolicy
"""


def _project(root: Path, *, domain: str = DOMAIN, flows: str = FLOWS, config: str = CONFIG) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "config.yml").write_text(textwrap.dedent(config))
    (root / "domain.yml").write_text(textwrap.dedent(domain))
    (root / "data" / "flows.yml").write_text(textwrap.dedent(flows))
    (root / "endpoints.yml").write_text("")
    return root


def _error(root: Path) -> ProjectError:
    with pytest.raises(ProjectError) as info:
        Project.load(root, "3.13")
    error = info.value
    assert isinstance(error, CmdgenInputError)
    assert describe_error(error) == str(error)  # shown as its message, never with a traceback
    return error


def test_the_valid_assistant_loads_without_warnings(tmp_path: Path) -> None:
    project = Project.load(_project(tmp_path), "3.13")
    assert project.warnings == ()


def test_unknown_generator_name_is_named_with_its_line(tmp_path: Path) -> None:
    config = "recipe: default.v1\npipeline:\n  - name: SingleStepLLMComandGenerator\npolicies:\n  - name: FlowPolicy\n"
    error = _error(_project(tmp_path, config=config))
    assert str(error) == (
        f"{tmp_path / 'config.yml'}:3: pipeline[0].name: a component Rasa knows "
        "(got 'SingleStepLLMComandGenerator'; did you mean 'SingleStepLLMCommandGenerator'?)"
    )
    assert error.line == 3


def test_unknown_policy_and_generator_rasa_has_but_this_tool_does_not_run(tmp_path: Path) -> None:
    config = "pipeline:\n  - name: MultiStepLLMCommandGenerator\npolicies:\n  - name: FlowPolicyy\n"
    message = str(_error(_project(tmp_path, config=config)))
    assert "2 problems in the project" in message
    assert (
        f"{tmp_path / 'config.yml'}:2: pipeline[0].name: a command generator pytest-cmdgen runs: "
        "SingleStepLLMCommandGenerator, CompactLLMCommandGenerator, SearchReadyLLMCommandGenerator "
        "(got 'MultiStepLLMCommandGenerator', which it does not run)"
    ) in message
    assert f"{tmp_path / 'config.yml'}:4: policies[0].name: a component Rasa knows (got 'FlowPolicyy'" in message


def test_components_rasa_knows_and_custom_module_paths_are_accepted(tmp_path: Path) -> None:
    config = (
        "pipeline:\n  - name: NLUCommandAdapter\n  - name: addons.my_component.Mine\n"
        "  - name: CompactLLMCommandGenerator\npolicies:\n  - name: FlowPolicy\n  - name: EnterpriseSearchPolicy\n"
    )
    project = Project.load(_project(tmp_path, config=config), "3.13")
    assert project.config.generator is not None and project.config.generator.name == "CompactLLMCommandGenerator"
    assert project.warnings == ()


def test_collecting_a_slot_the_domain_does_not_define(tmp_path: Path) -> None:
    flows = FLOWS.replace("collect: destination", "collect: destinaton")
    error = _error(_project(tmp_path, flows=flows))
    flows_file = tmp_path / "data" / "flows.yml"
    assert str(error).startswith(
        f"{flows_file}:5: flows.book.0_collect_destinaton.collect: a slot defined in the domain "
        "(got 'destinaton', no such slot; did you mean 'destination'?)"
    )
    assert error.line == 5


def test_collect_step_without_utter_ask_or_action_ask(tmp_path: Path) -> None:
    domain = DOMAIN.replace('  utter_ask_confirmed:\n    - text: "Book it?"\n', "")
    error = _error(_project(tmp_path, domain=domain))
    assert str(error) == (
        f"{tmp_path / 'data' / 'flows.yml'}:6: flows.book.1_collect_confirmed: a response 'utter_ask_confirmed' "
        "or an action 'action_ask_confirmed' in the domain to ask for slot 'confirmed' (neither is defined)"
    )


def test_an_ask_action_counts_and_a_prefilled_slot_needs_no_question(tmp_path: Path) -> None:
    domain = DOMAIN.replace('  utter_ask_confirmed:\n    - text: "Book it?"\n', "").replace(
        "  - action_book\n", "  - action_book\n  - action_ask_confirmed\n"
    )
    flows = FLOWS + "  welcome_back:\n    description: greet returning users\n    steps:\n      - collect: returning\n"
    assert Project.load(_project(tmp_path, domain=domain, flows=flows), "3.13").warnings == ()


def test_a_prefilled_slot_asked_before_filling_needs_a_question(tmp_path: Path) -> None:
    flows = (
        FLOWS + "  welcome_back:\n    description: greet returning users\n    steps:\n"
        "      - collect: returning\n        ask_before_filling: true\n"
    )
    error = _error(_project(tmp_path, flows=flows))
    assert str(error).startswith(f"{tmp_path / 'data' / 'flows.yml'}:12: flows.welcome_back.0_collect_returning: ")
    assert "a response 'utter_ask_returning' or an action 'action_ask_returning'" in str(error)


def test_both_utter_ask_and_action_ask_is_refused_like_rasa(tmp_path: Path) -> None:
    domain = DOMAIN.replace("  - action_book\n", "  - action_book\n  - action_ask_destination\n")
    error = _error(_project(tmp_path, domain=domain))
    assert str(error) == (
        f"{tmp_path / 'data' / 'flows.yml'}:5: flows.book.0_collect_destination: one way to ask for slot "
        "'destination': the response 'utter_ask_destination' or the action 'action_ask_destination', not both "
        "(the domain defines both)"
    )


def test_a_response_named_in_a_flow_that_does_not_exist(tmp_path: Path) -> None:
    flows = FLOWS.replace("action: utter_booked", "action: utter_boked")
    error = _error(_project(tmp_path, flows=flows))
    assert str(error) == (
        f"{tmp_path / 'data' / 'flows.yml'}:8: flows.book.3_utter_boked.action: a response defined in the domain "
        "(got 'utter_boked', defined nowhere; did you mean 'utter_booked'?)"
    )


def test_an_action_named_in_a_flow_that_does_not_exist(tmp_path: Path) -> None:
    flows = FLOWS.replace("action: action_book", "action: action_reserve")
    error = _error(_project(tmp_path, flows=flows))
    assert str(error) == (
        f"{tmp_path / 'data' / 'flows.yml'}:7: flows.book.2_action_reserve.action: an action listed under "
        "`actions:` in the domain, a response or a built-in action (got 'action_reserve', defined nowhere)"
    )


def test_builtin_actions_default_responses_and_patterns_count_as_defined(tmp_path: Path) -> None:
    flows = FLOWS + (
        "  help:\n    description: hand over\n    steps:\n"
        "      - action: utter_can_do_something_else\n"  # a default pattern response
        "      - action: action_restart\n"  # a built-in action
        '      - action: "{context.collect}"\n'  # interpolated: Rasa skips it too
        "      - link: pattern_human_handoff\n"  # a default pattern
    )
    assert Project.load(_project(tmp_path, flows=flows), "3.13").warnings == ()


@pytest.mark.parametrize("kind", ["link", "call"])
def test_a_link_or_call_to_an_unknown_flow(tmp_path: Path, kind: str) -> None:
    flows = FLOWS + f"      - {kind}: bok\n"
    error = _error(_project(tmp_path, flows=flows))
    assert str(error) == (
        f"{tmp_path / 'data' / 'flows.yml'}:9: flows.book.4_{kind}_bok: an existing flow to {kind} "
        "(got 'bok', no such flow; did you mean 'book'?)"
    )


def test_a_slot_type_that_is_not_allowed_says_what_was_given(tmp_path: Path) -> None:
    domain = DOMAIN.replace("  destination:\n    type: text", "  destination:\n    type: string")
    error = _error(_project(tmp_path, domain=domain))
    assert str(error) == (
        f"{tmp_path / 'domain.yml'}:5: slots.destination.type: one of text, bool, float, categorical, any, list "
        "(got 'string')"
    )


def test_a_list_slot_collected_in_a_flow_is_refused_like_rasa(tmp_path: Path) -> None:
    domain = DOMAIN.replace("responses:\n", 'responses:\n  utter_ask_tags:\n    - text: "Tags?"\n')
    flows = FLOWS + "      - collect: tags\n"
    error = _error(_project(tmp_path, domain=domain, flows=flows))
    assert str(error).startswith(f"{tmp_path / 'data' / 'flows.yml'}:9: flows.book.4_collect_tags.collect: ")
    assert "(got 'tags', a list slot: Rasa does not support them in flows)" in str(error)


def test_every_problem_of_the_project_is_reported_at_once(tmp_path: Path) -> None:
    domain = DOMAIN.replace("type: bool\n  tags", "type: boolean\n  tags")
    flows = (
        FLOWS.replace("collect: destination", "collect: origin").replace("action: utter_booked", "action: utter_x")
        + "      - set_slots:\n          - paid: true\n      - link: checkout\n"
    )
    config = CONFIG.replace("SingleStepLLMCommandGenerator", "SingleStepCommandGenerator")
    error = _error(_project(tmp_path, domain=domain, flows=flows, config=config))
    assert isinstance(error, ProjectValidationError)
    flows_file, domain_file, config_file = (
        tmp_path / "data" / "flows.yml",
        tmp_path / "domain.yml",
        tmp_path / "config.yml",
    )
    lines = str(error).splitlines()
    assert lines[0] == f"{tmp_path}: 6 problems in the project (checked like `rasa data validate`):"
    assert [line.split(": ")[0].strip() for line in lines[1:]] == [
        f"{config_file}:2",
        f"{domain_file}:7",
        f"{flows_file}:5",
        f"{flows_file}:8",
        f"{flows_file}:9",
        f"{flows_file}:11",
    ]
    assert "(got 'SingleStepCommandGenerator'; did you mean 'SingleStepLLMCommandGenerator'?)" in lines[1]
    assert "slots.confirmed.type: one of text, bool, float, categorical, any, list (got 'boolean')" in lines[2]
    assert "collect: a slot defined in the domain (got 'origin', no such slot)" in lines[3]
    assert "(got 'utter_x', defined nowhere)" in lines[4]
    assert "set_slots: a slot defined in the domain (got 'paid', no such slot)" in lines[5]
    assert "an existing flow to link (got 'checkout', no such flow)" in lines[6]
    assert [p.line for p in error.problems] == [2, 7, 5, 8, 9, 11]


def test_what_rasa_only_warns_about_is_a_warning(tmp_path: Path) -> None:
    flows = (
        FLOWS.replace(
            "      - collect: destination\n",
            '      - collect: destination\n        rejections:\n          - if: slots.destination = "moon"\n'
            "            utter: utter_no_moon\n",
        )
        + "    nlu_trigger:\n      - intent: book_trip\n"
    )
    project = Project.load(_project(tmp_path, flows=flows), "3.13")
    flows_file = tmp_path / "data" / "flows.yml"
    assert [str(w) for w in project.warnings] == [
        f"{flows_file}:5: flows.book.0_collect_destination.rejections: no response 'utter_no_moon' in the domain: "
        "a rejected value is refused without a word (Rasa does not check this before running)",
        f"{flows_file}:13: flows.book.nlu_trigger: the intent 'book_trip' is not listed in the domain "
        "(Rasa warns: add it to `intents:`)",
    ]
