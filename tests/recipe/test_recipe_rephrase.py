"""Rephrase config (reference §5.1), prompt (§5.2), answer parsing (§5.4) and validation (§5.5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_cmdgen.errors import CmdgenInputError, InputFileError
from pytest_cmdgen.recipe.rephrase import (
    PURPOSE_REPHRASE,
    PURPOSE_VALIDATE,
    RephraseAnswerError,
    RephraseError,
    compare_commands,
    default_rephrase_llm,
    load_rephrase_config,
    parse_rephrasings,
    render_rephrase_prompt,
    rephrase_conversation,
    request_rephrasings,
    validate_rephrasings,
    validation_prompt,
)
from pytest_cmdgen.runtime.commands import CannotHandle, ChitChat, Clarify, SetSlot, StartFlow
from tests.recipe.recipe_support import (
    CAR_TURNS,
    AwaitOrder,
    RecipeLLM,
    build_prompt,
    car_conversation,
    is_rephrase_prompt,
    parse,
)

EXPECTED = Path(__file__).parent / "expected"


# --- config ---------------------------------------------------------------------------------------------


def test_defaults_per_version():
    assert default_rephrase_llm("3.10.16") == {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "timeout": 7,
        "temperature": 0.0,
        "max_tokens": 4096,
    }
    assert default_rephrase_llm("3.12")["max_completion_tokens"] == 4096
    assert "max_tokens" not in default_rephrase_llm("3.11")
    assert default_rephrase_llm("3.13")["model"] == "gpt-4.1-mini-2025-04-14"
    modern = default_rephrase_llm("3.21.0")
    assert modern["model"] == "gpt-5-mini-2025-08-07"
    assert modern["temperature"] == 1.0 and modern["reasoning_effort"] == "minimal"
    config = load_rephrase_config(None)
    assert config.prompt_template is None and config.template_text.startswith("Objective:\n")


def test_config_file_is_merged_shallowly_and_keeps_env_references(tmp_path):
    template = tmp_path / "mine.jinja2"
    template.write_text("Rephrase {{ number_of_rephrasings }}", encoding="utf-8")
    path = tmp_path / "rephrase.yml"
    path.write_text(
        "prompt_template: mine.jinja2\nllm:\n  model: gpt-4o\n  api_key: ${OPENAI_KEY}\n  temperature: 0.3\n",
        encoding="utf-8",
    )
    config = load_rephrase_config(path)
    assert config.llm == {"model": "gpt-4o", "api_key": "${OPENAI_KEY}", "temperature": 0.3}
    assert config.template_text == "Rephrase {{ number_of_rephrasings }}"
    assert config.as_params() == {"prompt_template": "mine.jinja2", "llm": config.llm}


@pytest.mark.parametrize(
    ("text", "where", "key"),
    [
        ("llm:\n  model: x\nfoo: 1\n", ":3:1: foo: unknown key", "foo"),
        ("llm:\n", ":1:1: llm: must be a mapping", "llm"),
        ("prompt_template: null\nllm:\n  provider: openai\n", ":2:1: llm: must contain 'model' or 'model_name'", "llm"),
        ("prompt_template: [1]\n", ":1:1: prompt_template: must be a file path", "prompt_template"),
    ],
)
def test_config_errors_name_file_line_and_key(tmp_path, text, where, key):
    path = tmp_path / "rephrase.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        load_rephrase_config(path)
    assert str(info.value).startswith(f"{path}{where}")
    assert info.value.key == key


def test_config_model_name_accepted_and_bad_yaml_and_missing_file(tmp_path):
    path = tmp_path / "r.yml"
    path.write_text("llm:\n  model_name: m\n", encoding="utf-8")
    assert load_rephrase_config(path).llm == {"model_name": "m"}
    path.write_text("llm: [\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"r\.yml:\d+:\d+: invalid YAML"):
        load_rephrase_config(path)
    with pytest.raises(CmdgenInputError, match="cannot read"):
        load_rephrase_config(tmp_path / "missing.yml")


def test_unreadable_template_falls_back_to_the_default(tmp_path, caplog):
    path = tmp_path / "r.yml"
    path.write_text("prompt_template: nowhere.jinja2\n", encoding="utf-8")
    config = load_rephrase_config(path)
    assert config.template_text.startswith("Objective:")
    assert "nowhere.jinja2" in caplog.text


# --- prompt ---------------------------------------------------------------------------------------------


def test_default_prompt_renders_exactly():
    rendered = render_rephrase_prompt(car_conversation(), 3)
    assert rendered == (EXPECTED / "car_rental_rephrase_prompt.txt").read_text(encoding="utf-8")


def test_prompt_without_transcript_says_not_provided():
    from dataclasses import replace

    assert "Conversation overview:\nNot provided.\n" in render_rephrase_prompt(
        replace(car_conversation(), transcript=""), 2
    )


# --- parsing the answer -------------------------------------------------------------------------------------

MESSAGES = ["I'd like to book a car", "to Basel"]


def test_parse_rasa_example_layout():
    answer = (
        "USER: I'd like to book a car\n1. I need to reserve a car.\n2. Could I arrange for a car rental?\n\n"
        "USER: to Basel\n1. The destination is Basel.\n2. I'd like to go to Basel."
    )
    assert parse_rephrasings(answer, MESSAGES, 2) == [
        ["I need to reserve a car.", "Could I arrange for a car rental?"],
        ["The destination is Basel.", "I'd like to go to Basel."],
    ]


def test_parse_tolerates_bullets_quotes_fences_blank_lines_and_case():
    answer = (
        '```\n**USER:** "i\'d like to BOOK a car"\n\n- "I need a car."\n* Could I rent one?\n\n\n'
        "   user: To Basel\n1) “Basel, please.”\n2 - Basel it is\n(3) 3 people to Basel\n```"
    )
    assert parse_rephrasings(answer, MESSAGES, 3) == [
        ["I need a car.", "Could I rent one?"],
        ["Basel, please.", "Basel it is", "3 people to Basel"],  # leading digits of the text are kept
    ]


def test_parse_wrong_counts_duplicates_and_originals():
    answer = "USER: to Basel\n1. a\n2. a\n3. to basel\n4. b\n5. c\n6. d"
    assert parse_rephrasings(answer, MESSAGES, 3) == [[], ["a", "b", "c"]]


def test_parse_positional_when_headers_do_not_match():
    answer = "USER: I want a car\n1. Car please\n\nUSER: Basel\n1. Basel please"
    assert parse_rephrasings(answer, MESSAGES, 1) == [["Car please"], ["Basel please"]]
    # not positional when counts differ
    assert parse_rephrasings("USER: something\n1. x", MESSAGES, 1) == [[], []]


def test_parse_without_user_prefix_uses_blank_line_blocks():
    answer = "I'd like to book a car\n1. Book me a car\n\nto Basel\n1. Basel"
    assert parse_rephrasings(answer, MESSAGES, 1) == [["Book me a car"], ["Basel"]]


def test_parse_duplicate_messages_share_a_block_and_garbage_gives_nothing():
    answer = "USER: yes\n1. yep\n2. sure"
    assert parse_rephrasings(answer, ["yes", "no", "yes"], 2) == [["yep", "sure"], [], ["yep", "sure"]]
    assert parse_rephrasings("I cannot help with that.", MESSAGES, 2) == [[], []]
    assert parse_rephrasings("", MESSAGES, 2) == [[], []]


def test_unparseable_answer_is_retried_then_errors(llm: RecipeLLM):
    llm.answer(lambda prompt: "sorry", times=1)
    llm.answer(lambda prompt: "USER: to Basel\n1. Basel!", times=1)
    got = request_rephrasings(car_conversation(), 1, llm.complete)
    assert got == [[], ["Basel!"], [], []]
    prompt = render_rephrase_prompt(car_conversation(), 1)
    assert llm.calls() == [(prompt, PURPOSE_REPHRASE), (prompt, PURPOSE_REPHRASE)]
    assert llm.service.meter.get(PURPOSE_REPHRASE).calls == 2

    llm.server.reset_counters()
    llm.answer(lambda prompt: "no")
    with pytest.raises(RephraseAnswerError, match="after 3 attempt"):
        request_rephrasings(car_conversation(), 1, llm.complete, max_attempts=3)
    assert llm.purposes() == [PURPOSE_REPHRASE] * 3


def test_failing_rephrase_call_raises_rephrase_error(llm: RecipeLLM):
    llm.server.fail_always("API down", status=500)
    with pytest.raises(RephraseError, match="API down") as info:
        request_rephrasings(car_conversation(), 2, llm.complete)
    assert "the rephrasing call failed" in str(info.value)
    assert [(r.status, r.body["model"]) for r in llm.chat_requests()] == [(500, "scripted-rephraser")]


def test_zero_rephrasings_makes_no_call(llm: RecipeLLM):
    conversation = car_conversation()
    assert rephrase_conversation(conversation, 0, llm.complete, parse) is conversation
    assert llm.server.requests == []
    with pytest.raises(ValueError):
        rephrase_conversation(conversation, 50, llm.complete, parse)
    assert llm.server.requests == []


# --- validation ---------------------------------------------------------------------------------------------


def test_command_comparison_uses_rasa_equality_as_a_multiset():
    assert compare_commands(
        [StartFlow("a"), SetSlot("x", "1")], [SetSlot("x", "1", extractor="NLU"), StartFlow("a")]
    ) == (
        (),
        (),
    )
    assert compare_commands([SetSlot("x", "1")], [SetSlot("x", "2")]) == ((SetSlot("x", "1"),), (SetSlot("x", "2"),))
    assert compare_commands([Clarify(("a", "b"))], [Clarify(("a", "b")), ChitChat()]) == ((), (ChitChat(),))
    assert compare_commands([CannotHandle("r1")], [CannotHandle("r2")])[0] == (CannotHandle("r1"),)
    assert compare_commands([StartFlow("a"), StartFlow("a")], [StartFlow("a")]) == ((StartFlow("a"),), ())


def _answer_for_variant(prompt: str) -> str:
    """The scripted command generator: answers the car-rental commands when it sees a known paraphrase."""
    latest = prompt.split('The user just said """')[1].split('"""')[0]
    table = {
        "Book me a car": "StartFlow(search_rental_car)",
        "Car, now": "ChitChat()",
        "Basel it is": "SetSlot(trip_destination, Basel)",
        "Zurich it is": "SetSlot(trip_destination, Zurich)",
        "14 to 17 May": "SetSlot(car_rental_start_date, may 14th)\nSetSlot(car_rental_end_date, may 17th)",
    }
    return table.get(latest, "nothing")


def test_validation_splits_passing_and_failing_with_the_differences(llm: RecipeLLM):
    conversation = car_conversation()
    candidates = [["Book me a car", "Car, now"], ["Basel it is", "Zurich it is"], ["14 to 17 May"], ["gibberish"]]
    llm.answer(_answer_for_variant)
    order = AwaitOrder(llm.complete)
    result = validate_rephrasings(conversation, candidates, order, parse)
    steps = result.annotated_steps
    assert [s.passing_rephrasings for s in steps] == [("Book me a car",), ("Basel it is",), ("14 to 17 May",), ()]
    (car_now,) = steps[0].failing_rephrasings
    assert (car_now.text, car_now.missing, car_now.unexpected) == (
        "Car, now",
        (StartFlow("search_rental_car"),),
        (ChitChat(),),
    )
    zurich = steps[1].failing_rephrasings[0]
    assert zurich.missing == (SetSlot("trip_destination", "Basel"),)
    assert zurich.unexpected == (SetSlot("trip_destination", "Zurich"),)
    assert steps[3].failing_rephrasings[0].answer == "nothing"  # nothing parsed: fails
    # every call was submitted before the first answer was awaited, each to the command generator's LLM
    assert order.submitted_at_first_result == 6
    assert llm.purposes() == [PURPOSE_VALIDATE] * 6
    expected = {
        validation_prompt(conversation, step, text)
        for step, texts in zip(conversation.annotated_steps, candidates, strict=True)
        for text in texts
    }
    assert {prompt for prompt, _ in llm.calls()} == expected
    assert llm.service.meter.get(PURPOSE_VALIDATE).calls == 6


def test_validation_prompt_has_the_paraphrase_everywhere_and_only_there():
    conversation = car_conversation()
    step = conversation.annotated_steps[1]
    prompt = validation_prompt(conversation, step, "Basel it is")
    expected = build_prompt([("user", CAR_TURNS[0][0]), ("bot", CAR_TURNS[0][2][0])], "Basel it is")
    assert prompt == expected
    assert "to Basel" not in prompt


def test_a_failed_validation_call_costs_only_its_own_paraphrase(llm: RecipeLLM):
    llm.answer(_answer_for_variant)
    llm.server.inject_faults("500")  # whichever of the two concurrent calls arrives first gets HTTP 500
    candidates = [[], ["Basel it is", "Zurich it is"], [], []]
    result = validate_rephrasings(car_conversation(), candidates, llm.complete, parse)
    assert len(llm.chat_requests()) == 2  # both calls were made
    step = result.annotated_steps[1]
    (unvalidated,) = step.unvalidated_rephrasings
    assert unvalidated.text in ("Basel it is", "Zurich it is")
    assert "HTTP 500" in (unvalidated.error or "")
    other_text = "Zurich it is" if unvalidated.text == "Basel it is" else "Basel it is"
    # the other paraphrase keeps its verdict, whichever it is; the failed one is neither kept nor rejected
    verdicts = [*step.passing_rephrasings, *(f.text for f in step.rejected_rephrasings)]
    assert verdicts == [other_text]


def test_rephrase_conversation_end_to_end_skips_button_clicks(llm: RecipeLLM):
    conversation = car_conversation()
    from dataclasses import replace

    steps = conversation.annotated_steps
    conversation = conversation.with_annotated_steps([*steps[:3], replace(steps[3], rephrase=False)])

    def answer(prompt):
        if is_rephrase_prompt(prompt):
            return (
                "USER: I'd like to book a car\n1. Book me a car\n2. Car, now\n\nUSER: to Basel\n1. Basel it is\n\n"
                "USER: from may 14th to the 17th\n1. 14 to 17 May\n\n"
                "USER: I'll take the luxury one! looks nice\n1. Luxury!"
            )
        return _answer_for_variant(prompt)

    llm.answer(answer)
    result = rephrase_conversation(conversation, 2, llm.complete, parse)
    assert [s.passing_rephrasings for s in result.annotated_steps] == [
        ("Book me a car",),
        ("Basel it is",),
        ("14 to 17 May",),
        (),
    ]
    assert not result.annotated_steps[3].failing_rephrasings  # not rephrased at all: no validation call
    assert llm.purposes() == [PURPOSE_REPHRASE] + [PURPOSE_VALIDATE] * 4
    assert llm.calls()[0] == (render_rephrase_prompt(conversation, 2), PURPOSE_REPHRASE)


def test_the_session_completer_queues_rephrase_calls_after_turns_and_validation_calls_last(
    cmdgen_scripted_llm, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from pytest_cmdgen.llm import LLMConfig, LLMService, call_priority, turn_priority
    from pytest_cmdgen.recipe.rephrase import llm_completer

    server = cmdgen_scripted_llm
    server.add_rule(".*", "ok")
    received, release = threading.Event(), threading.Event()
    answer_for = server.answer_for

    def hold_first(text: str) -> str:  # the server holds the first call, so the others queue behind it
        if text == "first":
            received.set()
            release.wait(30)
        return answer_for(text)

    monkeypatch.setattr(server, "answer_for", hold_first)
    config = LLMConfig.from_rasa({"model": "gpt-4o", "timeout": 30})
    with LLMService(concurrency=1) as service:
        complete = llm_completer(service, config, config)
        try:
            futures = [service.submit_chat(config, "first")]
            assert received.wait(30)
            futures.append(complete("validate", PURPOSE_VALIDATE))
            futures.append(complete("rephrase", PURPOSE_REPHRASE))
            with call_priority(turn_priority(1)):
                futures.append(service.submit_chat(config, "turn"))

            async def all_queued() -> None:
                import asyncio

                while service.calls_waiting < 3:
                    await asyncio.sleep(0)  # a pass of the loop, not a timed wait

            service.run_coroutine(all_queued()).result(30)
        finally:
            release.set()
        assert [f.result(30).text for f in futures] == ["ok"] * 4
    # "validate", queued first, was already under way (its request built, ready for the one slot: at most one
    # such call per slot); the later calls go by priority: the turn before the rephrase call.
    assert server.chat_prompts() == ["first", "validate", "turn", "rephrase"]
