"""ScriptedCommandSource lookups, and the starter packs' command scripts against their test files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_cmdgen.e2e import model as m
from pytest_cmdgen.e2e.parser import parse_e2e_file
from pytest_cmdgen.e2e.scripted_commands import CommandScript, ScriptedCommandSource, ScriptError
from pytest_cmdgen.generator.grammar import parse_commands
from pytest_cmdgen.runtime.commands import SetSlot, StartFlow
from pytest_cmdgen.runtime.events import UserUttered
from pytest_cmdgen.runtime.interfaces import CommandRequest
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.runtime.tracker import Tracker
from tests.support.starter_actions import ASSISTANTS

SCRIPTS = Path(__file__).resolve().parents[1] / "support" / "scripts"
PACKS = {"banking": "starterpack-retail-banking-en", "telco": "starterpack-telco-en"}


BANKING = Project.load(ASSISTANTS / "starterpack-retail-banking-en", "3.13")  # SearchReady: v3 syntax


def req(text: str) -> CommandRequest:
    flows = [BANKING.flows.get(flow_id) for flow_id in ("transfer_money", "list_payees")]
    return CommandRequest(
        message=UserUttered(text=text),
        tracker=Tracker("case one_2024-01-01 00:00:00", BANKING.domain),
        project=BANKING,
        available_flows=flows,
        startable_flows=flows,
        profile=BANKING.profile,
    )


SCRIPT = CommandScript.from_data(
    {
        "conversations": [
            {
                "original_test_case": "tests/a.yml::case one",
                "steps": [
                    {"user": "send money", "llm_commands": ["start flow transfer_money", "start flow unknown_flow"]},
                    {"user": "/SetSlots(x=1)"},
                    {"utter": "utter_ask_amount"},
                    {"user": "55", "llm_commands": ["set slot amount 55"]},
                    {"user": "55", "llm_commands": ["set slot amount 56"]},
                ],
            },
            {"original_test_case": "other/b.yml::case two", "steps": []},
        ]
    }
)


def test_scripted_source_answers_in_order_and_parses_with_the_grammar() -> None:
    source = ScriptedCommandSource(SCRIPT).for_test_case("/abs/path/tests/a.yml::case one")
    first = source.predict(req("send money"))
    assert first.commands == [StartFlow(flow="transfer_money")]  # unknown flow dropped by the parser
    assert first.llm_commands == [{"command": "start flow", "flow": "transfer_money"}]
    assert source.predict(req("55")).commands == [SetSlot(name="amount", value="55")]
    assert source.predict(req("55")).commands == [SetSlot(name="amount", value="56")]  # repeated text
    with pytest.raises(ScriptError, match="no llm_commands for user message '55'"):
        source.predict(req("55"))


def test_unbound_source_finds_the_test_by_sender_id() -> None:
    source = ScriptedCommandSource(SCRIPT)
    assert source.predict(req("send money")).commands == [StartFlow(flow="transfer_money")]


def test_non_strict_source_gives_no_commands() -> None:
    source = ScriptedCommandSource(SCRIPT, strict=False).for_test_case("tests/a.yml::case one")
    assert source.predict(req("something else")).commands == []


def test_unknown_test_case() -> None:
    with pytest.raises(ScriptError, match="no command script"):
        ScriptedCommandSource(SCRIPT).for_test_case("x.yml::nope").predict(req("hi"))


def test_malformed_script() -> None:
    with pytest.raises(ScriptError):
        CommandScript.from_data({"conversations": [{"steps": []}]})
    with pytest.raises(ScriptError):
        CommandScript.from_data(
            {"conversations": [{"original_test_case": "a::b", "steps": [{"user": "x", "llm_commands": "y"}]}]}
        )


def pack_cases(pack: str) -> list[tuple[Path, m.TestCase]]:
    root = ASSISTANTS / PACKS[pack]
    out = []
    for file in sorted((root / "tests").rglob("*.yml")):
        suite = parse_e2e_file(file)
        out.extend((file.relative_to(root), tc) for tc in suite.test_cases)
    return out


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_every_starter_pack_test_case_has_a_matching_script(pack: str) -> None:
    script = CommandScript.load(SCRIPTS / f"{pack}.yml")
    root = ASSISTANTS / PACKS[pack]
    index = json.loads((ASSISTANTS / "test_case_index.json").read_text())["assistants"][PACKS[pack]]
    cases = pack_cases(pack)
    assert len(cases) == len(index) == len(script.conversations)
    from pytest_cmdgen.runtime.project import Project

    project = Project.load(root)
    flow_ids = [f.id for f in project.flows]
    for rel, tc in cases:
        conv = script.find(f"{rel.as_posix()}::{tc.name}")
        assert conv is not None, tc.name
        assert [s.user for s in conv.steps] == [s.text for s in tc.user_steps], tc.name
        for step in conv.steps:
            is_payload = step.user.startswith("/")
            assert (step.llm_commands is None) == is_payload, (tc.name, step.user)
            for line in step.llm_commands or ():
                parsed = parse_commands(line, "v3", flow_ids, project.profile.version)
                assert parsed or line == "cannot handle", (tc.name, line)
