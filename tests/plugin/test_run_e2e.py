"""E2E items run through the runtime: the bundled car-rental example, offline, with a command script."""

from __future__ import annotations

import shutil

import pytest

from tests.support.paths import EXAMPLES

pytest_plugins = ["pytester"]


@pytest.fixture
def car_rental(pytester: pytest.Pytester):
    shutil.copytree(EXAMPLES / "car_rental", pytester.path / "car_rental")
    return pytester.path / "car_rental"


def _run(pytester: pytest.Pytester, *extra: str) -> pytest.RunResult:
    return pytester.runpytest(
        "car_rental/tests",
        "--cmdgen-assistant",
        "car_rental",
        "--cmdgen-command-script",
        "car_rental/commands.yml",
        *extra,
    )


def test_example_passes_offline(pytester: pytest.Pytester, car_rental) -> None:
    _run(pytester).assert_outcomes(passed=4)


def test_a_wrong_expectation_fails_with_the_yaml_line_and_transcript(pytester: pytest.Pytester, car_rental) -> None:
    tests = car_rental / "tests" / "rental.yml"
    tests.write_text(tests.read_text().replace("utter: utter_booking_confirmed", "utter: utter_booking_declined"))
    result = _run(pytester, "-k", "book and not opening")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E2E test case 'book a car' failed at car_rental/tests/rental.yml:23",
            "  expected: utter: utter_booking_declined",
            "*- utter: utter_booking_declined",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_script_without_the_message_fails_that_item_only(pytester: pytest.Pytester, car_rental) -> None:
    script = car_rental / "commands.yml"
    script.write_text(script.read_text().replace("- user: next Monday", "- user: next Tuesday"))
    result = _run(pytester)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["the command script of 'tests/rental.yml::book a car' has no llm_commands for user message 'next Monday'*"]
    )


def test_a_broken_project_fails_each_item_with_one_line(pytester: pytest.Pytester, car_rental) -> None:
    (car_rental / "domain.yml").write_text("slots:\n  trip_destination:\n    type: textual\n")
    result = _run(pytester)
    result.assert_outcomes(failed=4)
    out = result.stdout.str()
    assert "domain.yml:3" in out
    assert "Traceback" not in out


def test_the_hooks_supply_the_command_source(pytester: pytest.Pytester, car_rental) -> None:
    pytester.makeconftest(
        """
from pytest_cmdgen.runtime.agent import CommandPrediction
from pytest_cmdgen.runtime.commands import CancelFlow, StartFlow

class Source:
    def predict(self, request):
        if request.text == "when are your desks open?":
            return CommandPrediction([StartFlow("opening_hours")])
        return CommandPrediction([CancelFlow()])

def pytest_cmdgen_command_source(config, project):
    return Source()
"""
    )
    tests = car_rental / "tests" / "rental.yml"
    tests.write_text(
        "test_cases:\n  - test_case: hours\n    steps:\n      - user: when are your desks open?\n"
        "      - utter: utter_opening_hours\n"
    )
    pytester.runpytest("car_rental/tests", "--cmdgen-assistant", "car_rental").assert_outcomes(passed=1)


def test_without_xdist_installed_the_plugin_registers_no_xdist_hooks(pytester: pytest.Pytester, car_rental) -> None:
    pytester.makeconftest(
        "def pytest_sessionfinish(session):\n"
        "    print('xdist hooks:', session.config.pluginmanager.has_plugin('cmdgen-xdist'))\n"
    )
    without = _run(pytester, "-p", "no:xdist", "-s")
    without.assert_outcomes(passed=4)
    without.stdout.fnmatch_lines(["*xdist hooks: False*"])
    with_xdist = _run(pytester, "-s")
    with_xdist.stdout.fnmatch_lines(["*xdist hooks: True*"])


def test_each_process_gets_its_role_once(pytester: pytest.Pytester, car_rental) -> None:
    # Each process writes the role it was given into a file named after its pid.
    pytester.makeconftest(
        "import os, pathlib\n"
        "from pytest_cmdgen.plugin.stash import role_of\n"
        "def pytest_sessionfinish(session):\n"
        "    folder = pathlib.Path(session.config.rootpath, 'roles')\n"
        "    folder.mkdir(exist_ok=True)\n"
        "    (folder / str(os.getpid())).write_text(type(role_of(session.config)).__name__)\n"
    )

    def roles(*extra: str) -> list[str]:
        shutil.rmtree(pytester.path / "roles", ignore_errors=True)
        result = pytester.runpytest_subprocess(
            "car_rental/tests", "--cmdgen-assistant", "car_rental", "--cmdgen-command-script",
            "car_rental/commands.yml", "-p", "no:cacheprovider", *extra,
        )  # fmt: skip
        result.assert_outcomes(passed=4)
        return sorted(p.read_text() for p in (pytester.path / "roles").iterdir())

    assert roles() == ["Central"]
    assert roles("-n", "2") == ["Controller", "Worker", "Worker"]
    assert roles("-n", "0") == ["Central"]
