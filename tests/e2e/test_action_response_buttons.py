"""A custom action answering ``response: utter_x`` plus ``buttons`` (and ``text``, ``image``, ``custom``) through
the real loopback action server: the buttons are appended to the template's, the other values merged as Rasa's
``RemoteAction._utter_responses`` merges them (the action's win up to 3.12.25, the template's from 3.12.26), and
they reach the transcript of the next prompt and ``bot_uttered`` assertions.

The assistant (a barber's appointment booking) is ours; the messages are what rasa-sdk's
``dispatcher.utter_message(response=..., buttons=...)`` sends.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_cmdgen.actions import HttpActionRunner
from pytest_cmdgen.e2e.scripted_commands import CommandScript, ScriptedCommandSource
from pytest_cmdgen.generator.prompt import readable_transcript
from pytest_cmdgen.generator.state import transcript_turns
from pytest_cmdgen.runtime.agent import Agent
from pytest_cmdgen.runtime.events import BotUttered
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.testing.action_server import ActionServer

pytest_plugins = ["pytester"]

DOMAIN = """\
version: "3.1"
slots:
  time:
    type: text
    mappings:
      - type: from_llm
actions:
  - action_offer_times
responses:
  utter_pick_time:
    - text: Pick a time, {name}.
      buttons:
        - title: Later
          payload: /SetSlots(time=later)
  utter_ask_time:
    - text: Which time?
  utter_booked:
    - text: See you at {time}.
"""

FLOWS = """\
flows:
  book_haircut:
    description: book a haircut
    steps:
      - action: action_offer_times
      - collect: time
      - action: utter_booked
"""

CONFIG = """\
recipe: default.v1
language: en
assistant_id: barber
pipeline:
  - name: SingleStepLLMCommandGenerator
    llm:
      model: gpt-4o-2024-11-20
    flow_retrieval:
      active: false
policies:
  - name: FlowPolicy
"""

TIMES = [
    {"title": "9:00", "payload": "/SetSlots(time=9:00)"},
    {"title": "Yes, 10:30", "payload": "/SetSlots(time=10:30)"},
]


def sdk_message(**given: Any) -> dict[str, Any]:
    """What rasa-sdk's ``dispatcher.utter_message(**given)`` puts on the wire."""
    message = {"text": None, "buttons": [], "elements": [], "custom": {}, "image": None, "attachment": None}
    message.update({"template": given.get("response"), **given})
    return message


@pytest.fixture
def replies() -> dict[str, Any]:
    """The message ``action_offer_times`` sends; a test may replace it."""
    return {"message": sdk_message(response="utter_pick_time", buttons=TIMES, name="Ann")}


@pytest.fixture
def server(replies: dict[str, Any]) -> Iterator[ActionServer]:
    srv = ActionServer()
    srv.register("action_offer_times", lambda tracker, domain: ([], [replies["message"]]))
    with srv:
        yield srv


def write_barber(root: Path, url: str, domain: str = DOMAIN) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "config.yml").write_text(CONFIG)
    (root / "domain.yml").write_text(domain)
    (root / "data" / "flows.yml").write_text(FLOWS)
    (root / "endpoints.yml").write_text(f"action_endpoint:\n  url: {url}\n")
    return root


def offer(root: Path, server: ActionServer, version: str) -> tuple[BotUttered, str]:
    """Start the booking at ``version``: the bot message of the action's response, and the transcript."""
    project = Project.load(root, version)
    steps = [{"user": "a haircut please", "llm_commands": ["StartFlow(book_haircut)"]}]
    script = CommandScript.from_data({"conversations": [{"original_test_case": "t.yml::t", "steps": steps}]})
    source = ScriptedCommandSource(script).for_test_case("t.yml::t")
    conversation = Agent(project, source, HttpActionRunner(server.url, timeout=10)).start_conversation("t")
    events = conversation.handle_message("a haircut please")
    (bot,) = [e for e in events if isinstance(e, BotUttered) and e.metadata.get("utter_action") == "utter_pick_time"]
    return bot, readable_transcript(transcript_turns(conversation.tracker), project.profile.release)


@pytest.mark.parametrize("version", ["3.10", "3.12.6", "3.12", "3.16"])
def test_buttons_are_appended_to_the_templates(tmp_path: Path, server: ActionServer, version: str) -> None:
    bot, _ = offer(write_barber(tmp_path, server.url), server, version)
    assert bot.text == "Pick a time, Ann."  # the message's other keys fill the template's variables
    assert [b["title"] for b in bot.buttons] == ["Later", "9:00", "Yes, 10:30"]


def test_the_next_prompt_shows_them_where_the_transcript_has_buttons(tmp_path: Path, server: ActionServer) -> None:
    root = write_barber(tmp_path, server.url)
    _, transcript = offer(root, server, "3.14")
    assert 'AI: Pick a time, Ann. button 1: "Later", button 2: "9:00", button 3: "Yes, 10:30"' in transcript
    _, transcript = offer(root, server, "3.12")  # 3.12 transcripts show bot text only
    assert "AI: Pick a time, Ann." in transcript.splitlines()


@pytest.mark.parametrize(
    ("version", "text", "image"),
    [
        ("3.11", "Times for Ann:", "https://x.test/a.png"),
        ("3.12.25", "Times for Ann:", "https://x.test/a.png"),
        ("3.12.26", "Pick a time, Ann.", "https://x.test/t.png"),
        ("3.12", "Pick a time, Ann.", "https://x.test/t.png"),
        ("3.13.11", "Times for Ann:", "https://x.test/a.png"),
        ("3.16", "Pick a time, Ann.", "https://x.test/t.png"),
    ],
)
def test_who_wins_where_message_and_template_both_have_a_value(
    tmp_path: Path, server: ActionServer, replies: dict[str, Any], version: str, text: str, image: str
) -> None:
    replies["message"] = sdk_message(
        response="utter_pick_time", text="Times for Ann:", image="https://x.test/a.png", custom={"ui": "times"}
    )
    domain = DOMAIN.replace(
        "    - text: Pick a time, {name}.\n", "    - text: Pick a time, Ann.\n      image: https://x.test/t.png\n"
    )
    bot, _ = offer(write_barber(tmp_path, server.url, domain), server, version)
    assert (bot.text, bot.data["image"], bot.data["custom"]) == (text, image, {"ui": "times"})
    assert [b["title"] for b in bot.buttons] == ["Later"]  # an empty buttons list adds nothing


TESTS = """\
test_cases:
  - test_case: pick a time
    steps:
      - user: a haircut please
        assertions:
          - bot_uttered:
              utter_name: utter_pick_time
              buttons:
                - title: Later
                  payload: /SetSlots(time=later)
                - title: "9:00"
                  payload: /SetSlots(time=9:00)
                - title: Yes, 10:30
                  payload: /SetSlots(time=10:30)
      - user: /SetSlots(time=10:30)
        assertions:
          - bot_uttered:
              text_matches: See you at 10:30.
"""

SCRIPT = """\
conversations:
  - original_test_case: tests/barber.yml::pick a time
    steps:
      - user: a haircut please
        llm_commands:
          - StartFlow(book_haircut)
"""


def test_a_bot_uttered_assertion_sees_the_actions_buttons(pytester: pytest.Pytester, server: ActionServer) -> None:
    root = write_barber(pytester.path / "barber", server.url)
    (root / "tests").mkdir()
    (root / "tests" / "barber.yml").write_text(textwrap.dedent(TESTS))
    (root / "commands.yml").write_text(SCRIPT)
    result = pytester.runpytest(
        "barber/tests", "--cmdgen-assistant", "barber", "--cmdgen-command-script", "barber/commands.yml"
    )
    result.assert_outcomes(passed=1)
    assert [call.action_name for call in server.calls] == ["action_offer_times"]
