"""Collection of E2E YAML files as pytest items."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

pytest_plugins = ["pytester"]


def _expected_node_ids(tests_dir: Path, root: Path) -> list[str]:
    """Node ids computed independently of the plugin: every test case name in every E2E file."""
    ids = []
    for path in sorted(tests_dir.rglob("*.yml")):
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and "test_cases" in data:
            rel = path.relative_to(root).as_posix()
            ids.extend(f"{rel}::{case['test_case']}" for case in data["test_cases"])
    return ids


@pytest.mark.parametrize(("pack", "count"), [("starterpack-retail-banking-en", 30), ("starterpack-telco-en", 7)])
def test_collects_every_test_case_of_the_starter_packs(
    pytester: pytest.Pytester, assistants_dir: Path, pack: str, count: int
) -> None:
    shutil.copytree(assistants_dir / pack / "tests", pytester.path / "tests")
    result = pytester.runpytest("--collect-only", "-q", "tests")
    listed = [line for line in result.outlines if "::" in line]
    expected = _expected_node_ids(pytester.path / "tests", pytester.path)
    assert len(expected) == count
    assert sorted(listed) == sorted(expected)
    assert result.ret == 0


def _write_suite(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yml",
        **{
            "e2e/transfers": """\
test_cases:
  - test_case: transfer money
    steps:
      - user: I want to send money
      - utter: utter_ask_amount
  - test_case: check balance
    steps:
      - user: what's my balance
      - utter: utter_balance
""",
            "e2e/notes": "title: not an e2e file\nitems: [1, 2]\n",
        },
    )


def test_node_ids_k_and_path_selection(pytester: pytest.Pytester) -> None:
    _write_suite(pytester)
    result = pytester.runpytest("--collect-only", "-q", "e2e")
    assert [line for line in result.outlines if "::" in line] == [
        "e2e/transfers.yml::transfer money",
        "e2e/transfers.yml::check balance",
    ]
    by_k = pytester.runpytest("--collect-only", "-q", "e2e", "-k", "balance")
    assert [line for line in by_k.outlines if "::" in line] == ["e2e/transfers.yml::check balance"]
    by_id = pytester.runpytest("--collect-only", "-q", "e2e/transfers.yml::transfer money")
    assert [line for line in by_id.outlines if "::" in line] == ["e2e/transfers.yml::transfer money"]


def test_ini_e2e_paths_are_collected_without_arguments(pytester: pytest.Pytester) -> None:
    _write_suite(pytester)
    pytester.makeini("[pytest]\ncmdgen_e2e_paths = e2e\n")
    pytester.makepyfile(test_unit="def test_one():\n    pass\n")
    result = pytester.runpytest("--collect-only", "-q")
    ids = [line for line in result.outlines if "::" in line]
    assert "e2e/transfers.yml::transfer money" in ids
    assert "test_unit.py::test_one" in ids


def test_yaml_outside_the_e2e_paths_is_not_collected(pytester: pytest.Pytester) -> None:
    _write_suite(pytester)
    pytester.makepyfile(test_unit="def test_one():\n    pass\n")
    result = pytester.runpytest("--collect-only", "-q")
    assert [line for line in result.outlines if "::" in line] == ["test_unit.py::test_one"]


def test_reportinfo_points_at_the_test_case_line(pytester: pytest.Pytester) -> None:
    _write_suite(pytester)
    items, _ = pytester.inline_genitems("e2e")
    assert [item.location for item in items] == [
        ("e2e/transfers.yml", 1, "e2e: transfer money"),
        ("e2e/transfers.yml", 5, "e2e: check balance"),
    ]


def test_last_failed_reruns_only_the_failed_case(pytester: pytest.Pytester) -> None:
    _write_suite(pytester)
    pytester.makeconftest(
        """
from pytest_cmdgen.plugin.stash import role_of
from pytest_cmdgen.plugin.failures import E2EFailure

def _run(self, item):
    if item.name == "check balance":
        raise E2EFailure(item.name, item.path, 9, "utter: utter_balance", "no bot message in this turn")

def pytest_configure(config):
    role = role_of(config)
    role.run_item = _run.__get__(role)
"""
    )
    first = pytester.runpytest("e2e")
    first.assert_outcomes(passed=1, failed=1)
    second = pytester.runpytest("e2e", "--lf", "-q")
    second.assert_outcomes(passed=0, failed=1)
    assert "check balance" in second.stdout.str()
