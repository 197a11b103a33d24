"""Response rephrasing (``endpoints.yml`` ``nlg: {type: rephrase}``): rasa-modern-generators §4.2, Appendix E.3.

The expected prompts below are written out by hand from Appendix E.3 (rephrase prompt), Rasa's summary prompt
(``rasa/core/nlg/summarize.py``) and the conversation's transcript, not produced by the code under test.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_cmdgen.generator.llm_generator import LLMCommandGenerator
from pytest_cmdgen.generator.response_rephraser import (
    DEFAULT_PROMPTS,
    PURPOSE,
    ResponseRephraseError,
    ResponseRephraser,
    count_multiple_utterances_as_single_turn,
)
from pytest_cmdgen.llm import LLMService, ResponseCache, RetryPolicy
from pytest_cmdgen.llm.errors import CacheMissError, LLMCallError
from pytest_cmdgen.runtime.agent import Agent
from pytest_cmdgen.runtime.commands import SetSlot, StartFlow
from pytest_cmdgen.runtime.events import BotUttered, UserUttered
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.testing.fixtures import cmdgen_scripted_llm  # noqa: F401 - registers the fixture here
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from tests.runtime.conftest import ASSISTANTS, ScriptedSource, banking_stub_runner

BANKING = ASSISTANTS / "starterpack-retail-banking-en"
TELCO = ASSISTANTS / "starterpack-telco-en"

SUMMARY_PROMPT = """Summarize the provided conversation between
a user and a conversational AI. The summary should be a short text that
captures the main points of the conversation.

Conversation:
USER: who are my payees
AI: You are authorised to transfer money to: Amy, Fitness Gym and William
USER: I want to transfer 55 to Amy

Summary:"""

SUMMARY = "The user asked who their payees are and now wants to transfer 55 to Amy."

REPHRASE_PROMPT = """The following is a conversation with
an AI assistant. The assistant is helpful, creative, clever, and very friendly.
Rephrase the suggested AI response staying close to the original message and retaining
its meaning. Use simple English.

Context / previous conversation with the user:
The user asked who their payees are and now wants to transfer 55 to Amy.

Last user message:
USER: I want to transfer 55 to Amy

Suggested AI Response: Okay lets transfer money

Rephrased AI Response:"""

REPHRASED = "Sure thing, let's get your money transfer started."


BANKING_SCRIPT = {
    "who are my payees": [StartFlow("list_payees")],
    "I want to transfer 55 to Amy": [
        StartFlow("transfer_money"),
        SetSlot("amount", "55"),
        SetSlot("payee_name", "Amy"),
    ],
    "67890123": [SetSlot("account_from", "67890123")],
}


def bots(events: list[Any]) -> list[BotUttered]:
    return [e for e in events if isinstance(e, BotUttered)]


@pytest.fixture
def service() -> Iterator[LLMService]:
    svc = LLMService(concurrency=4, retry=RetryPolicy(max_retries=0), seed=1)
    try:
        yield svc
    finally:
        svc.close()


def v3_rule(server: ScriptedLLMServer, message: str, answer: str) -> None:
    server.add_rule(re.compile(re.escape(f'last message: """{message}"""')), answer)


def is_summary(prompt: str) -> bool:
    return prompt.startswith("Summarize the provided conversation")


def script_rephraser(server: ScriptedLLMServer, summary: str = SUMMARY, rephrase: str = REPHRASED) -> None:
    """Answer the history-summary prompt with ``summary`` and every other prompt with ``rephrase``."""
    server.add_rule(is_summary, summary)
    server.add_rule(lambda prompt: not is_summary(prompt), rephrase)


def scripted_banking_conversation(service: LLMService, version: str = "3.13", root: Path = BANKING) -> Any:
    """The banking pack with scripted commands (no command-generator call): every LLM call is the rephraser's."""
    project = Project.load(root, version)
    rephraser = ResponseRephraser.from_project(project, service)
    agent = Agent(project, ScriptedSource(BANKING_SCRIPT), banking_stub_runner(), rephraser=rephraser)
    return agent.start_conversation("rephrasing")


# ------------------------------------------------------------------------------------ the real LLM path


def test_banking_prompts_byte_for_byte_and_rephrased_text_in_the_next_command_prompt(
    cmdgen_scripted_llm: ScriptedLLMServer,  # noqa: F811
    service: LLMService,
) -> None:
    server = cmdgen_scripted_llm
    v3_rule(server, "who are my payees", "start flow list_payees")
    v3_rule(
        server, "I want to transfer 55 to Amy", "start flow transfer_money\nset slot amount 55\nset slot payee_name Amy"
    )
    v3_rule(server, "67890123", "set slot account_from 67890123")
    server.add_rule(re.compile(r"\ASummarize the provided conversation"), f"  {SUMMARY}\n")
    server.add_rule(re.compile(re.escape("Suggested AI Response: Okay lets transfer money")), REPHRASED)
    project = Project.load(BANKING, "3.13")
    rephraser = ResponseRephraser.from_project(project, service)
    assert rephraser is not None
    agent = Agent(project, LLMCommandGenerator(project, service), banking_stub_runner(), rephraser=rephraser)
    conversation = agent.start_conversation("banking")

    conversation.handle_message("who are my payees")
    before = len(server.chat_prompts())
    events = conversation.handle_message("I want to transfer 55 to Amy")
    prompts = server.chat_prompts()[before:]
    assert prompts[1:] == [SUMMARY_PROMPT, REPHRASE_PROMPT]  # after the command prompt: summary, rephrasing

    understood = bots(events)[0]
    assert understood.text == REPHRASED
    assert understood.metadata["utter_action"] == "utter_transfer_money_understand"
    assert understood.metadata["rephrase"] is True
    assert [b.text for b in bots(events)][1:] == ["Which account would you like to transfer money from?"]

    events = conversation.handle_message("67890123")
    command_prompt = next(e for e in events if isinstance(e, UserUttered)).parse_data["llm_prompt"]
    assert f"AI: {REPHRASED}\nAI: Which account would you like to transfer money from?" in command_prompt
    assert "Okay lets transfer money" not in command_prompt
    # utter_ask_timing has no rephrase flag: template text, buttons kept, no rephrasing call
    timing = bots(events)[0]
    assert timing.text == "When would you like this transfer to be made?"
    assert timing.buttons
    assert not any(p.startswith("Summarize") for p in server.chat_prompts()[before + 3 :])
    assert service.meter.get(PURPOSE).calls == 2


def test_the_cache_gives_the_same_answer_to_the_same_prompt(
    cmdgen_scripted_llm: ScriptedLLMServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    server = cmdgen_scripted_llm
    server.add_rule(re.compile(r"\ASummarize"), SUMMARY)
    server.add_rule(re.compile("Suggested AI Response"), "first answer", times=2)
    server.add_rule(re.compile("Suggested AI Response"), "a different answer")
    texts = []
    for _ in range(2):
        svc = LLMService(concurrency=2, retry=RetryPolicy(max_retries=0), cache=ResponseCache(tmp_path / "cache"))
        try:
            project = Project.load(BANKING, "3.13")
            rephraser = ResponseRephraser.from_project(project, svc)
            agent = Agent(project, ScriptedSource(BANKING_SCRIPT), banking_stub_runner(), rephraser=rephraser)
            conversation = agent.start_conversation("cached")
            conversation.handle_message("who are my payees")
            texts.append(bots(conversation.handle_message("I want to transfer 55 to Amy"))[0].text)
        finally:
            svc.close()
    assert texts == ["first answer", "first answer"]
    assert sum("Suggested AI Response" in p for p in server.chat_prompts()) == 1


def test_without_a_rule_the_scripted_server_answers_empty_and_the_template_text_stays(
    cmdgen_scripted_llm: ScriptedLLMServer,  # noqa: F811
    service: LLMService,
) -> None:
    project = Project.load(BANKING, "3.13")
    agent = Agent(
        project,
        ScriptedSource(BANKING_SCRIPT),
        banking_stub_runner(),
        rephraser=ResponseRephraser.from_project(project, service),
    )
    conversation = agent.start_conversation("offline")
    conversation.handle_message("who are my payees")
    events = conversation.handle_message("I want to transfer 55 to Amy")
    assert bots(events)[0].text == "Okay lets transfer money"
    assert sum("Suggested AI Response" in p for p in cmdgen_scripted_llm.chat_prompts()) == 1


# ------------------------------------------------------------------------------------ fallbacks and errors


def test_an_empty_answer_keeps_the_template_text(
    cmdgen_scripted_llm: ScriptedLLMServer,  # noqa: F811
    service: LLMService,
) -> None:
    script_rephraser(cmdgen_scripted_llm, rephrase="")
    conversation = scripted_banking_conversation(service)
    conversation.handle_message("who are my payees")
    assert bots(conversation.handle_message("I want to transfer 55 to Amy"))[0].text == "Okay lets transfer money"
    assert cmdgen_scripted_llm.chat_prompts() == [SUMMARY_PROMPT, REPHRASE_PROMPT]
    assert service.meter.purposes() == [PURPOSE]
    assert service.meter.get(PURPOSE).calls == 2


def test_a_blank_answer_is_used_up_to_3_15_and_falls_back_from_3_16(
    cmdgen_scripted_llm: ScriptedLLMServer,  # noqa: F811
    service: LLMService,
) -> None:
    script_rephraser(cmdgen_scripted_llm, rephrase="  ")
    for version, expected in (("3.13", "  "), ("3.16", "Okay lets transfer money")):
        conversation = scripted_banking_conversation(service, version)
        conversation.handle_message("who are my payees")
        assert bots(conversation.handle_message("I want to transfer 55 to Amy"))[0].text == expected, version


def record_the_summary(server: ScriptedLLMServer, cache: Path) -> None:
    """Record the summary call in ``cache`` by running the conversation under 3.11, whose summary prompt (and
    the rephraser's LLM settings) are those of 3.12+ but whose rephrase prompt is not ("Use simple english.",
    no "Last user message:"): a later 3.12+ run finds its summary in the cache and asks for its rephrasing."""
    script_rephraser(server)
    recorder = LLMService(concurrency=2, retry=RetryPolicy(max_retries=0), cache=ResponseCache(cache, "use"), seed=1)
    try:
        conversation = scripted_banking_conversation(recorder, "3.11")
        conversation.handle_message("who are my payees")
        conversation.handle_message("I want to transfer 55 to Amy")
    finally:
        recorder.close()
    assert len(server.chat_prompts()) == 2
    server.reset_counters()


def failing_rephrase_conversation(server: ScriptedLLMServer, cache: Path, version: str) -> tuple[Any, LLMService]:
    """A conversation whose summary comes from the cache and whose rephrase call gets HTTP 500 from the server,
    retried twice (no waits)."""
    record_the_summary(server, cache)
    server.fail_always("The server had an error processing your request.", status=500)
    retry = RetryPolicy(max_retries=2, base_delay=0.0, max_delay=0.0)
    service = LLMService(concurrency=2, retry=retry, cache=ResponseCache(cache, "use"), seed=1)
    conversation = scripted_banking_conversation(service, version)
    conversation.handle_message("who are my payees")
    return conversation, service


def assert_the_rephrasing_was_tried_3_times_and_failed(server: ScriptedLLMServer, service: LLMService) -> None:
    assert [(r.prompt, r.status) for r in server.requests] == [(REPHRASE_PROMPT, 500)] * 3
    usage = service.meter.get(PURPOSE)
    assert (usage.cache_hits, usage.calls, usage.failures, usage.retries) == (1, 0, 1, 2)


def test_a_failed_call_keeps_the_template_text_up_to_3_14(
    cmdgen_scripted_llm: ScriptedLLMServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    conversation, service = failing_rephrase_conversation(cmdgen_scripted_llm, tmp_path / "cache", "3.14")
    try:
        events = conversation.handle_message("I want to transfer 55 to Amy")
        assert bots(events)[0].text == "Okay lets transfer money"
        assert bots(events)[0].metadata["utter_action"] == "utter_transfer_money_understand"
        assert_the_rephrasing_was_tried_3_times_and_failed(cmdgen_scripted_llm, service)
    finally:
        service.close()


def test_a_failed_call_fails_the_test_from_3_15(
    cmdgen_scripted_llm: ScriptedLLMServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    conversation, service = failing_rephrase_conversation(cmdgen_scripted_llm, tmp_path / "cache", "3.15")
    try:
        expected = "utter_transfer_money_understand.*pattern_internal_error"
        with pytest.raises(ResponseRephraseError, match=expected) as info:
            conversation.handle_message("I want to transfer 55 to Amy")
        cause = info.value.__cause__
        assert isinstance(cause, LLMCallError)
        assert (cause.status, cause.attempts, cause.retryable) == (500, 3, True)
        assert_the_rephrasing_was_tried_3_times_and_failed(cmdgen_scripted_llm, service)
    finally:
        service.close()


def test_a_replay_cache_miss_fails_the_test(
    cmdgen_scripted_llm: ScriptedLLMServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    record_the_summary(cmdgen_scripted_llm, tmp_path / "cache")
    replay = LLMService(
        concurrency=2, retry=RetryPolicy(max_retries=0), cache=ResponseCache(tmp_path / "cache", "replay"), seed=1
    )
    try:
        conversation = scripted_banking_conversation(replay, "3.13")
        conversation.handle_message("who are my payees")
        with pytest.raises(ResponseRephraseError, match="replay mode") as info:
            conversation.handle_message("I want to transfer 55 to Amy")
        assert isinstance(info.value.__cause__, CacheMissError)
        usage = replay.meter.get(PURPOSE)
        assert (usage.cache_hits, usage.failures, usage.calls) == (1, 1, 0)  # the summary came from the cache
    finally:
        replay.close()
    assert cmdgen_scripted_llm.requests == []  # replay mode never asks the server


def test_a_failed_summary_puts_the_transcript_into_the_prompt(
    cmdgen_scripted_llm: ScriptedLLMServer,  # noqa: F811
    service: LLMService,
) -> None:
    server = cmdgen_scripted_llm
    script_rephraser(server)
    conversation = scripted_banking_conversation(service)
    conversation.handle_message("who are my payees")
    server.inject_faults("500")  # the next request, the summary call (no retries), gets HTTP 500
    events = conversation.handle_message("I want to transfer 55 to Amy")
    assert bots(events)[0].text == REPHRASED
    assert [r.status for r in server.requests if r.endpoint == "chat"] == [500, 200]
    transcript = (
        "USER: who are my payees\n"
        "AI: You are authorised to transfer money to: Amy, Fitness Gym and William\n"
        "USER: I want to transfer 55 to Amy"
    )
    assert server.chat_prompts() == [SUMMARY_PROMPT, REPHRASE_PROMPT.replace(SUMMARY, transcript)]


# ------------------------------------------------------------------------------------ configuration


@pytest.fixture
def banking_copy(tmp_path: Path) -> Path:
    target = tmp_path / "banking"
    shutil.copytree(BANKING, target)
    return target


def _set_nlg(root: Path, nlg: str) -> None:
    path = root / "endpoints.yml"
    text = path.read_text(encoding="utf-8")
    start = text.index("nlg:\n")
    end = text.index("\n# Model Groups")
    path.write_text(text[:start] + nlg + text[end:], encoding="utf-8")


def test_no_rephrasing_without_the_nlg_endpoint(
    banking_copy: Path,
    cmdgen_scripted_llm: ScriptedLLMServer,  # noqa: F811
    service: LLMService,
) -> None:
    _set_nlg(banking_copy, "")
    script_rephraser(cmdgen_scripted_llm)
    project = Project.load(banking_copy, "3.13")
    assert ResponseRephraser.from_project(project, service) is None
    conversation = scripted_banking_conversation(service, root=banking_copy)
    conversation.handle_message("who are my payees")
    assert bots(conversation.handle_message("I want to transfer 55 to Amy"))[0].text == "Okay lets transfer money"
    assert cmdgen_scripted_llm.requests == []
    assert service.meter.purposes() == []


def test_engine_builds_the_rephraser_only_when_configured(banking_copy: Path, tmp_path: Path) -> None:
    from pytest_cmdgen.session import Engine, SessionConfig

    def engine_for(root: Path) -> Engine:
        return Engine(SessionConfig(assistant=root, rootdir=tmp_path, rasa_version="3.13", cache_mode="off"))

    configured = engine_for(BANKING)
    try:
        rephraser = configured.response_rephraser()
        assert isinstance(rephraser, ResponseRephraser)
        assert configured.response_rephraser() is rephraser
    finally:
        configured.close()
    _set_nlg(banking_copy, "")
    plain = engine_for(banking_copy)
    try:
        assert plain.response_rephraser() is None
    finally:
        plain.close()


def test_model_group_over_the_version_defaults(service: LLMService) -> None:
    banking = ResponseRephraser.from_project(Project.load(BANKING, "3.13"), service)
    assert banking is not None
    llm = banking.llm_config
    assert (llm.provider, llm.model, llm.temperature, llm.max_tokens, llm.timeout) == (
        "openai",
        "gpt-4o-mini-2024-07-18",
        0.3,
        256,
        5.0,
    )
    telco = ResponseRephraser.from_project(Project.load(TELCO, "3.16"), service)
    assert telco is not None
    llm = telco.llm_config
    assert (llm.model, llm.temperature, llm.max_tokens, llm.timeout) == ("gpt-5-mini-2025-08-07", 1.0, 256, 5.0)
    assert llm.extra.get("reasoning_effort") == "minimal"  # §1.3 prefix table, the group sets none


def test_which_responses_are_rephrased(banking_copy: Path, service: LLMService) -> None:
    project = Project.load(BANKING, "3.13")
    rephraser = ResponseRephraser.from_project(project, service)
    assert rephraser is not None
    responses = project.domain.responses
    flagged = lambda name: rephraser.allows_rephrasing({"metadata": responses[name][0].get("metadata")})  # noqa: E731
    assert flagged("utter_transfer_money_understand")  # starter-pack response with rephrase: True
    assert flagged("utter_can_do_something_else")  # default pattern response carrying the flag
    assert not flagged("utter_ask_timing")
    assert not flagged("utter_ask_rephrase")  # default pattern response without the flag

    _set_nlg(banking_copy, "nlg:\n  type: rephrase\n  rephrase_all: true\n  llm:\n    model_group: gpt-4o-mini\n")
    every = ResponseRephraser.from_project(Project.load(banking_copy, "3.13"), service)
    assert every is not None
    assert every.allows_rephrasing({"text": "x", "metadata": {}})
    assert not every.allows_rephrasing({"text": "x", "metadata": {"rephrase": False}})


def test_endpoint_options_custom_prompts_and_old_versions(
    banking_copy: Path,
    cmdgen_scripted_llm: ScriptedLLMServer,  # noqa: F811
    service: LLMService,
) -> None:
    server = cmdgen_scripted_llm
    script_rephraser(server)
    (banking_copy / "my_prompt.jinja2").write_text(
        "{{history}}|{{current_input}}|{{suggested_response}}|{{slots.username}}\n", encoding="utf-8"
    )
    _set_nlg(
        banking_copy,
        "nlg:\n  type: rephrase\n  summarize_history: false\n  max_historical_turns: 2\n"
        "  prompt_template: my_prompt.jinja2\n  llm:\n    model_group: gpt-4o-mini\n",
    )
    conversation = scripted_banking_conversation(service, root=banking_copy)
    conversation.handle_message("who are my payees")
    conversation.handle_message("I want to transfer 55 to Amy")
    assert server.chat_prompts() == [
        "AI: You are authorised to transfer money to: Amy, Fitness Gym and William\n"
        "USER: I want to transfer 55 to Amy|USER: I want to transfer 55 to Amy|Okay lets transfer money|John Smith"
    ]

    # 3.10: always summarised, "Use simple english.", no "Last user message:" label
    server.reset_counters()
    conversation = scripted_banking_conversation(service, "3.10")
    conversation.handle_message("who are my payees")
    conversation.handle_message("I want to transfer 55 to Amy")
    expected = REPHRASE_PROMPT.replace("Use simple English.", "Use simple english.").replace("Last user message:\n", "")
    assert server.chat_prompts() == [SUMMARY_PROMPT, expected]
    assert DEFAULT_PROMPTS["3.11"] == DEFAULT_PROMPTS["3.12"].replace("{{language}}", "english")


def test_consecutive_lines_of_one_speaker_count_as_one_turn() -> None:
    lines = ["USER: hi", "AI: hello", "AI: how can I help?", "USER: money", "AI: "]
    assert count_multiple_utterances_as_single_turn(lines) == [
        "USER: hi",
        "AI: hello how can I help?",
        "USER: money",
        "AI: ",
    ]
