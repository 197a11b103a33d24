"""Reruns of a test case pick the same response variations, although Rasa's sender id has a timestamp."""

from __future__ import annotations

import shutil
from pathlib import Path

from pytest_cmdgen.e2e.parser import parse_e2e_text
from pytest_cmdgen.e2e.runner import build_agent, run_test_case
from pytest_cmdgen.runtime.agent import CommandPrediction
from pytest_cmdgen.runtime.commands import StartFlow
from pytest_cmdgen.runtime.project import Project
from tests.support.paths import EXAMPLES

VARIATIONS = "\n".join(f'    - text: "Where to? ({n})"' for n in range(12))

SUITE = """\
test_cases:
  - test_case: rent
    steps:
      - user: I want a car
      - utter: utter_ask_trip_destination
"""


class StartRental:
    def predict(self, request):
        return CommandPrediction([StartFlow("search_rental_car")])


def _asked(project: Project, path: Path, moment: str) -> str:
    suite = parse_e2e_text(SUITE, path)
    case = suite.test_cases[0]
    agent = build_agent(project, StartRental(), suite=suite, test_case=case, seed=7)
    run = run_test_case(case, suite, agent, sender_id=f"rent_{moment}")
    assert run.passed, run.result.describe()
    return next(e.text for e in run.events if getattr(e, "utter_action", None) == "utter_ask_trip_destination")


def test_variations_do_not_depend_on_the_timestamp_in_the_sender_id(tmp_path: Path) -> None:
    root = tmp_path / "car_rental"
    shutil.copytree(EXAMPLES / "car_rental", root)
    domain = (root / "domain.yml").read_text()
    old = '  utter_ask_trip_destination:\n    - text: "Where would you like to pick up the car?"\n'
    assert old in domain
    (root / "domain.yml").write_text(domain.replace(old, f"  utter_ask_trip_destination:\n{VARIATIONS}\n"))
    project = Project.load(root)
    first = _asked(project, root / "tests" / "x.yml", "2026-01-01 10:00:00.000001")
    again = _asked(project, root / "tests" / "x.yml", "2026-03-05 18:30:12.999999")
    assert first == again
