"""The in-process ``actions_module`` runner against the real ``rasa_sdk`` executor."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import rasa_sdk  # noqa: F401  -- in the ``test`` extra: without it this module fails to import, it never skips

from pytest_cmdgen.actions import ChoosingActionRunner, ModuleActionRunner
from pytest_cmdgen.e2e.runner import build_agent
from pytest_cmdgen.runtime.agent import CommandPrediction, CommandRequest
from pytest_cmdgen.runtime.commands import SetSlot, StartFlow
from pytest_cmdgen.runtime.errors import ActionError
from pytest_cmdgen.runtime.events import ActionExecuted, ActionExecutionRejected, BotUttered, SlotSet
from pytest_cmdgen.runtime.project import Project

DOMAIN = """
slots:
  city:
    type: text
  forecast:
    type: text
responses:
  utter_ask_city:
    - text: "Which city?"
  utter_done:
    - text: "Done."
  utter_forecast:
    - text: "It is {forecast}."
actions:
  - action_forecast
  - action_crash
  - action_refuse
  - action_missing
"""

FLOWS = """
flows:
  weather:
    description: the weather in a city
    steps:
      - collect: city
        reset_after_flow_ends: false
      - action: action_forecast
      - action: utter_done
  crash:
    description: an action that raises
    steps:
      - action: action_crash
  refuse:
    description: an action that rejects
    steps:
      - action: action_refuse
      - action: utter_done
  missing:
    description: an action the module lacks
    steps:
      - action: action_missing
"""

WEATHER = """
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from weather_helpers import FORECAST


class ActionForecast(Action):
    def name(self) -> str:
        return "action_forecast"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        city = tracker.get_slot("city")
        forecast = f"{FORECAST} in {city}"
        dispatcher.utter_message(
            text=f"{forecast} (asked by {tracker.sender_id}: {tracker.latest_message.get('text')!r})",
            buttons=[{"title": "Thanks", "payload": "/SetSlots(city=null)"}],
        )
        dispatcher.utter_message(response="utter_forecast", forecast=forecast)
        # the tracker is a private copy: mutating it must not reach the runtime
        tracker.slots["city"] = "Mutated"
        return [SlotSet("forecast", forecast)]
"""

FAILING = """
from rasa_sdk import Action
from rasa_sdk.interfaces import ActionExecutionRejection


class ActionCrash(Action):
    def name(self):
        return "action_crash"

    def run(self, dispatcher, tracker, domain):
        raise ValueError("boom")


class ActionRefuse(Action):
    def name(self):
        return "action_refuse"

    def run(self, dispatcher, tracker, domain):
        raise ActionExecutionRejection("action_refuse", "not today")
"""


class ScriptedSource:
    """Maps user text to commands (as ``tests/runtime/conftest.py``)."""

    def __init__(self, script: dict[str, list[Any]]) -> None:
        self.script = script

    def predict(self, request: CommandRequest) -> CommandPrediction:
        return CommandPrediction(list(self.script.get(request.text, [])))


SCRIPT = {
    "weather in Paris": [StartFlow("weather"), SetSlot("city", "Paris")],
    "crash": [StartFlow("crash")],
    "refuse": [StartFlow("refuse")],
    "missing": [StartFlow("missing")],
}


def write_project(root: Path, files: dict[str, str], module: str = "actions") -> Path:
    """A tiny project with an in-process actions module; ``files`` are the Python files, relative to root."""
    (root / "data").mkdir(parents=True)
    (root / "config.yml").write_text(
        "pipeline:\n- name: SingleStepLLMCommandGenerator\npolicies:\n- name: FlowPolicy\n"
    )
    (root / "domain.yml").write_text(textwrap.dedent(DOMAIN))
    (root / "data" / "flows.yml").write_text(textwrap.dedent(FLOWS))
    (root / "endpoints.yml").write_text(f"action_endpoint:\n  actions_module: {module}\n")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def package_files(forecast: str = "Sunny") -> dict[str, str]:
    return {
        "actions/__init__.py": "",
        "actions/weather.py": WEATHER,
        "actions/more/__init__.py": "",
        "actions/more/failing.py": FAILING,
        "weather_helpers.py": f"FORECAST = {forecast!r}\n",
    }


def converse(root: Path):
    project = Project.load(root, "3.13")
    agent = build_agent(project, ScriptedSource(SCRIPT))
    assert isinstance(agent.action_runner.module, ModuleActionRunner)
    return agent.start_conversation("conv_1")


def test_action_sets_a_slot_and_utters_with_buttons(tmp_path: Path) -> None:
    root = write_project(tmp_path / "bot", package_files())
    conversation = converse(root)
    new = conversation.handle_message("weather in Paris")
    bot = [e for e in new if isinstance(e, BotUttered)]
    assert bot[0].text == "Sunny in Paris (asked by conv_1: 'weather in Paris')"
    assert bot[0].data["buttons"] == [{"title": "Thanks", "payload": "/SetSlots(city=null)"}]
    assert bot[1].text == "It is Sunny in Paris." and bot[1].utter_action == "utter_forecast"
    assert bot[2].utter_action == "utter_done"
    assert SlotSet(key="forecast", value="Sunny in Paris") in new
    # as Rasa applies an action server's answer: the action, its messages, then its events
    events = list(conversation.tracker.events)
    start = next(
        i for i, e in enumerate(events) if isinstance(e, ActionExecuted) and e.action_name == "action_forecast"
    )
    assert isinstance(events[start + 1], BotUttered) and isinstance(events[start + 2], BotUttered)
    assert events[start + 3] == SlotSet(key="forecast", value="Sunny in Paris")
    assert conversation.tracker.get_slot("city") == "Paris"  # the action's copy of the tracker was its own
    assert str(root.resolve()) not in sys.path  # on sys.path only while importing


def test_raising_action_is_an_action_error_naming_action_and_module(tmp_path: Path) -> None:
    conversation = converse(write_project(tmp_path / "bot", package_files()))
    with pytest.raises(ActionError, match="actions_module 'actions' raised ValueError: boom") as info:
        conversation.handle_message("crash")
    assert info.value.action_name == "action_crash"


def test_rejecting_action_gives_the_rejected_event(tmp_path: Path) -> None:
    conversation = converse(write_project(tmp_path / "bot", package_files()))
    conversation.handle_message("refuse")
    rejected = [e for e in conversation.tracker.events if isinstance(e, ActionExecutionRejected)]
    assert rejected == [ActionExecutionRejected(action_name="action_refuse")]


def test_action_the_module_lacks_is_an_action_error(tmp_path: Path) -> None:
    conversation = converse(write_project(tmp_path / "bot", package_files()))
    with pytest.raises(ActionError, match="actions_module 'actions' has no action named 'action_missing'") as info:
        conversation.handle_message("missing")
    assert "action_forecast" in info.value.reason and info.value.action_name == "action_missing"


def test_projects_with_the_same_module_name_keep_their_own_actions(tmp_path: Path) -> None:
    sunny = converse(write_project(tmp_path / "a", package_files("Sunny")))
    rainy = converse(write_project(tmp_path / "b", package_files("Rainy")))
    only_a = {"actions/__init__.py": "", "actions/extra.py": FAILING.replace("action_crash", "action_only_a")}
    assert sunny.handle_message("weather in Paris")  # loads project a
    assert rainy.tracker.get_slot("forecast") is None
    rainy.handle_message("weather in Paris")  # loads project b: its own `actions` and `weather_helpers`
    assert rainy.tracker.get_slot("forecast") == "Rainy in Paris"
    sunny.handle_message("weather in Paris")  # project a's runner keeps its executor
    assert sunny.tracker.get_slot("forecast") == "Sunny in Paris"
    # a third project does not see the actions of the others
    project = Project.load(write_project(tmp_path / "c", only_a), "3.13")
    runner = ModuleActionRunner("actions", project.root)
    with pytest.raises(ActionError, match="has no action named 'action_forecast'"):
        runner.run("action_forecast", {"sender_id": "s", "slots": {}, "events": []}, project)


def test_single_module_and_async_caller(tmp_path: Path) -> None:
    files = {"my_actions.py": FAILING, "weather_helpers.py": "FORECAST = 'Sunny'\n"}
    project = Project.load(write_project(tmp_path / "bot", files, module="my_actions"), "3.13")
    runner = ChoosingActionRunner.for_project(project)
    tracker = {"sender_id": "s", "slots": {}, "events": []}
    assert runner.run("action_refuse", tracker, project).events == [
        {"event": "action_execution_rejected", "name": "action_refuse"}
    ]

    async def from_a_running_loop() -> Any:
        return runner.run("action_refuse", tracker, project)

    assert asyncio.run(from_a_running_loop()).events[0]["event"] == "action_execution_rejected"


def test_broken_module_is_an_action_error_not_an_exit(tmp_path: Path) -> None:
    files = {"actions/__init__.py": "", "actions/broken.py": "import not_a_module_anywhere_xyz\n"}
    project = Project.load(write_project(tmp_path / "bot", files), "3.13")
    runner = ModuleActionRunner("actions", project.root)
    with pytest.raises(ActionError, match="cannot load actions_module 'actions'.*not_a_module_anywhere_xyz"):
        runner.run("action_forecast", {"sender_id": "s", "slots": {}, "events": []}, project)
    missing = ModuleActionRunner("no_such_actions", project.root)
    with pytest.raises(ActionError, match="cannot import actions_module 'no_such_actions'"):
        missing.run("action_forecast", {"sender_id": "s", "slots": {}, "events": []}, project)
