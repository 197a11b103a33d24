"""Bad E2E files are collection errors for that file only, naming file:line:column, the key and the expectation."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

GOOD = """\
test_cases:
  - test_case: good one
    steps:
      - user: hello
"""

CASES = {
    "malformed_yaml": (
        "test_cases:\n  - test_case: a\n    steps: [\n      - user: hi\n",
        "bad.yml:4:7: invalid YAML",
    ),
    "unknown_step_key": (
        "test_cases:\n  - test_case: a\n    steps:\n      - user: hi\n      - usr: hello\n",
        "bad.yml:5:9: usr: unknown step key; expected one of user, bot, utter, slot_was_set, slot_was_not_set",
    ),
    "slot_set_and_not_set_in_one_step": (
        "test_cases:\n  - test_case: a\n    steps:\n      - slot_was_set: [x]\n        slot_was_not_set: [y]\n",
        "bad.yml:5:9: slot_was_not_set: cannot be in the same step as 'slot_was_set'",
    ),
    "missing_test_case": (
        "test_cases:\n  - steps:\n      - user: hi\n",
        "bad.yml:2:5: test_case: missing; every test case needs a 'test_case: <name>'",
    ),
    "wrong_type_user": (
        "test_cases:\n  - test_case: a\n    steps:\n      - user: 120\n",
        "bad.yml:4:15: user: expected a string (quote it), got a number (120)",
    ),
    "wrong_type_steps": (
        "test_cases:\n  - test_case: a\n    steps: hello\n",
        "bad.yml:3:12: steps: expected a list of steps, got a string",
    ),
    "duplicate_name": (
        "test_cases:\n  - test_case: a\n    steps:\n      - user: hi\n  - test_case: a\n    steps:\n      - user: ho\n",
        "bad.yml:5:5: test_case: duplicate test case name 'a' (first defined on line 2)",
    ),
    "undefined_fixture": (
        "fixtures:\n  - premium:\n      - tier: gold\ntest_cases:\n  - test_case: a\n    fixtures: [premum]\n"
        "    steps:\n      - user: hi\n",
        "bad.yml:6:16: fixtures: undefined fixture 'premum'; defined: premium",
    ),
    "undefined_metadata": (
        "test_cases:\n  - test_case: a\n    metadata: device\n    steps:\n      - user: hi\n",
        "bad.yml:3:15: metadata: undefined metadata 'device'; this file defines none",
    ),
    "unknown_assertion": (
        "test_cases:\n  - test_case: a\n    steps:\n      - user: hi\n        assertions:\n          - flow_begun: x\n",
        "bad.yml:6:13: flow_begun: unknown assertion; expected one of flow_started,",
    ),
    "python_tag_refused": (
        "test_cases: !!python/object/apply:os.system ['echo hacked']\n",
        "bad.yml:1:13: invalid YAML: could not determine a constructor for the tag",
    ),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_bad_file_is_a_one_line_collection_error(pytester: pytest.Pytester, kind: str) -> None:
    text, message = CASES[kind]
    pytester.makefile(".yml", **{"e2e/bad": text, "e2e/good": GOOD})
    result = pytester.runpytest("--collect-only", "-q", "e2e")
    out = result.stdout.str()
    assert message in out
    assert "Traceback" not in out
    assert "e2e/good.yml::good one" in out  # other files keep collecting
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection errors stop the run, as for any test file
    error_block = out.split("ERROR collecting e2e/bad.yml")[1].split("=====")[0]
    assert len([line for line in error_block.splitlines() if line.strip() and not line.startswith("_")]) <= 2


def test_a_bad_file_does_not_stop_the_others_with_continue_on_collection_errors(pytester: pytest.Pytester) -> None:
    text, _ = CASES["unknown_step_key"]
    pytester.makefile(".yml", **{"e2e/bad": text, "e2e/good": GOOD})
    pytester.makeconftest(
        "from pytest_cmdgen.plugin.stash import role_of\n"
        "def pytest_configure(config):\n    role_of(config).run_item = lambda item: None\n"
    )
    result = pytester.runpytest("e2e", "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, errors=1)
