"""``discover_cases`` (the library's collection, for scripts) reports a near-miss E2E file like pytest does."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_cmdgen.errors import CmdgenInputError, describe_error
from pytest_cmdgen.session import SessionConfig, discover_cases, is_e2e_file

CASE = "  - test_case: book\n    steps:\n      - user: hi\n"


def _config(root: Path) -> SessionConfig:
    return SessionConfig(assistant=root, rootdir=root)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            ("# bookings\ntest_case:\n" + CASE).encode(),
            "tests/bookings.yml:2:1: test_case: unknown top-level key; did you mean 'test_cases'?",
        ),
        (
            CASE.replace("  - ", "- ").replace("\n    ", "\n  ").encode(),
            "tests/bookings.yml:1:1: test_cases: expected a top-level mapping with a 'test_cases' key, got a list",
        ),
        (
            b"test_cases:\n  - test_case: caf\xe9\n",
            "tests/bookings.yml:2:19: not UTF-8 text (invalid continuation byte at byte 30)",
        ),
    ],
    ids=["misspelt_key", "top_level_list", "undecodable_bytes"],
)
def test_discover_cases_raises_the_near_miss_with_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "bookings.yml").write_bytes(content)
    (tmp_path / "tests" / "other.yml").write_text("test_cases:\n" + CASE)
    with pytest.raises(CmdgenInputError) as info:
        discover_cases([tmp_path / "tests"], _config(tmp_path), base=tmp_path)
    assert str(info.value).startswith(message)
    assert describe_error(info.value) == str(info.value)


def test_other_project_files_are_not_e2e_files(tmp_path: Path) -> None:
    files = {
        "domain.yml": "version: '3.1'\nslots:\n  a:\n    type: text\nresponses:\n  utter_x:\n  - text: x\n",
        "flows.yml": "flows:\n  f:\n    description: d\n    steps:\n      - action: utter_x\n",
        "config.yml": "recipe: default.v1\npipeline:\n  - name: CompactLLMCommandGenerator\n",
        "endpoints.yml": "action_endpoint:\n  url: http://localhost:5055/webhook\n",
        "script.yml": "conversations:\n  - original_test_case: t.yml::a\n    steps:\n      - user: hi\n",
        "nlu.yml": "nlu:\n- intent: greet\n  examples: |\n    - hi\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert [name for name in files if is_e2e_file(tmp_path / name)] == []
    assert discover_cases([tmp_path], _config(tmp_path), base=tmp_path) == []
