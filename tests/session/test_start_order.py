"""Conversations start longest first (most user turns), equal ones in file order."""

from __future__ import annotations

from pathlib import Path

from pytest_cmdgen.session import SessionConfig, discover_cases
from pytest_cmdgen.session.runner import start_order


def _case(name: str, turns: int) -> str:
    steps = "".join(f"      - user: message {i}\n      - utter: utter_{i}\n" for i in range(turns))
    return f"  - test_case: {name}\n    steps:\n{steps}"


def test_the_longest_conversations_start_first_and_equal_ones_keep_file_order(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    lengths = {"one": 1, "three a": 3, "two": 2, "five": 5, "three b": 3, "one again": 1}
    body = "".join(_case(name, turns) for name, turns in lengths.items())
    (tests / "bookings.yml").write_text(f"test_cases:\n{body}", encoding="utf-8")
    cases = discover_cases([tests], SessionConfig(assistant=tmp_path, rootdir=tmp_path))
    assert [c.test_case.name for c in cases] == list(lengths)  # discovery (and reporting) keeps file order
    assert [c.test_case.name for c in start_order(cases)] == ["five", "three a", "three b", "two", "one", "one again"]
