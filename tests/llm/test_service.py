"""LLMService against the scripted server over real HTTP: retries, failures, concurrency, sharing."""

from __future__ import annotations

import asyncio
import concurrent.futures
import struct
import threading
from collections.abc import Callable

import pytest

from pytest_cmdgen.llm import (
    LLMCallError,
    LLMConfig,
    LLMConfigError,
    LLMService,
    RetryPolicy,
    ServiceClosedError,
)
from pytest_cmdgen.llm.service import parse_retry_after, scrub_secrets
from pytest_cmdgen.testing.fixtures import SCRIPTED_API_KEY
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from tests.llm.conftest import SAFETY_TIMEOUT


def test_chat_roundtrip_single_user_message(scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig) -> None:
    scripted.add_rule("book", "StartFlow(book_car)")
    completion = make_service().chat(gpt4o, "I want to book a car")
    assert completion.text == "StartFlow(book_car)"
    assert completion.model == "gpt-4o"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    body = scripted.requests[-1].body
    assert body["messages"] == [{"role": "user", "content": "I want to book a car"}]
    assert body["temperature"] == 0.0 and body["model"] == "gpt-4o"


def test_429_burst_with_retry_after_is_survived(
    scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig, retry_delays: Callable[[], list[float]]
) -> None:
    scripted.add_rule(".*", "ChitChat()")
    scripted.inject_faults("429", 4)
    service = make_service(retry=RetryPolicy(max_retries=5, base_delay=5.0, max_retry_after=0.05))
    assert service.chat(gpt4o, "hi").text == "ChitChat()"
    # each wait was the server's Retry-After (10 ms), not a draw from the 5 s base backoff
    assert retry_delays() == [0.01] * 4
    assert scripted.counts["chat"] == 5
    assert [r.status for r in scripted.requests] == [429, 429, 429, 429, 200]
    assert service.meter.get("annotation").retries == 4


def test_permanent_500_fails_with_provider_message(scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig) -> None:
    scripted.fail_always("The engine is overloaded, try later.", status=503)
    service = make_service()
    with pytest.raises(LLMCallError) as info:
        service.chat(gpt4o, "hi", purpose="validation")
    error = info.value
    assert "The engine is overloaded, try later." in str(error)
    assert "503" in str(error)
    assert SCRIPTED_API_KEY not in str(error)
    assert (error.status, error.attempts, error.retryable) == (503, 6, True)
    assert scripted.counts["chat"] == 6
    assert (service.meter.get("validation").failures, service.meter.get("validation").retries) == (1, 5)


@pytest.mark.parametrize("status", [400, 401, 404])
def test_non_retryable_errors_fail_at_once(
    scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig, status: int
) -> None:
    scripted.fail_always(f"nope {status}", status=status)
    with pytest.raises(LLMCallError, match=f"HTTP {status}: nope {status}") as info:
        make_service().chat(gpt4o, "hi")
    assert info.value.attempts == 1 and not info.value.retryable
    assert scripted.counts["chat"] == 1


def test_api_key_scrubbed_from_provider_message(scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig) -> None:
    scripted.fail_always(f"Incorrect API key provided: {SCRIPTED_API_KEY}", status=401)
    with pytest.raises(LLMCallError) as info:
        make_service().chat(gpt4o, "hi")
    assert SCRIPTED_API_KEY not in str(info.value)
    assert SCRIPTED_API_KEY not in info.value.provider_message
    assert "Incorrect API key provided" in str(info.value)


def test_timeouts_are_retried(scripted: ScriptedLLMServer, make_service) -> None:
    scripted.add_rule(".*", "SkipQuestion()")
    scripted.timeout_delay = 5.0
    scripted.inject_faults("timeout", 2)
    config = LLMConfig.from_rasa({"model": "gpt-4o", "timeout": 0.2})
    service = make_service()
    assert service.chat(config, "hi").text == "SkipQuestion()"
    assert scripted.counts["chat"] == 3
    assert service.meter.get("annotation").retries == 2


def test_connection_drops_are_retried(scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig) -> None:
    scripted.add_rule(".*", "CancelFlow()")
    scripted.inject_faults("disconnect", 2)
    assert make_service().chat(gpt4o, "hi").text == "CancelFlow()"


def test_unreachable_server_fails_without_hanging(make_service, monkeypatch: pytest.MonkeyPatch) -> None:
    config = LLMConfig.from_rasa({"model": "gpt-4o", "api_base": "http://127.0.0.1:9/v1", "timeout": 1})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unused")
    with pytest.raises(LLMCallError, match="no response"):
        make_service(retry=RetryPolicy(max_retries=1, base_delay=0.001)).chat(config, "hi")


def test_random_fault_rates_are_survived(scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig) -> None:
    scripted.add_rule(".*", lambda prompt: prompt.upper())
    scripted.set_fault_rates(rate_429=0.2, rate_500=0.2, seed=7)
    service = make_service(retry=RetryPolicy(max_retries=10, base_delay=0.001, max_retry_after=0.01))
    futures = [service.submit_chat(gpt4o, f"m{i}") for i in range(40)]
    assert [f.result().text for f in futures] == [f"M{i}" for i in range(40)]
    assert {r.status for r in scripted.requests} >= {200, 429, 500}


def test_concurrency_bound_is_respected(scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig) -> None:
    scripted.latency = 0.05
    scripted.add_rule(".*", "ChitChat()")
    service = make_service(concurrency=4)
    results: list[str] = []

    def worker(n: int) -> None:
        futures = [service.submit_chat(gpt4o, f"thread {n} call {i}") for i in range(8)]
        results.extend(f.result().text for f in futures)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 32
    assert scripted.max_concurrency_observed == 4
    assert scripted.rejected_over_capacity == 0


def test_server_capacity_429_is_retried(scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig) -> None:
    scripted.latency = 0.03
    scripted.max_concurrency = 2
    scripted.add_rule(".*", "ChitChat()")
    service = make_service(concurrency=6, retry=RetryPolicy(max_retries=50, base_delay=0.001, max_retry_after=0.01))
    futures = [service.submit_chat(gpt4o, f"c{i}") for i in range(12)]
    assert all(f.result().text == "ChitChat()" for f in futures)
    assert scripted.rejected_over_capacity > 0


def test_identical_inflight_requests_are_shared(scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig) -> None:
    scripted.latency = 0.2
    scripted.add_rule(".*", "StartFlow(a)")
    service = make_service()
    futures = [service.submit_chat(gpt4o, "same prompt", "rephrasing") for _ in range(5)]
    completions = [f.result() for f in futures]
    assert scripted.counts["chat"] == 1
    assert {c.text for c in completions} == {"StartFlow(a)"}
    assert sum(not c.deduplicated for c in completions) == 1
    usage = service.meter.get("rephrasing")
    assert (usage.calls, usage.deduplicated) == (1, 4)


def test_shared_failure_reaches_every_waiter(scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig) -> None:
    scripted.latency = 0.1
    scripted.fail_always("bad request body", status=400)
    service = make_service()
    futures = [service.submit_chat(gpt4o, "same") for _ in range(3)]
    for future in futures:
        with pytest.raises(LLMCallError, match="bad request body"):
            future.result()
    assert scripted.counts["chat"] == 1


def test_async_fan_out_on_the_service_loop(scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig) -> None:
    scripted.add_rule(r"n(\d+)", lambda prompt: f"SetSlot(n, {prompt[1:]})")
    service = make_service()

    async def fan_out() -> list[str]:
        completions = await asyncio.gather(*(service.achat(gpt4o, f"n{i}") for i in range(10)))
        return [c.text for c in completions]

    assert service.run_coroutine(fan_out()).result() == [f"SetSlot(n, {i})" for i in range(10)]
    # the coroutine API also works from a foreign event loop
    assert asyncio.run(service.achat(gpt4o, "n42")).text == "SetSlot(n, 42)"


def test_blocking_call_on_service_loop_is_refused(make_service, gpt4o: LLMConfig) -> None:
    service = make_service()

    async def misuse() -> None:
        service.chat(gpt4o, "x")

    with pytest.raises(RuntimeError, match="service loop"):
        service.run_coroutine(misuse()).result()


def test_embeddings_travel_as_base64_under_the_cache_key_they_always_had(
    scripted: ScriptedLLMServer, make_service
) -> None:
    config = LLMConfig.from_rasa({"model": "text-embedding-ada-002"})
    result = make_service().embed(config, ["alpha", "beta"])
    assert scripted.requests[-1].body["encoding_format"] == "base64"
    for text, vector in zip(["alpha", "beta"], result.vectors, strict=True):
        expected = scripted.embedding_for(text)
        assert vector == [struct.unpack("<f", struct.pack("<f", v))[0] for v in expected]  # float32, decoded exactly
        assert all(isinstance(v, float) for v in vector)
    # the key of the same request when it was sent with encoding_format "float": cached vectors stay valid
    assert result.cache_key == "484d09fcdd6de73d6454cef2b44375d9bc107bd7b68d655dc9658f9f2877a977"


def test_embeddings_deterministic_and_ordered(scripted: ScriptedLLMServer, make_service) -> None:
    config = LLMConfig.from_rasa({"model": "text-embedding-ada-002"})
    service = make_service()
    result = service.embed(config, ["alpha", "beta", "alpha"])
    assert len(result.vectors) == 3 and len(result.vectors[0]) == scripted.embedding_dim
    assert result.vectors[0] == result.vectors[2] != result.vectors[1]
    assert abs(sum(v * v for v in result.vectors[1]) - 1.0) < 1e-6
    assert service.embed(config, []).vectors == []
    assert service.meter.get("embeddings").calls == 1


def test_missing_key_is_config_error(make_service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMConfigError):
        make_service(env={}).chat(LLMConfig.from_rasa({"model": "gpt-4o"}), "x")


def test_azure_client_against_scripted_server(scripted: ScriptedLLMServer, make_service) -> None:
    scripted.add_rule(".*", "ChitChat()")
    config = LLMConfig.from_rasa({"provider": "azure", "deployment": "my-4o", "api_version": "2024-02-15-preview"})
    env = {"AZURE_API_KEY": "az-secret", "AZURE_API_BASE": f"http://127.0.0.1:{scripted.port}"}
    assert make_service(env=env).chat(config, "hi").text == "ChitChat()"
    assert scripted.requests[-1].path == "/openai/deployments/my-4o/chat/completions"


def test_close_is_idempotent_and_refuses_new_work(make_service, gpt4o: LLMConfig) -> None:
    service: LLMService = make_service()
    service.close()
    service.close()
    assert service.closed
    with pytest.raises(ServiceClosedError):
        service.submit_chat(gpt4o, "x")


def test_retry_after_parsing_and_scrubbing() -> None:
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({}) is None
    assert scrub_secrets("key sk-abcdefghijklmnop used", None) == "key sk-abc*** used"
    assert scrub_secrets("token=secret-token-1", "secret-token-1") == "token=***"


def _held_answers(
    scripted: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch, prompt: str
) -> tuple[threading.Event, threading.Event]:
    """Make the server hold chat requests whose prompt is ``prompt`` until released.

    Returns ``(received, release)``: ``received`` is set when the server has such a request in hand; it is
    answered ``Held()`` once ``release`` is set. (The hold wraps the server's ``answer_for`` rather than using
    a rule, because rules run under the server's lock and a blocking one would stall every other request.)
    """
    received, release = threading.Event(), threading.Event()
    answer_for = scripted.answer_for

    def hold_or_answer(text: str) -> str:
        if text != prompt:
            return answer_for(text)
        received.set()
        release.wait(SAFETY_TIMEOUT)
        return "Held()"

    monkeypatch.setattr(scripted, "answer_for", hold_or_answer)
    return received, release


def test_close_cancels_pending_calls_without_waiting_for_them(
    scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    received, release = _held_answers(scripted, monkeypatch, "slow")
    service: LLMService = make_service()
    try:
        future = service.submit_chat(gpt4o, "slow")
        assert received.wait(SAFETY_TIMEOUT), "the request never reached the server"
        closer = threading.Thread(target=service.close)
        closer.start()
        closer.join(SAFETY_TIMEOUT)  # safety net only
        # close returned while the server still held the request: it cancelled rather than waited
        assert not closer.is_alive()
        assert not release.is_set()
        assert future.cancelled()
        with pytest.raises(concurrent.futures.CancelledError):
            future.result(timeout=0)
        assert service.loop.is_closed()
    finally:
        release.set()


def test_a_hanging_request_does_not_block_others(
    scripted: ScriptedLLMServer, make_service, monkeypatch: pytest.MonkeyPatch
) -> None:
    received, release = _held_answers(scripted, monkeypatch, "hang")
    scripted.add_rule(r"quick \d", lambda prompt: prompt.replace("quick", "Done"))
    config = LLMConfig.from_rasa({"model": "gpt-4o", "timeout": SAFETY_TIMEOUT})
    service: LLMService = make_service(concurrency=2)
    try:
        hanging = service.submit_chat(config, "hang")
        assert received.wait(SAFETY_TIMEOUT), "the hanging request never reached the server"
        quick = [service.submit_chat(config, f"quick {i}") for i in range(6)]
        # every quick request is answered through the one free slot while the other is still held
        assert [f.result(timeout=SAFETY_TIMEOUT).text for f in quick] == [f"Done {i}" for i in range(6)]
        assert not hanging.done() and not release.is_set()
        release.set()
        assert hanging.result(timeout=SAFETY_TIMEOUT).text == "Held()"
        assert scripted.counts["chat"] == 7
    finally:
        release.set()
