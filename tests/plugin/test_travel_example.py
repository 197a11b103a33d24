"""The bundled travel assistant (``examples/travel``), the README's first command, run as a newcomer runs it.

Its E2E tests run inside this suite through the example's own ``conftest.py`` (the scripted server that serves
the recorded LLM answers of ``commands.yml``, offline, no API key), and the datasets it leaves must teach every
v1 command type, with a validation split worth the name and a complete coverage report.
"""

from __future__ import annotations

import csv
import json
import re
import shutil

import pytest
import yaml

from tests.support.paths import EXAMPLES

pytest_plugins = ["pytester"]

TRAVEL = EXAMPLES / "travel"
V1_COMMANDS = {
    "StartFlow", "SetSlot", "CancelFlow", "Clarify", "SkipQuestion", "SearchAndReply", "ChitChat", "HumanHandoff"
}  # fmt: skip
COMMAND = re.compile(r"^([A-Za-z]+)\(", re.MULTILINE)


def _test_cases() -> list[tuple[str, dict]]:
    cases = []
    for path in sorted((TRAVEL / "tests").rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        cases += [(path.relative_to(TRAVEL).as_posix(), case) for case in document["test_cases"]]
    return cases


def _commands(completion: str) -> set[str]:
    return set(COMMAND.findall(completion))


def test_the_example_has_enough_tests_in_both_formats_and_a_recording_for_each() -> None:
    cases = _test_cases()
    assert len(cases) >= 25
    with_assertions = [name for name, case in cases if any("assertions" in step for step in case["steps"])]
    assert 5 <= len(with_assertions) < len(cases), "both E2E formats (steps and assertions) are shown"
    recorded = yaml.safe_load((TRAVEL / "commands.yml").read_text(encoding="utf-8"))["conversations"]
    assert sorted(c["original_test_case"] for c in recorded) == sorted(f"{f}::{c['test_case']}" for f, c in cases)
    llm_turns = {
        (f"{f}::{case['test_case']}", step["user"])
        for f, case in cases
        for step in case["steps"]
        if "user" in step and not str(step["user"]).startswith("/")
    }
    recorded_turns = {(c["original_test_case"], s["user"]) for c in recorded for s in c["steps"]}
    assert recorded_turns == llm_turns
    kinds = {command for c in recorded for s in c["steps"] for line in s["llm_commands"] for command in _commands(line)}
    assert kinds == V1_COMMANDS
    assert all(s.get("passing_rephrasings") for c in recorded for s in c["steps"]), "every turn has paraphrases"


def test_the_readme_first_command_offline_leaves_every_command_in_train_and_a_real_val_split(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # the example's conftest then serves the recordings
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    shutil.copytree(TRAVEL, pytester.path / "examples" / "travel", ignore=shutil.ignore_patterns("__pycache__"))
    result = pytester.runpytest_subprocess(
        "examples/travel/tests", "--cmdgen-assistant", "examples/travel", "--cmdgen-prepare", "-p", "no:cacheprovider"
    )
    outcomes = result.parseoutcomes()
    assert result.ret == 0 and "failed" not in outcomes and "error" not in outcomes, result.stdout.str()[-3000:]
    out = pytester.path / "cmdgen_output"
    summary = yaml.safe_load((out / "result_summary.yaml").read_text())
    assert summary["num_input_e2e_tests"] == summary["num_annotated_conversations"] == len(_test_cases())
    assert summary["num_unvalidated_rephrased_user_messages"] == 0
    splits = out / "4_train_test_split" / "ft_splits"
    train = [json.loads(line) for line in (splits / "train.jsonl").read_text().splitlines()]
    val = [json.loads(line) for line in (splits / "val.jsonl").read_text().splitlines()]
    assert set().union(*(_commands(row["completion"]) for row in train)) == V1_COMMANDS
    assert len(val) >= 20
    assert any(row["prompt"] != val[0]["prompt"] for row in val)  # paraphrases, not one prompt repeated
    with (out / "coverage" / "coverage_report_for_passed_tests.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[-1]["Flow Name"] == "Total" and rows[-1]["Coverage"] == "100.00%", rows
    assert (out / "coverage" / "coverage.json").is_file()
    result.stdout.fnmatch_lines(["*flow coverage (passed tests): 100.0 %*"])
    assert "offline-demo" not in "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
