"""A 200 answer that is not a usable completion is transient: retried, counted, never cached."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_cmdgen.llm import LLMCallError, LLMConfig, LLMService, Purpose, ResponseCache
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer

MALFORMED = ["html", "not_json", "empty_choices", "null_content"]


@pytest.mark.parametrize("kind", MALFORMED)
def test_one_malformed_answer_is_retried_and_the_good_one_is_kept(
    scripted: ScriptedLLMServer, make_service: Callable[..., LLMService], gpt4o: LLMConfig, kind: str
) -> None:
    scripted.add_rule(lambda prompt: True, "StartFlow(book_car)")
    scripted.inject_faults(kind)
    service = make_service()
    completion = service.chat(gpt4o, "book a car", purpose=Purpose.ANNOTATION)
    assert completion.text == "StartFlow(book_car)"
    usage = service.meter.get(Purpose.ANNOTATION)
    assert (usage.calls, usage.retries, usage.failures) == (1, 1, 0)
    assert scripted.counts["chat"] == 2


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("html", "malformed answer: the body is not JSON: '<html><body><h1>502 Bad Gateway</h1>nginx</body></html>'"),
        ("not_json", "malformed answer: the body is not JSON: '{\"id\": \"chatcmpl-cut-off\", \"choices\": ['"),
        ("empty_choices", "malformed answer: the answer has no choices (choices: [])"),
        ("null_content", "malformed answer: the answer's message has no content (content: null)"),
    ],
)
def test_a_lasting_malformed_answer_fails_with_model_purpose_and_excerpt_and_is_not_cached(
    scripted: ScriptedLLMServer,
    make_service: Callable[..., LLMService],
    gpt4o: LLMConfig,
    tmp_path: Path,
    kind: str,
    detail: str,
) -> None:
    scripted.add_rule(lambda prompt: True, "StartFlow(book_car)")
    scripted.inject_faults(kind, count=6)  # the first attempt and all five retries
    cache = ResponseCache(tmp_path / "cache", "use")
    with pytest.raises(LLMCallError) as failed:
        make_service(cache=cache).chat(gpt4o, "book a car", purpose=Purpose.VALIDATION)
    message = str(failed.value)
    assert message.startswith("validation request to openai model 'gpt-4o' failed after 6 attempt(s): HTTP 200: ")
    assert message.endswith(detail)
    # Nothing was recorded: a later run against a healthy server gets the real answer, no refresh needed.
    healthy = make_service(cache=ResponseCache(tmp_path / "cache", "use"))
    assert healthy.chat(gpt4o, "book a car", purpose=Purpose.VALIDATION).text == "StartFlow(book_car)"
    assert healthy.meter.get(Purpose.VALIDATION).cache_hits == 0
