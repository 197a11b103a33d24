"""The starter packs end to end: Agent + ScriptedCommandSource + the loopback action server.

Every test case not marked stale in ``test_case_index.json`` must pass; cases that wait on a runtime
behaviour are listed in ``KNOWN_GAPS`` with the behaviour they need. Both are strict xfails, so a case
that starts passing turns the run red until its mark is removed; stale-marked cases that pass here
anyway are listed in ``PASSES_DESPITE_STALE_DATA`` with why. Cases with assertions that need an LLM
judge are listed in ``NEEDS_LLM_JUDGE``: the runner must report them as skipped for that reason (which
means every other assertion passed), and any other outcome fails.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pytest_cmdgen.e2e.judge import GENERATIVE_SKIP_REASON
from pytest_cmdgen.e2e.parser import parse_e2e_file
from pytest_cmdgen.e2e.runner import build_agent, run_test_case
from pytest_cmdgen.e2e.scripted_commands import CommandScript, ScriptedCommandSource
from pytest_cmdgen.runtime.project import Project
from tests.support.knowledge import CannedResponder
from tests.support.starter_actions import ASSISTANTS, action_server_for

SCRIPTS = Path(__file__).resolve().parents[1] / "support" / "scripts"
PACKS = {"banking": "starterpack-retail-banking-en", "telco": "starterpack-telco-en"}
INDEX = json.loads((ASSISTANTS / "test_case_index.json").read_text())["assistants"]

#: Test cases that fail for a known reason outside this harness: name -> the behaviour they wait on.
KNOWN_GAPS: dict[str, str] = {
    "out of scope topics": (
        "expectation from Rasa <= 3.12 (reference rasa-modern-generators §5.11); no command script reaches "
        "flow_started pattern_cannot_handle + utter_cannot_handle on 3.13 - 3.21: the v3 prompt routes off-topic "
        "to 'search and reply' (pattern_search -> EnterpriseSearchPolicy: a generated answer with docs, "
        "pattern_cannot_handle with the default reason -> utter_ask_rephrase without them); 'offtopic reply' "
        "starts pattern_chitchat (3.13+ default utters utter_cannot_handle, but the flow is not "
        "pattern_cannot_handle); 'cannot handle' is not parsed -> CannotHandle(cannot_handle_default) -> "
        "utter_ask_rephrase. utter_cannot_handle under pattern_cannot_handle needs reason cannot_handle_chitchat, "
        "i.e. ChitChat while pattern_chitchat runs action_trigger_chitchat (the <= 3.12 default; telco does not "
        "override pattern_chitchat)"
    ),
}

#: Test cases the index calls stale (a static reading: they name cards/payees/accounts of a user other than
#: the session user) that pass here anyway: name -> why.
PASSES_DESPITE_STALE_DATA: dict[str, str] = {
    "card_blocking - Happy paths no1": (
        "card 3456789034567890 belongs to Mary Brown, not John Smith, but the test fills card_selection with "
        "/SetSlots and block_card never checks the card against the session user's cards"
    ),
}

#: Test cases whose generative_response_is_grounded assertions need an LLM judge: the runner reports them
#: skipped with the judge reason, which it only does when every other assertion of the test passed.
NEEDS_LLM_JUDGE = {"test pattern search"}

#: "Today" for the banking actions: the tests date future payments 12/12/2025.
BANKING_TODAY = dt.date(2025, 6, 1)


def cases() -> list:
    out = []
    for pack, folder in PACKS.items():
        status = {(e["file"], e["test_case"]): e["upstream_status"] for e in INDEX[folder]}
        root = ASSISTANTS / folder
        for file in sorted((root / "tests").rglob("*.yml")):
            rel = file.relative_to(root).as_posix()
            for tc in parse_e2e_file(file).test_cases:
                marks = []
                upstream = status[(rel, tc.name)]
                if upstream.startswith("stale data") and tc.name not in PASSES_DESPITE_STALE_DATA:
                    marks.append(pytest.mark.xfail(reason=f"upstream: {upstream}", strict=True))
                elif tc.name in KNOWN_GAPS:
                    marks.append(pytest.mark.xfail(reason=KNOWN_GAPS[tc.name], strict=True))
                out.append(pytest.param(pack, rel, tc.name, id=f"{pack}:{tc.name}", marks=marks))
    return out


def test_every_listed_case_exists() -> None:
    """A renamed or removed upstream case must not leave a dead entry that no longer marks anything."""
    names = {p.values[2] for p in cases()}
    listed = set(KNOWN_GAPS) | set(PASSES_DESPITE_STALE_DATA) | NEEDS_LLM_JUDGE
    assert listed <= names, sorted(listed - names)


@pytest.fixture(scope="module")
def projects():
    return {pack: Project.load(ASSISTANTS / folder) for pack, folder in PACKS.items()}


@pytest.fixture(scope="module")
def scripts():
    return {pack: CommandScript.load(SCRIPTS / f"{pack}.yml") for pack in PACKS}


def make_agent(project, source, suite, tc, url):
    agent = build_agent(project, source, suite=suite, test_case=tc, action_url=url, action_timeout=10)
    agent.responder = CannedResponder()
    return agent


@pytest.mark.parametrize("pack,rel,name", cases())
def test_starter_pack_case(pack: str, rel: str, name: str, projects, scripts) -> None:
    project = projects[pack]
    suite = parse_e2e_file(ASSISTANTS / PACKS[pack] / rel)
    tc = next(t for t in suite.test_cases if t.name == name)
    kwargs = {"today": BANKING_TODAY} if pack == "banking" else {"year": 2026}
    with action_server_for(pack, **kwargs) as server:
        source = ScriptedCommandSource(scripts[pack]).for_test_case(f"{rel}::{name}")
        agent = make_agent(project, source, suite, tc, server.url)
        run = run_test_case(tc, suite, agent)
    if name in NEEDS_LLM_JUDGE:
        assert run.result.skipped, run.result.describe()
        assert run.result.reason == GENERATIVE_SKIP_REASON.format(kinds="generative_response_is_grounded")
        return
    assert run.passed, run.result.describe() + "\n\nwarnings:\n" + "\n".join(run.warnings)
