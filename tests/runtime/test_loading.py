"""Project loading: starter packs, step ids, line tracking and file:line errors."""

from __future__ import annotations

import pytest

from pytest_cmdgen.runtime.errors import ProjectError
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.versions import UnknownVersionError, profile_for
from pytest_cmdgen.yamlio import Mark, load_marked
from tests.runtime.conftest import ASSISTANTS, BASIC_DOMAIN, write_project


@pytest.mark.parametrize("version", ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15", "3.16", "3.21"])
@pytest.mark.parametrize("pack", ["starterpack-retail-banking-en", "starterpack-telco-en"])
def test_starter_packs_load_for_every_version(pack, version):
    project = Project.load(ASSISTANTS / pack, version)
    assert project.config.generator.name == "SearchReadyLLMCommandGenerator"
    assert "pattern_collect_information" in project.flows
    assert project.flows.get("pattern_search").steps[0].action == "action_trigger_search"


def test_retail_details():
    project = Project.load(ASSISTANTS / "starterpack-retail-banking-en", "3.13")
    flow = project.flows.get("transfer_money")
    assert [s.id for s in flow.steps][:6] == [
        "0_utter_transfer_money_understand",
        "1_collect_account_from",
        "2_collect_payee_name",
        "3_action_check_payee_existence",
        "4_call_add_payee",
        "get_transfer_amount",
    ]
    assert flow.steps[1].metadata["line_numbers"].startswith("6-")
    assert project.endpoints.actions_module == "actions"
    assert "openai-direct-gpt-4o" in project.endpoints.model_groups
    assert project.config.generator.max_characters == 420
    assert project.domain.responses["utter_chitchat"][0]["text"] == "Hello, how can I help you today?"
    assert project.domain.slots["confirm_correction"].type == "bool"


def test_telco_guard_and_controlled_slot():
    project = Project.load(ASSISTANTS / "starterpack-telco-en", "3.16")
    assert project.flows.get("understand_bill").guard == "slots.user_authenticated"
    assert project.domain.slots["customer_first_name"].mapping_types == ["controlled"]
    assert "mocked_datetime" in project.domain.slots


def test_yaml_positions():
    data = load_marked("a: 1\nb:\n  - x\n  - y: 2\n", "<string>")
    assert data.key_mark("b") == Mark(2, 1)
    assert data["b"].item_mark(1) == Mark(4, 5)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    root = write_project(tmp_path, BASIC_DOMAIN, "flows:\n  a:\n    steps: [\n")
    with pytest.raises(ProjectError) as info:
        Project.load(root)
    assert "flows.yml:" in str(info.value)


def test_bad_step_reports_line(tmp_path):
    flows = "flows:\n  f:\n    description: d\n    steps:\n      - collect: x\n      - foo: bar\n"
    root = write_project(tmp_path, BASIC_DOMAIN, flows)
    with pytest.raises(ProjectError) as info:
        Project.load(root)
    message = str(info.value)
    assert message.startswith(f"{root / 'data' / 'flows.yml'}:6: flows.f.steps[1]: exactly one of")


def test_unknown_next_target(tmp_path):
    flows = "flows:\n  f:\n    description: d\n    steps:\n      - action: utter_done\n        next: nowhere\n"
    root = write_project(tmp_path, BASIC_DOMAIN, flows)
    with pytest.raises(ProjectError, match=r"flows.yml:5: flows.f.0_utter_done.next: an existing step id"):
        Project.load(root)


def test_if_without_else(tmp_path):
    flows = (
        "flows:\n  f:\n    description: d\n    steps:\n      - action: utter_done\n"
        "        next:\n          - if: slots.x\n            then: END\n"
    )
    root = write_project(tmp_path, BASIC_DOMAIN, flows)
    with pytest.raises(ProjectError, match=r":6: flows.f.steps\[0\].next: an `else` branch"):
        Project.load(root)


def test_bad_slot_type(tmp_path):
    root = write_project(tmp_path, "slots:\n  a:\n    type: number\n", "flows: {}\n")
    with pytest.raises(ProjectError, match=r"domain.yml:3: slots.a.type: one of text"):
        Project.load(root)


def test_missing_model_group(tmp_path):
    config = "pipeline:\n- name: CompactLLMCommandGenerator\n  llm:\n    model_group: nope\n"
    root = write_project(tmp_path, BASIC_DOMAIN, "flows: {}\n", config=config)
    with pytest.raises(ProjectError, match=r"config.yml:4: CompactLLMCommandGenerator.llm.model_group"):
        Project.load(root)


def test_non_flow_files_are_skipped_and_domain_directory_merges(tmp_path):
    root = write_project(
        tmp_path, BASIC_DOMAIN, "flows:\n  f:\n    description: d\n    steps:\n      - action: utter_done\n"
    )
    (root / "data" / "nlu.yml").write_text("nlu:\n- intent: greet\n")
    (root / "domain.yml").unlink()
    (root / "domain").mkdir()
    (root / "domain" / "a.yml").write_text("slots:\n  a:\n    type: text\n")
    (root / "domain" / "b.yml").write_text("responses:\n  utter_done:\n  - text: ok\n")
    project = Project.load(root)
    assert "a" in project.domain.slots and "utter_done" in project.domain.responses
    assert [f.id for f in project.flows.user_flows] == ["f"]


def test_user_flows_override_patterns(tmp_path):
    flows = "flows:\n  pattern_completed:\n    description: d\n    steps:\n      - action: utter_done\n"
    project = Project.load(write_project(tmp_path, BASIC_DOMAIN, flows))
    assert project.flows.get("pattern_completed").steps[0].action == "utter_done"


def test_version_profiles():
    assert profile_for("3.13.9").version == "3.13"
    assert profile_for(None).version == "3.13"
    assert profile_for("3.10").unknown_slot_cannot_handle is False
    assert profile_for("3.18").human_handoff_command is False
    with pytest.raises(UnknownVersionError):
        profile_for("2.8")
