"""A session over a project with mistakes Rasa's validator catches: each named with file:line, no traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.paths import EXAMPLES

pytest_plugins = ["pytester"]


@pytest.fixture
def car_rental(pytester: pytest.Pytester) -> Path:
    shutil.copytree(EXAMPLES / "car_rental", pytester.path / "car_rental")
    return pytester.path / "car_rental"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _run(pytester: pytest.Pytester) -> pytest.RunResult:
    return pytester.runpytest(
        "car_rental/tests", "--cmdgen-assistant", "car_rental", "--cmdgen-command-script", "car_rental/commands.yml"
    )


def test_every_mistake_of_the_project_is_listed_with_its_line(pytester: pytest.Pytester, car_rental: Path) -> None:
    _edit(car_rental / "config.yml", "SingleStepLLMCommandGenerator", "SingleStepLLMComandGenerator")
    _edit(car_rental / "domain.yml", "trip_destination:\n    type: text", "trip_destination:\n    type: txt")
    _edit(car_rental / "data" / "flows.yml", "action: utter_no_cars", "action: utter_no_car")
    result = _run(pytester)
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "cmdgen: */car_rental: 3 problems in the project (checked like `rasa data validate`):",
            "  */car_rental/config.yml:6: pipeline?0?.name: a component Rasa knows "
            "(got 'SingleStepLLMComandGenerator'; did you mean 'SingleStepLLMCommandGenerator'?)",
            "  */car_rental/domain.yml:5: slots.trip_destination.type: one of text, bool, float, categorical, any, "
            "list (got 'txt')",
            "  */car_rental/data/flows.yml:17: flows.search_rental_car.4_utter_no_car.action: a response defined in "
            "the domain (got 'utter_no_car', defined nowhere; did you mean 'utter_no_cars'?)",
        ]
    )
    out = result.stdout.str()
    assert "Traceback" not in out
    assert "utter_internal_error_rasa" not in out  # the mistakes, not their effect on every conversation


def test_what_rasa_only_warns_about_is_a_header_line_and_the_tests_run(
    pytester: pytest.Pytester, car_rental: Path
) -> None:
    _edit(
        car_rental / "data" / "flows.yml",
        "    description: Tell the user when the rental desks are open.\n",
        "    description: Tell the user when the rental desks are open.\n    nlu_trigger:\n      - intent: hours\n",
    )
    result = _run(pytester)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "cmdgen: assistant */car_rental, Rasa *",
            "cmdgen: warning: */car_rental/data/flows.yml:35: flows.opening_hours.nlu_trigger: the intent 'hours' "
            "is not listed in the domain (Rasa warns: add it to `intents:`)",
        ]
    )
