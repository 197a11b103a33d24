"""YAML files meant as E2E test files that are not one are collection errors with file:line, not skipped.

A misspelt ``test_cases`` key, a top-level list of test cases or bytes that are not UTF-8 used to be skipped
silently ("no tests ran"); the other YAML files of a project (domain, flows, config, endpoints, a command
script, a rephrase config) kept under the tests path stay out of collection.
"""

from __future__ import annotations

import shutil

import pytest

from tests.support.paths import EXAMPLES

pytest_plugins = ["pytester"]

GOOD = """\
test_cases:
  - test_case: good one
    steps:
      - user: hello
"""

STEPS = "    steps:\n      - user: hi\n      - utter: utter_greet\n"

NEAR_MISSES = {
    "singular_key": (
        ("test_case:\n  - test_case: a\n" + STEPS).encode(),
        "e2e/bad.yml:1:1: test_case: unknown top-level key; did you mean 'test_cases'? "
        "(an E2E test file has a top-level 'test_cases:' key)",
    ),
    "key_without_underscore_after_a_comment": (
        ("# booking tests\n\ntestcases:\n  - test_case: a\n" + STEPS).encode(),
        "e2e/bad.yml:3:1: testcases: unknown top-level key; did you mean 'test_cases'?",
    ),
    "top_level_list": (
        ("- test_case: a\n" + STEPS.replace("    ", "  ", 1)).encode(),
        "e2e/bad.yml:1:1: test_cases: expected a top-level mapping with a 'test_cases' key, got a list; "
        "put 'test_cases:' on a line above the test cases and indent them under it",
    ),
    "undecodable_bytes": (
        b"# caf\xe9 tests\nbooking:\n  - a\n",
        "e2e/bad.yml:1:6: not UTF-8 text (invalid continuation byte at byte 5); save the file as UTF-8",
    ),
}


@pytest.mark.parametrize("kind", sorted(NEAR_MISSES))
def test_a_near_miss_is_a_collection_error_with_file_and_line(pytester: pytest.Pytester, kind: str) -> None:
    content, message = NEAR_MISSES[kind]
    (pytester.path / "e2e").mkdir()
    (pytester.path / "e2e" / "bad.yml").write_bytes(content)
    (pytester.path / "e2e" / "good.yml").write_text(GOOD)
    result = pytester.runpytest("--collect-only", "-q", "e2e")
    out = result.stdout.str()
    assert message in out
    assert "Traceback" not in out
    assert "e2e/good.yml::good one" in out  # the other files keep collecting
    assert result.ret == pytest.ExitCode.INTERRUPTED
    error_block = out.split("ERROR collecting e2e/bad.yml")[1].split("=====")[0]
    shown = [line for line in error_block.splitlines() if line.strip("_ ")]
    assert len(shown) == 1 and shown[0].startswith(message)  # one clean line


def test_a_misspelt_key_alone_fails_the_session_instead_of_running_no_tests(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yml", **{"e2e/booking": "testcases:\n  - test_case: a\n" + STEPS})
    result = pytester.runpytest("e2e")
    result.stdout.fnmatch_lines(["*ERROR collecting e2e/booking.yml*", "e2e/booking.yml:1:1: testcases: *"])
    assert result.ret == pytest.ExitCode.INTERRUPTED  # was NO_TESTS_COLLECTED, with no hint


def test_the_other_yaml_files_of_a_project_under_the_tests_path_stay_ignored(pytester: pytest.Pytester) -> None:
    tests = pytester.path / "e2e"
    tests.mkdir()
    example = EXAMPLES / "car_rental"
    for name in ("domain.yml", "config.yml", "endpoints.yml", "commands.yml"):
        shutil.copy(example / name, tests / name)
    shutil.copy(example / "data" / "flows.yml", tests / "flows.yml")
    (tests / "rephrase.yml").write_text("llm:\n  model: gpt-4o-mini\nprompt_template: rephrase.jinja2\n")
    (tests / "list_of_things.yml").write_text("- apples\n- pears\n")
    (tests / "good.yml").write_text(GOOD)
    result = pytester.runpytest("--collect-only", "-q", "e2e")
    assert [line for line in result.outlines if "::" in line] == ["e2e/good.yml::good one"]
    assert "ERROR" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.OK
