"""Helpers for runtime tests: tiny projects in tmp dirs, scripted command sources, stub action runners."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_cmdgen.runtime.agent import ActionResult, Agent, CommandPrediction, CommandRequest, Conversation
from pytest_cmdgen.runtime.commands import Command
from pytest_cmdgen.runtime.events import ActionExecuted, BotUttered, Event
from pytest_cmdgen.runtime.project import Project
from tests.support.paths import ASSISTANTS  # noqa: F401 - re-exported for the runtime tests


class ScriptedSource:
    """Maps user text to commands; unknown text gives no commands."""

    def __init__(self, script: dict[str, list[Command]] | None = None) -> None:
        self.script = dict(script or {})
        self.requests: list[CommandRequest] = []

    def predict(self, request: CommandRequest) -> CommandPrediction:
        self.requests.append(request)
        value = self.script.get(request.text, [])
        if isinstance(value, Exception):
            raise value
        return CommandPrediction(list(value))


class StubRunner:
    """Custom actions as canned ActionResults (or callables building them)."""

    def __init__(self, actions: dict[str, ActionResult | Callable[..., ActionResult]] | None = None) -> None:
        self.actions = dict(actions or {})
        self.calls: list[str] = []

    def run(self, action_name: str, tracker: Any, project: Project) -> ActionResult:
        self.calls.append(action_name)
        result = self.actions.get(action_name, ActionResult())
        return result(tracker) if callable(result) else result


def write_project(root: Path, domain: str, flows: str, config: str | None = None, endpoints: str = "") -> Path:
    """Write config.yml, domain.yml and data/flows.yml into ``root``."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "config.yml").write_text(
        textwrap.dedent(config or "pipeline:\n- name: SingleStepLLMCommandGenerator\npolicies:\n- name: FlowPolicy\n")
    )
    (root / "domain.yml").write_text(textwrap.dedent(domain))
    (root / "data" / "flows.yml").write_text(textwrap.dedent(flows))
    (root / "endpoints.yml").write_text(textwrap.dedent(endpoints))
    return root


def utters(events: list[Event]) -> list[str | None]:
    """The utter_action of each bot message."""
    return [e.utter_action for e in events if isinstance(e, BotUttered)]


def texts(events: list[Event]) -> list[str | None]:
    """The text of each bot message."""
    return [e.text for e in events if isinstance(e, BotUttered)]


def actions(events: list[Event]) -> list[str]:
    """Names of executed actions."""
    return [e.action_name for e in events if isinstance(e, ActionExecuted)]


def event_kinds(events: list[Event]) -> list[tuple[str, str]]:
    """(event type, flow id) of flow events."""
    return [(e.type_name, e.flow_id) for e in events if e.type_name.startswith("flow_")]  # type: ignore[attr-defined]


BASIC_DOMAIN = """
slots:
  recipient:
    type: text
  amount:
    type: float
  confirm:
    type: bool
  logged_in:
    type: bool
    initial_value: true
  city:
    type: categorical
    values: [Berlin, Paris]
responses:
  utter_ask_recipient:
    - text: "Who?"
  utter_ask_amount:
    - text: "How much?"
  utter_ask_confirm:
    - text: "Send {amount} to {recipient}?"
      buttons:
        - title: "Yes"
          payload: "/SetSlots(confirm=true)"
        - title: "No"
          payload: "/SetSlots(confirm=false)"
  utter_ask_city:
    - text: "Which city?"
  utter_done:
    - text: "Done."
  utter_cancelled:
    - text: "Not sent."
  utter_bad_amount:
    - text: "Amount must be positive."
  utter_hi:
    - text: "Hi {recipient}!"
  utter_welcome:
    - text: "Welcome back"
      condition:
        - type: slot
          name: logged_in
          value: true
    - text: "Please log in"
actions:
  - action_check
"""

BASIC_FLOWS = """
flows:
  transfer:
    description: send money
    steps:
      - collect: recipient
      - collect: amount
        rejections:
          - if: slots.amount <= 0
            utter: utter_bad_amount
      - collect: confirm
        ask_before_filling: true
        next:
          - if: slots.confirm
            then:
              - action: utter_done
                next: END
          - else:
              - action: utter_cancelled
                next: END
  weather:
    description: weather in a city
    steps:
      - collect: city
      - action: action_check
  greet:
    description: say hi
    if: slots.logged_in
    steps:
      - action: utter_welcome
  hidden:
    description: only via link
    if: false
    steps:
      - action: utter_done
"""


@pytest.fixture
def basic_project(tmp_path: Path) -> Callable[..., Project]:
    """Loads the basic tiny project for a version."""

    def load(version: str = "3.13", flows: str = BASIC_FLOWS, domain: str = BASIC_DOMAIN, **kw: Any) -> Project:
        root = write_project(tmp_path / f"p{version}", domain, flows, **kw)
        return Project.load(root, version)

    return load


@pytest.fixture
def converse(basic_project: Callable[..., Project]) -> Callable[..., Conversation]:
    """A conversation over the basic project with a scripted source."""

    def make(
        script: dict[str, list[Command]], version: str = "3.13", runner: StubRunner | None = None, **kw: Any
    ) -> Conversation:
        agent = Agent(basic_project(version, **kw), ScriptedSource(script), runner or StubRunner())
        return agent.start_conversation("test")

    return make


def banking_stub_runner() -> StubRunner:
    """Stubs of the banking pack's custom actions for the runtime tests (John Smith's data)."""
    return StubRunner(
        {
            "action_session_start": ActionResult(
                events=[
                    {"event": "session_started"},
                    {"event": "slot", "name": "username", "value": "John Smith"},
                    {"event": "action", "name": "action_listen"},
                ]
            ),
            "action_ask_account_from": ActionResult(
                responses=[{"text": "Which account would you like to transfer money from?"}]
            ),
            "action_check_payee_existence": ActionResult(
                events=[{"event": "slot", "name": "payee_exists", "value": True}]
            ),
            "action_check_sufficient_funds": ActionResult(
                events=[{"event": "slot", "name": "sufficient_funds", "value": True}]
            ),
            "action_process_immediate_payment": ActionResult(
                events=[{"event": "slot", "name": "payment_processed", "value": True}]
            ),
            "action_list_payees": ActionResult(
                responses=[{"text": "You are authorised to transfer money to: Amy, Fitness Gym and William"}]
            ),
        }
    )
