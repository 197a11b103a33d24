"""The starter packs through ``pytest --cmdgen-prepare``, their config.yml and endpoints.yml unchanged.

The LLM is a scripted OpenAI-compatible server on loopback answering from the packs' command scripts (the model
group's base URL comes from OPENAI_BASE_URL); custom actions come from a loopback action server implementing
each pack's ACTIONS.md, handed to the plugin through the pytest_cmdgen_action_runner hook.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_cmdgen.generator.grammar import parse_commands
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from tests.support.paths import ASSISTANTS, REPO

pytest_plugins = ["pytester"]

PACKS = {"banking": "starterpack-retail-banking-en", "telco": "starterpack-telco-en"}

CONFTEST = """
import datetime as dt
from pytest_cmdgen.actions import ChoosingActionRunner
from tests.support.starter_actions import action_server_for

_server = None

def pytest_configure(config):
    global _server
    _server = action_server_for({pack!r}, **{kwargs})
    _server.start()
    config.add_cleanup(_server.stop)

def pytest_cmdgen_action_runner(config, project):
    return ChoosingActionRunner.for_project(project, url=_server.url, timeout=10)
"""


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_prepare_writes_a_v3_dataset(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, pack: str) -> None:
    source = ASSISTANTS / PACKS[pack]
    for part in ("config.yml", "endpoints.yml", "domain", "data", "tests"):
        copy = shutil.copytree if (source / part).is_dir() else shutil.copy
        copy(source / part, pytester.path / part)
    kwargs = "{'today': dt.date(2025, 6, 1)}" if pack == "banking" else "{'year': 2026}"
    pytester.makeconftest(CONFTEST.format(pack=pack, kwargs=kwargs))
    script = REPO / "tests" / "support" / "scripts" / f"{pack}.yml"
    with ScriptedLLMServer(annotations=script) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("PYTHONPATH", str(REPO))
        result = pytester.runpytest_subprocess(
            "tests",
            "--cmdgen-prepare",
            "--cmdgen-num-rephrases",
            "1",
            "--cmdgen-now",
            "2025-06-01T10:00:00",
            "--cmdgen-out",
            "out",
            "-p",
            "no:cacheprovider",
            "-q",
        )
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) > 0, result.stdout.str()
    out = pytester.path / "out"
    rows = [json.loads(line) for line in (out / "3_llm_finetune_data" / "llm_ft_data.jsonl").read_text().splitlines()]
    assert len(rows) >= outcomes["passed"] // 2
    flow_ids = _all_flow_ids(pytester.path)
    for row in rows:
        # SearchReady's prompt, and completions every line of which reads back as a v3 command.
        assert "search and reply" in row["prompt"]
        assert "StartFlow(" not in row["output"] and "SetSlot(" not in row["output"]
        for line in row["output"].splitlines():
            assert parse_commands(line, "v3", flow_ids, "3.13"), line
    assert (out / "4_train_test_split" / "ft_splits" / "train.jsonl").read_text()
    for part in (
        "1_command_annotations",
        "2_rephrasings",
        "4_train_test_split/e2e_tests/train",
        "4_train_test_split/ft_splits/val.jsonl",
        "params.yaml",
        "result_summary.yaml",
    ):
        assert (out / part).exists(), part  # the full layout
    annotations = (out / "1_command_annotations").rglob("*.yml")
    assert any("- start flow " in path.read_text() for path in annotations)  # llm_commands in v3 too


def _all_flow_ids(root: Path) -> list[str]:
    import yaml

    ids: list[str] = []
    for path in (root / "data").rglob("*.yml"):
        data = yaml.safe_load(path.read_text()) or {}
        if isinstance(data, dict) and isinstance(data.get("flows"), dict):
            ids.extend(data["flows"])
    return ids
