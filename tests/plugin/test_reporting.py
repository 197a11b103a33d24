"""Failure reporting of E2E items, driven by a fake outcome (the runtime is replaced in the conftest)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SUITE = """\
test_cases:
  - test_case: transfer money
    steps:
      - user: I want to send money
      - utter: utter_ask_amount
"""

FAKE_RUNTIME = """
from pytest_cmdgen.plugin.stash import role_of
from pytest_cmdgen.errors import InputFileError
from pytest_cmdgen.plugin.failures import E2EFailure

def _run(self, item):
    if item.name == "transfer money":
        raise E2EFailure(
            item.name, item.path.relative_to(item.config.rootpath), 5, "utter: utter_ask_amount",
            "no bot message of this turn came from utter_ask_amount",
            ("  user: I want to send money", "- utter: utter_ask_amount", "+ bot: Which account?"),
        )

def pytest_configure(config):
    role = role_of(config)
    role.run_item = _run.__get__(role)
"""


def test_failure_shows_the_yaml_line_and_an_expected_versus_actual_transcript(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yml", **{"e2e/transfers": SUITE})
    pytester.makeconftest(FAKE_RUNTIME)
    result = pytester.runpytest("e2e")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E2E test case 'transfer money' failed at e2e/transfers.yml:5",
            "  expected: utter: utter_ask_amount",
            "  actual:   no bot message of this turn came from utter_ask_amount",
            "conversation (- expected, + actual):",
            "    user: I want to send money",
            "  - utter: utter_ask_amount",
            "  + bot: Which account?",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "def _run" not in result.stdout.str()  # no Python source in the report


def test_input_error_is_one_clean_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yml", **{"e2e/transfers": SUITE})
    pytester.makeconftest(
        "from pytest_cmdgen.plugin.stash import role_of\n"
        "from pytest_cmdgen.errors import InputFileError\n"
        "from pytest_cmdgen.yamlio import Mark\n"
        "def _run(self, item):\n"
        "    raise InputFileError('domain.yml', Mark(3, 5), 'slots', 'expected a mapping of slot names')\n"
        "def pytest_configure(config):\n    role = role_of(config)\n    role.run_item = _run.__get__(role)\n"
    )
    result = pytester.runpytest("e2e")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["domain.yml:3:5: slots: expected a mapping of slot names"])
    assert "Traceback" not in result.stdout.str()
