"""The scripted LLM server: answers to real Rasa prompts, rephrase prompts, rules, embeddings, CLI."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import struct
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import openai
import pytest
import yaml

import pytest_cmdgen
from pytest_cmdgen.testing.scripted_answers import parse_command_prompt, parse_rephrase_prompt
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer, embedding_for
from tests.support.paths import reference_text


def reference_template(section: str) -> str:
    """The first jinja block after the heading ``### <section>`` of the Rasa recipe reference notes."""
    text = reference_text("rasa-recipe.md")
    block = re.search(r"```jinja\n(.*?)\n```", text[text.index(f"### {section}") :], re.DOTALL)
    assert block is not None
    return block.group(1) + "\n"


ANNOTATIONS = {
    "conversations": [
        {
            "original_test_case": "e2e_tests/contacts.yml::user adds a contact",
            "steps": [
                {
                    "user": "I want to add someone to my contact list",
                    "llm_commands": ["StartFlow(add_contact)"],
                    "passing_rephrasings": ["Can you add a new contact for me?"],
                    "failing_rephrasings": ["contacts"],
                },
                {"utter": "utter_ask_add_contact_handle"},
                {"user": "it's @barts", "llm_commands": ["SetSlot(add_contact_handle, @barts)"]},
                {"bot": "What's their name?"},
                {"user": "Barts", "llm_commands": ["SetSlot(add_contact_name, Barts)"]},
            ],
        },
        {
            "original_test_case": "e2e_tests/contacts.yml::user adds a contact with a button",
            "steps": [
                {"user": "I want to add someone to my contact list", "llm_commands": ["StartFlow(add_contact)"]},
                {"utter": "utter_ask_add_contact_handle"},
                {"user": "it's @barts", "llm_commands": ["SetSlot(add_contact_handle, @barts)"]},
                {"user": "/SetSlots(add_contact_confirmation=true)"},
                {"user": "Barts", "llm_commands": ["SetSlot(add_contact_name, Bart)", "CancelFlow()"]},
            ],
        },
    ]
}

HANDLE_QUESTION = "What's the handle?"
FLOWS = [
    {
        "name": "add_contact",
        "description": "add a contact to your contact list",
        "slots": [
            {"name": "add_contact_handle", "description": "a user handle starting with @", "allowed_values": None},
            {"name": "add_contact_name", "description": None, "allowed_values": None},
        ],
    },
    {"name": "list_contacts", "description": "show your contact list", "slots": []},
]


def _transcript(history: Sequence[tuple[str, str]], latest: str) -> str:
    lines = [f"{'USER' if who == 'user' else 'AI'}: {text}" for who, text in history]
    return "\n".join(lines) + f"\nUSER: {latest}"


def _state(history: Sequence[tuple[str, str]], latest: str, in_flow: bool) -> dict[str, Any]:
    return {
        "available_flows": FLOWS,
        "current_conversation": _transcript(history, latest),
        "current_flow": "add_contact" if in_flow else None,
        "current_slot": "add_contact_handle" if in_flow else None,
        "current_slot_description": "a user handle starting with @" if in_flow else None,
        "flow_slots": [
            {
                "name": "add_contact_handle",
                "value": "undefined",
                "type": "text",
                "description": "handle",
                "allowed_values": None,
            },
        ]
        if in_flow
        else [],  # fmt: skip
        "user_message": latest,
        "current_datetime": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc),
    }


def render_v1(history: Sequence[tuple[str, str]], latest: str, in_flow: bool = False) -> str:
    """The 3.10 default command prompt (reference §9.2) for a tiny fake state."""
    return jinja2.Template(reference_template("9.2")).render(**_state(history, latest, in_flow))


def _package_templates() -> list[Path]:
    directory = Path(pytest_cmdgen.__file__).parent / "generator" / "templates"
    return sorted(directory.glob("*command_prompt*.jinja2")) if directory.is_dir() else []


def render_template(path: Path, history: Sequence[tuple[str, str]], latest: str, in_flow: bool) -> str:
    env = jinja2.Environment()
    env.filters["to_json_escaped_string"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env.from_string(path.read_text(encoding="utf-8")).render(**_state(history, latest, in_flow))


@pytest.fixture
def annotated(scripted: ScriptedLLMServer) -> ScriptedLLMServer:
    scripted.load_annotations(ANNOTATIONS)
    return scripted


HISTORY_1 = [("user", "I want to add someone to my contact list"), ("bot", HANDLE_QUESTION)]
HISTORY_2 = [*HISTORY_1, ("user", "it's @barts"), ("bot", "What's their name?")]
HISTORY_2_BUTTON = [*HISTORY_1, ("user", "it's @barts"), ("user", "/SetSlots(add_contact_confirmation=true)")]


# ---------------------------------------------------------------------------------------------- prompts
def test_v1_first_turn_prompt_is_parsed() -> None:
    prompt = render_v1([], "I want to add someone to my contact list")
    assert "\n\nUSER: I want to add someone" in prompt  # empty transcript: the blank line of §9.3
    conversation = parse_command_prompt(prompt)
    assert conversation is not None
    assert conversation.user_messages == ("I want to add someone to my contact list",)


def test_v1_later_turn_prompt_is_parsed() -> None:
    conversation = parse_command_prompt(render_v1(HISTORY_2, "Barts", in_flow=True))
    assert conversation is not None
    assert conversation.latest == "Barts"
    assert conversation.user_messages == ("I want to add someone to my contact list", "it's @barts", "Barts")


@pytest.mark.parametrize("template", _package_templates(), ids=lambda p: p.name)
def test_every_shipped_template_is_parsed(template: Path, annotated: ScriptedLLMServer) -> None:
    prompt = render_template(template, HISTORY_2_BUTTON, "Barts", in_flow=True)
    conversation = parse_command_prompt(prompt)
    assert conversation is not None
    assert conversation.user_messages[-3:] == ("it's @barts", "/SetSlots(add_contact_confirmation=true)", "Barts")
    assert annotated.answer_for(prompt) == "SetSlot(add_contact_name, Bart)\nCancelFlow()"


def test_non_command_prompt_is_not_parsed() -> None:
    assert parse_command_prompt("Tell me a joke") is None


# ---------------------------------------------------------------------------------------------- answers
def test_answers_follow_the_conversation(annotated: ScriptedLLMServer, make_service, gpt4o) -> None:
    service = make_service()
    first = render_v1([], "I want to add someone to my contact list")
    second = render_v1(HISTORY_1, "it's @barts", in_flow=True)
    third = render_v1(HISTORY_2, "Barts", in_flow=True)
    third_other = render_v1(HISTORY_2_BUTTON, "Barts", in_flow=True)
    assert service.chat(gpt4o, first).text == "StartFlow(add_contact)"
    assert service.chat(gpt4o, second).text == "SetSlot(add_contact_handle, @barts)"
    # the same latest message answers differently depending on the conversation before it
    assert service.chat(gpt4o, third).text == "SetSlot(add_contact_name, Barts)"
    assert service.chat(gpt4o, third_other).text == "SetSlot(add_contact_name, Bart)\nCancelFlow()"


def test_longest_suffix_then_last_message_fallback(annotated: ScriptedLLMServer) -> None:
    truncated = render_v1([("user", "it's @barts"), ("bot", "What's their name?")], "Barts", in_flow=True)
    assert annotated.answer_for(truncated) == "SetSlot(add_contact_name, Barts)"
    unknown_history = render_v1([("user", "something unrelated")], "Barts", in_flow=True)
    assert annotated.answer_for(unknown_history) == "SetSlot(add_contact_name, Barts)"  # first in file order


def test_unmatched_prompt_gets_default_answer(annotated: ScriptedLLMServer) -> None:
    prompt = render_v1([], "what is the weather")
    assert annotated.answer_for(prompt) == ""
    annotated.default_answer = "ChitChat()"
    assert annotated.answer_for(prompt) == "ChitChat()"


def test_passing_and_failing_rephrasings(annotated: ScriptedLLMServer) -> None:
    assert annotated.answer_for(render_v1([], "Can you add a new contact for me?")) == "StartFlow(add_contact)"
    assert annotated.answer_for(render_v1([], "contacts")) == "ChitChat()"
    annotated.failing_answer = "Clarify(add_contact, list_contacts)"
    assert annotated.answer_for(render_v1([], "contacts")) == "Clarify(add_contact, list_contacts)"


def test_rules_come_first(annotated: ScriptedLLMServer) -> None:
    prompt = render_v1([], "I want to add someone to my contact list")
    rule = annotated.add_rule(r"add someone", "HumanHandoff()", times=1)
    annotated.add_rule(lambda p: "contact list" in p, lambda p: f"len={len(p)}")
    assert annotated.answer_for(prompt) == "HumanHandoff()"
    assert annotated.answer_for(prompt) == f"len={len(prompt)}"
    assert rule.used == 1
    annotated.clear_rules()
    assert annotated.answer_for(prompt) == "StartFlow(add_contact)"


# ---------------------------------------------------------------------------------------------- rephrasing
REPHRASE_MESSAGES = ["I want to add someone to my contact list", "it's @barts", "Barts"]


def render_rephrase_prompt(count: int = 3) -> str:
    """The default rephrase prompt (reference §5.2) for the first annotated conversation."""
    history = [*HISTORY_2, ("user", "Barts")]
    return jinja2.Template(reference_template("5.2")).render(
        test_case_name="user adds a contact",
        transcript="\n".join(f"{'USER' if w == 'user' else 'AI'}: {t}" for w, t in history),
        number_of_rephrasings=count,
        user_prefix="USER",
        user_messages=REPHRASE_MESSAGES,
        number_of_user_messages=len(REPHRASE_MESSAGES),
    )


def parse_like_rasa(answer: str, messages: Sequence[str]) -> dict[str, list[str]]:
    """The rephraser's answer parser as described in reference §5.4 (steps 1–3)."""
    blocks = answer.split("\n\n")
    if len(blocks) != len(messages):
        blocks = answer.split("\nUSER:")
    if len(blocks) != len(messages):
        return {}
    result: dict[str, list[str]] = {}
    for block in blocks:
        lines = [line.strip() for line in block.strip().split("\n")]
        lines = [line for line in lines if line and line != '"""']
        if len(lines) < 2:
            continue
        original = lines[0].removeprefix("USER:").strip()
        rephrasings = []
        for line in lines[1:]:
            text = re.sub(r"^\s*[-\d\.]+", "", line).strip().removeprefix("USER:").strip()
            if text:
                rephrasings.append(text)
        for message in messages:
            if message.lower() == original.lower():
                result[message] = rephrasings
    return result


def test_rephrase_prompt_is_recognised() -> None:
    request = parse_rephrase_prompt(render_rephrase_prompt(4))
    assert request is not None
    assert request.test_case_name == "user adds a contact"
    assert request.count == 4
    assert request.messages == tuple(REPHRASE_MESSAGES)
    assert parse_rephrase_prompt(render_v1([], "hi")) is None


def test_rephrase_answer_from_rephrasings_file(scripted: ScriptedLLMServer, make_service, gpt4o) -> None:
    scripted.load_annotations(ANNOTATIONS)
    rephrased = {"conversations": [dict(ANNOTATIONS["conversations"][0])]}
    rephrased["conversations"][0]["steps"] = [dict(s) for s in ANNOTATIONS["conversations"][0]["steps"]]
    rephrased["conversations"][0]["steps"][2].update(
        passing_rephrasings=["my handle is @barts", "@barts it is"], failing_rephrasings=["barts?"]
    )
    scripted.load_rephrasings(rephrased)
    answer = make_service().chat(gpt4o, render_rephrase_prompt(), purpose="rephrasing").text
    parsed = parse_like_rasa(answer, REPHRASE_MESSAGES)
    assert parsed["I want to add someone to my contact list"] == ["Can you add a new contact for me?", "contacts"]
    assert parsed["it's @barts"] == ["my handle is @barts", "@barts it is", "barts?"]
    assert len(parsed["Barts"]) == 3  # nothing recorded: derived variants
    # the merged rephrasings also drive command answers
    assert scripted.answer_for(render_v1(HISTORY_1, "my handle is @barts")) == "SetSlot(add_contact_handle, @barts)"
    assert scripted.answer_for(render_v1(HISTORY_1, "barts?")) == "ChitChat()"


def test_rephrase_answer_derived_without_file(scripted: ScriptedLLMServer) -> None:
    answer = scripted.answer_for(render_rephrase_prompt(10))
    parsed = parse_like_rasa(answer, REPHRASE_MESSAGES)
    assert set(parsed) == set(REPHRASE_MESSAGES)
    for message, rephrasings in parsed.items():
        assert len(rephrasings) == len(set(rephrasings)) == 10
        assert all(message in r for r in rephrasings)
    assert scripted.answer_for(render_rephrase_prompt(10)) == answer


# ---------------------------------------------------------------------------------------------- HTTP
def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def test_openai_shapes_and_counters(scripted: ScriptedLLMServer) -> None:
    client = openai.OpenAI(base_url=scripted.base_url, api_key="sk-x", max_retries=0)
    assert [m.id for m in client.models.list()] == ["scripted-model"]
    scripted.add_rule(".*", "ChitChat()")
    response = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hey"}])
    assert response.choices[0].message.content == "ChitChat()"
    assert response.usage is not None and response.usage.total_tokens > 0
    status, body, _ = _post(
        scripted.base_url + "/embeddings", {"model": "e", "input": "hey", "encoding_format": "base64"}
    )
    assert status == 200
    raw = base64.b64decode(body["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert decoded == pytest.approx(embedding_for("hey", scripted.embedding_dim), abs=1e-6)
    status, body, _ = _post(scripted.base_url + "/nothing", {})
    assert status == 404 and "Unknown request URL" in body["error"]["message"]
    assert scripted.counts == {"models": 1, "chat": 1, "embeddings": 1, "unknown": 1}
    assert scripted.chat_prompts() == ["hey"]
    assert all("authorization" not in json.dumps(r.body).lower() for r in scripted.requests)
    scripted.reset_counters()
    assert scripted.requests == [] and scripted.max_concurrency_observed == 0


def test_scripted_429_sends_retry_after(scripted: ScriptedLLMServer) -> None:
    scripted.retry_after = 2
    scripted.inject_faults("429")
    status, body, headers = _post(scripted.base_url + "/chat/completions", {"model": "m", "messages": []})
    assert status == 429 and headers["Retry-After"] == "2" and headers["retry-after-ms"] == "2000"
    assert body["error"]["code"] == "rate_limit_exceeded"
    with pytest.raises(ValueError):
        scripted.inject_faults("418")


def test_fixture_points_the_environment_at_the_server(cmdgen_scripted_llm: ScriptedLLMServer) -> None:
    assert os.environ["OPENAI_BASE_URL"] == cmdgen_scripted_llm.base_url
    assert cmdgen_scripted_llm.base_url.startswith("http://127.0.0.1:")
    assert os.environ["OPENAI_API_KEY"]


def test_console_entry_starts_and_answers(tmp_path: Path) -> None:
    annotations = tmp_path / "annotations.yml"
    annotations.write_text(yaml.safe_dump(ANNOTATIONS), encoding="utf-8")
    script = Path(sys.executable).with_name("cmdgen-scripted-llm")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "pytest_cmdgen.testing.scripted_llm"]
    proc = subprocess.Popen(
        [*command, "--annotations", str(annotations), "--port", "0", "--latency", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        assert match, line
        client = openai.OpenAI(base_url=match.group(1), api_key="sk-x", max_retries=0, timeout=5)
        prompt = render_v1(HISTORY_1, "it's @barts", in_flow=True)
        response = client.chat.completions.create(model="m", messages=[{"role": "user", "content": prompt}])
        assert response.choices[0].message.content == "SetSlot(add_contact_handle, @barts)"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_server_holds_250_concurrent_connections(scripted: ScriptedLLMServer) -> None:
    scripted.latency = 1.0
    scripted.add_rule(".*", "ChitChat()")
    statuses: list[int] = []
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

    def one() -> None:
        statuses.append(_post(scripted.base_url + "/chat/completions", body)[0])

    threads = [threading.Thread(target=one) for _ in range(250)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 250
    # Requests overlap instead of queueing behind each other (how many depends on how fast threads start).
    assert scripted.max_concurrency_observed >= 50


def test_a_server_that_leaves_nagle_on_answers_the_same(make_service, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_cmdgen.llm import LLMConfig

    with ScriptedLLMServer(nagle=True) as server:
        server.add_rule(".*", lambda prompt: prompt.upper())
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-nagle-test")
        config = LLMConfig.from_rasa({"model": "gpt-4o", "timeout": 30})
        service = make_service(concurrency=2)
        assert [service.chat(config, f"call {i}").text for i in range(3)] == ["CALL 0", "CALL 1", "CALL 2"]
        assert len(service.embed(LLMConfig.from_rasa({"model": "e"}), ["a", "b"]).vectors) == 2
