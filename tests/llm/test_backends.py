"""Back-ends behind one interface: the registry, selection by config, and the service's generic parts (cache,
sharing of identical requests, retries with hints, usage per purpose, secret scrubbing) on a back-end that is
not the openai one: a small real in-process implementation of the protocol written here."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_cmdgen.llm import (
    OPENAI_BACKEND,
    Backend,
    BackendCallError,
    BackendSettings,
    CacheMissError,
    ChatAnswer,
    EmbeddingAnswer,
    Endpoint,
    LLMCallError,
    LLMConfig,
    LLMConfigError,
    LLMService,
    Purpose,
    ResponseCache,
    RetryPolicy,
    TokenUsage,
    backend_for,
    cache_key,
    create_backend,
    known_backends,
    register_backend,
    unregister_backend,
)
from pytest_cmdgen.llm.backends import is_loaded
from pytest_cmdgen.llm.backends.base import wire_slot, wire_slot_for_call
from pytest_cmdgen.llm.backends.openai_backend import OpenAIBackend
from pytest_cmdgen.testing.fixtures import SCRIPTED_API_KEY
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from tests.llm.conftest import SAFETY_TIMEOUT

NAME = "in-process-test"
SECRET = "sk-inprocesssecret123456"


class InProcessBackend:
    """A complete back-end without a network: answers the prompt upper-cased, embeds texts as small vectors.

    ``failures`` are raised by the next chat calls, in order; while ``gate`` is set to an unset event, chat
    calls wait for it (off the loop). Counters and the arguments of each call are kept for the tests.
    """

    def __init__(self) -> None:
        self.settings: list[BackendSettings] = []
        self.chat_calls = 0
        self.embed_calls = 0
        self.failures: list[BackendCallError] = []
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.endpoints: list[Endpoint] = []
        self.kwargs: list[Mapping[str, Any]] = []
        self.timeouts: list[float] = []
        self.closed = 0

    async def chat(
        self, endpoint: Endpoint, messages: list[dict[str, Any]], kwargs: Mapping[str, Any], timeout: float
    ) -> ChatAnswer:
        self.chat_calls += 1
        self.endpoints.append(endpoint)
        self.kwargs.append(dict(kwargs))
        self.timeouts.append(timeout)
        self.entered.set()
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait, SAFETY_TIMEOUT)
        if self.failures:
            raise self.failures.pop(0)
        prompt = " ".join(str(m["content"]) for m in messages)
        return ChatAnswer(prompt.upper(), TokenUsage(len(prompt.split()), 1), model=f"{endpoint.model}-v1")

    async def embed(
        self, endpoint: Endpoint, texts: list[str], kwargs: Mapping[str, Any], timeout: float
    ) -> EmbeddingAnswer:
        self.embed_calls += 1
        vectors = [[float(len(text)), float(i)] for i, text in enumerate(texts)]
        return EmbeddingAnswer(vectors, TokenUsage(prompt_tokens=len(texts)))

    async def close(self) -> None:
        self.closed += 1


@pytest.fixture
def backend() -> Iterator[InProcessBackend]:
    """One :class:`InProcessBackend`, registered as ``NAME`` for the test (its factory records the settings)."""
    instance = InProcessBackend()

    def factory(settings: BackendSettings) -> InProcessBackend:
        instance.settings.append(settings)
        return instance

    register_backend(NAME, factory)
    yield instance
    unregister_backend(NAME)


@pytest.fixture
def config() -> LLMConfig:
    """A config for a provider only the in-process back-end knows; its key comes from the environment."""
    return LLMConfig.from_rasa(
        {"provider": "tiny-local", "backend": NAME, "model": "tiny-1", "api_key": "${TINY_KEY}", "timeout": 3}
    )


@pytest.fixture
def service(make_service: Callable[..., LLMService]) -> LLMService:
    """A service whose environment holds the in-process back-end's key."""
    return make_service(env={"TINY_KEY": SECRET})


# ---------------------------------------------------------------------- selection by config


@pytest.mark.parametrize("provider", ["openai", "azure", "self-hosted", "rasa"])
def test_supported_providers_default_to_the_openai_backend(provider: str) -> None:
    config = LLMConfig.from_rasa({"provider": provider, "model": "m", "api_base": "http://h/v1"})
    assert config.backend is None and config.backend_name == OPENAI_BACKEND and config.backend_is_default


def test_backend_key_is_first_class_and_normalised() -> None:
    config = LLMConfig.from_rasa({"provider": "tiny-local", "backend": " In-Process-Test ", "model": "m", "top_k": 3})
    assert (config.backend, config.backend_name, config.backend_is_default) == (NAME, NAME, False)
    assert "backend" not in config.extra and config.extra == {"top_k": 3}
    assert LLMConfig(provider="openai", model="m", backend="openai").backend_is_default


def test_other_providers_need_a_backend_other_than_openai() -> None:
    with pytest.raises(LLMConfigError, match="anthropic.*backend"):
        LLMConfig(provider="anthropic", model="claude")
    with pytest.raises(LLMConfigError, match="anthropic"):
        LLMConfig(provider="anthropic", model="claude", backend="openai")
    with pytest.raises(LLMConfigError, match="backend must not be empty"):
        LLMConfig(model="m", backend=" ")


def test_endpoint_of_a_provider_served_by_another_backend(config: LLMConfig) -> None:
    endpoint = config.resolve_endpoint({"TINY_KEY": SECRET})
    assert endpoint == Endpoint("tiny-local", None, SECRET, None, "tiny-1")
    with pytest.raises(LLMConfigError, match="TINY_KEY"):
        config.resolve_endpoint({})
    keyless = LLMConfig(provider="tiny-local", model="${M}", api_base="http://h/v1", backend=NAME)
    assert keyless.resolve_endpoint({"M": "tiny-2"}) == Endpoint("tiny-local", "http://h/v1", "", None, "tiny-2")


# ---------------------------------------------------------------------- the registry


def test_openai_is_registered_and_satisfies_the_protocol(backend: InProcessBackend) -> None:
    assert {OPENAI_BACKEND, NAME} <= set(known_backends())
    assert backend_for("OpenAI") is OpenAIBackend
    assert isinstance(create_backend(OPENAI_BACKEND), Backend)
    assert isinstance(backend, Backend)


def test_unknown_backend_name_lists_the_known_ones() -> None:
    with pytest.raises(LLMConfigError, match=r"unknown LLM back-end 'nope'; known back-ends: \[.*'openai'.*\]"):
        backend_for("nope")


def test_unknown_backend_in_a_config_fails_the_call(service: LLMService) -> None:
    config = LLMConfig(provider="tiny-local", model="m", backend="nope")
    with pytest.raises(LLMConfigError, match="'nope'.*'openai'"):
        service.chat(config, "hi", purpose=Purpose.VALIDATION)
    assert service.meter.get(Purpose.VALIDATION).failures == 1


def test_registration_rules(backend: InProcessBackend) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_backend(NAME, lambda settings: InProcessBackend())
    with pytest.raises(ValueError, match="module:attr"):
        register_backend("bad-spec", "no colon here")
    with pytest.raises(ValueError, match="empty"):
        register_backend(" ", "a.b:C")
    # re-registering the same built-in string is a no-op; replace=True swaps the factory
    register_backend(OPENAI_BACKEND, "pytest_cmdgen.llm.backends.openai_backend:OpenAIBackend")
    other = InProcessBackend()
    register_backend(NAME, lambda settings: other, replace=True)
    assert create_backend(NAME) is other


def _write_backend_module(directory: Path) -> str:
    name = f"cmdgen_lazy_backend_{uuid.uuid4().hex[:12]}"
    (directory / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from pytest_cmdgen.llm import ChatAnswer, EmbeddingAnswer, TokenUsage


            class Echo:
                def __init__(self, settings):
                    self.settings = settings

                async def chat(self, endpoint, messages, kwargs, timeout):
                    return ChatAnswer("echo: " + messages[-1]["content"], TokenUsage(1, 1), "echo-model")

                async def embed(self, endpoint, texts, kwargs, timeout):
                    return EmbeddingAnswer([[1.0] for _ in texts], TokenUsage(len(texts)))

                async def close(self):
                    pass
            """
        )
    )
    return name


def test_dotted_factory_is_imported_only_when_first_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_service: Callable[..., LLMService]
) -> None:
    module = _write_backend_module(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    name = f"lazy-{module[-12:]}"
    register_backend(name, f"{module}:Echo")
    try:
        config = LLMConfig(provider="echo", model="e", backend=name)
        service = make_service()
        assert module not in sys.modules and not is_loaded(name)
        completion = service.chat(config, "hello")
        assert module in sys.modules and is_loaded(name)
        assert (completion.text, completion.model) == ("echo: hello", "echo-model")
    finally:
        unregister_backend(name)
        sys.modules.pop(module, None)


def test_dotted_factory_that_cannot_be_imported_is_a_config_error(service: LLMService) -> None:
    register_backend("broken-test", "cmdgen_no_such_module_xyz:Backend")
    try:
        with pytest.raises(LLMConfigError, match="'broken-test'.*cmdgen_no_such_module_xyz"):
            service.chat(LLMConfig(provider="x", model="m", backend="broken-test"), "hi")
        assert service.meter.get(Purpose.ANNOTATION).failures == 1
    finally:
        unregister_backend("broken-test")


def test_importing_the_llm_layer_imports_no_client_or_training_stack() -> None:
    probe = textwrap.dedent(
        """
        import json, sys
        heavy = ("openai", "torch", "transformers", "peft", "trl")
        import pytest_cmdgen.llm
        from pytest_cmdgen.llm import LLMConfig, LLMService
        LLMService().close()
        after_import = [m for m in heavy if m in sys.modules]
        from pytest_cmdgen.llm import backend_for
        backend_for("openai")
        after_use = [m for m in heavy if m in sys.modules]
        print(json.dumps([after_import, after_use]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2]
    )
    assert done.returncode == 0, done.stderr
    after_import, after_use = json.loads(done.stdout.strip().splitlines()[-1])
    assert after_import == []
    assert after_use == ["openai"]


# ---------------------------------------------------------------------- the service on the in-process back-end


def test_service_uses_the_backend_registered_by_name(
    backend: InProcessBackend, config: LLMConfig, make_service: Callable[..., LLMService]
) -> None:
    service = make_service(env={"TINY_KEY": SECRET}, default_timeout=42.0)
    completion = service.chat(config, "book a car")
    assert (completion.text, completion.model, completion.cached) == ("BOOK A CAR", "tiny-1-v1", False)
    assert completion.usage == TokenUsage(3, 1)
    assert backend.endpoints == [Endpoint("tiny-local", None, SECRET, None, "tiny-1")]
    assert backend.kwargs == [{"temperature": 0.0}] and backend.timeouts == [3.0]
    service.chat(config, "another")
    assert backend.settings == [BackendSettings(default_timeout=42.0)]  # made once per service
    service.close()
    assert backend.closed == 1


def test_second_call_is_a_cache_hit(
    backend: InProcessBackend, config: LLMConfig, make_service: Callable[..., LLMService], tmp_path: Path
) -> None:
    service = make_service(env={"TINY_KEY": SECRET}, cache=ResponseCache(tmp_path / "cache"))
    first = service.chat(config, "same prompt")
    second = service.chat(config, "same prompt")
    assert backend.chat_calls == 1
    assert (first.cached, second.cached) == (False, True)
    assert (second.text, second.model, second.usage) == (first.text, first.model, first.usage)
    assert service.embed(config, ["a", "bb"]).vectors == service.embed(config, ["a", "bb"]).vectors
    assert backend.embed_calls == 1
    assert service.meter.get(Purpose.ANNOTATION).cache_hits == 1
    assert service.meter.get(Purpose.EMBEDDINGS).cache_hits == 1


def test_cache_keys_change_only_for_a_non_default_backend(
    make_service: Callable[..., LLMService], tmp_path: Path
) -> None:
    service = make_service(cache=ResponseCache(tmp_path, "replay"))
    messages = [{"role": "user", "content": "hi"}]

    def key_of(config: LLMConfig) -> str:
        with pytest.raises(CacheMissError) as info:
            service.chat(config, messages)
        return info.value.key

    implicit = key_of(LLMConfig(provider="openai", model="gpt-4o"))
    assert implicit == cache_key("chat", "openai", "gpt-4o", messages, {"temperature": 0.0})
    assert key_of(LLMConfig(provider="openai", model="gpt-4o", backend="openai")) == implicit
    assert key_of(LLMConfig(provider="openai", model="gpt-4o", backend=NAME)) != implicit


def test_identical_concurrent_calls_are_shared(
    backend: InProcessBackend, config: LLMConfig, service: LLMService
) -> None:
    backend.gate = threading.Event()
    try:
        futures = [service.submit_chat(config, "same prompt", Purpose.REPHRASING) for _ in range(5)]
        assert backend.entered.wait(SAFETY_TIMEOUT)
    finally:
        backend.gate.set()
    completions = [f.result(timeout=SAFETY_TIMEOUT) for f in futures]
    assert backend.chat_calls == 1
    assert {c.text for c in completions} == {"SAME PROMPT"}
    assert sum(not c.deduplicated for c in completions) == 1
    usage = service.meter.get(Purpose.REPHRASING)
    assert (usage.calls, usage.deduplicated) == (1, 4)


def test_retryable_errors_are_retried_with_the_hint_honoured(
    backend: InProcessBackend,
    config: LLMConfig,
    make_service: Callable[..., LLMService],
    retry_delays: Callable[[], list[float]],
) -> None:
    backend.failures = [
        BackendCallError("slow down", status=429, retryable=True, retry_after=0.01),
        BackendCallError("slow down", status=429, retryable=True, retry_after=0.01),
        BackendCallError("much slower", status=503, retryable=True, retry_after=30.0),  # capped
    ]
    service = make_service(
        env={"TINY_KEY": SECRET}, retry=RetryPolicy(max_retries=5, base_delay=5.0, max_retry_after=0.02)
    )
    assert service.chat(config, "hi").text == "HI"
    assert retry_delays() == [0.01, 0.01, 0.02]  # the hints (capped), never a draw from the 5 s backoff
    assert backend.chat_calls == 4
    usage = service.meter.get(Purpose.ANNOTATION)
    assert (usage.calls, usage.retries, usage.failures) == (1, 3, 0)


def test_without_a_hint_the_jittered_backoff_is_used(
    backend: InProcessBackend,
    config: LLMConfig,
    make_service: Callable[..., LLMService],
    retry_delays: Callable[[], list[float]],
) -> None:
    policy = RetryPolicy(max_retries=3, base_delay=0.004, max_delay=0.01)
    backend.failures = [BackendCallError("connection reset", retryable=True)] * 2
    service = make_service(env={"TINY_KEY": SECRET}, retry=policy, seed=7)
    assert service.chat(config, "hi").text == "HI"
    rng = random.Random(7)
    assert retry_delays() == [policy.backoff(1, rng), policy.backoff(2, rng)]


def test_non_retryable_error_fails_at_once_with_secrets_scrubbed(
    backend: InProcessBackend, config: LLMConfig, service: LLMService
) -> None:
    backend.failures = [BackendCallError(f"bad key {SECRET}", status=401)]
    with pytest.raises(LLMCallError) as info:
        service.chat(config, "hi", purpose=Purpose.VALIDATION)
    error = info.value
    assert str(error) == (
        "validation request to tiny-local model 'tiny-1' failed after 1 attempt(s): HTTP 401: bad key ***"
    )
    assert (error.status, error.attempts, error.retryable, error.provider_message) == (401, 1, False, "bad key ***")
    assert backend.chat_calls == 1
    assert service.meter.get(Purpose.VALIDATION).failures == 1


def test_exhausted_retries_report_no_response(
    backend: InProcessBackend, config: LLMConfig, service: LLMService
) -> None:
    backend.failures = [BackendCallError("timed out", retryable=True)] * 10
    with pytest.raises(LLMCallError, match=r"failed after 6 attempt\(s\): no response: timed out") as info:
        service.chat(config, "hi")
    assert (info.value.status, info.value.attempts, info.value.retryable) == (None, 6, True)
    assert backend.chat_calls == 6


def test_usage_is_counted_per_purpose(backend: InProcessBackend, config: LLMConfig, service: LLMService) -> None:
    service.chat(config, "one two three")  # default purpose: annotation
    service.chat(config, "four five", purpose=Purpose.VALIDATION)
    service.chat(config, "six", purpose="validation")  # a plain name counts under the same purpose
    assert service.embed(config, ["a", "b", "c"]).vectors == [[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]
    meter = service.meter
    assert meter.purposes() == ["annotation", "validation", "embeddings"]
    assert all(type(name) is str for name in meter.snapshot()["purposes"])
    annotation, validation, embeddings = (meter.get(p) for p in (Purpose.ANNOTATION, "validation", Purpose.EMBEDDINGS))
    assert (annotation.calls, annotation.prompt_tokens, annotation.completion_tokens) == (1, 3, 1)
    assert (validation.calls, validation.prompt_tokens, validation.completion_tokens) == (2, 3, 2)
    assert (embeddings.calls, embeddings.prompt_tokens, embeddings.completion_tokens) == (1, 3, 0)
    assert annotation.models == {"tiny-1-v1": 1} and embeddings.models == {"tiny-1": 1}


def test_async_fan_out_reaches_the_backend(backend: InProcessBackend, config: LLMConfig, service: LLMService) -> None:
    async def fan_out() -> list[str]:
        completions = await asyncio.gather(*(service.achat(config, f"m{i}") for i in range(8)))
        return [c.text for c in completions]

    assert service.run_coroutine(fan_out()).result(timeout=SAFETY_TIMEOUT) == [f"M{i}" for i in range(8)]
    assert backend.chat_calls == 8


class WireBackend(InProcessBackend):
    """A back-end that holds the service's slot only for its "wire" part; the call named A then waits, after
    the wire, until ``parsed`` is set (its client-side work)."""

    holds_slot_on_the_wire = True

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.a_parsing = threading.Event()
        self.parsed = threading.Event()

    async def chat(
        self, endpoint: Endpoint, messages: list[dict[str, Any]], kwargs: Mapping[str, Any], timeout: float
    ) -> ChatAnswer:
        name = str(messages[0]["content"])
        async with wire_slot():
            self.events.append(f"{name} on the wire")
        if name == "A":
            self.a_parsing.set()
            await asyncio.to_thread(self.parsed.wait, SAFETY_TIMEOUT)
        self.events.append(f"{name} answered")
        return ChatAnswer(name)


def test_a_backend_holding_the_slot_on_the_wire_frees_it_for_the_next_call_while_it_parses(
    make_service: Callable[..., LLMService], config: LLMConfig
) -> None:
    instance = WireBackend()
    register_backend(NAME, lambda settings: instance)
    try:
        service = make_service(env={"TINY_KEY": SECRET}, concurrency=1)
        first = service.submit_chat(config, "A")
        assert instance.a_parsing.wait(SAFETY_TIMEOUT)
        # A still runs (parsing), yet B gets the one slot: only the wire counts as in flight.
        assert service.submit_chat(config, "B").result(SAFETY_TIMEOUT).text == "B"
        instance.parsed.set()
        assert first.result(SAFETY_TIMEOUT).text == "A"
    finally:
        instance.parsed.set()
        unregister_backend(NAME)
    assert instance.events == ["A on the wire", "B on the wire", "B answered", "A answered"]


def test_calls_under_way_on_such_a_backend_are_bounded_by_twice_the_concurrency(
    backend: InProcessBackend, config: LLMConfig, make_service: Callable[..., LLMService]
) -> None:
    backend.holds_slot_on_the_wire = True  # type: ignore[attr-defined]  # its chat never takes the wire slot
    backend.gate = threading.Event()
    service = make_service(env={"TINY_KEY": SECRET}, concurrency=1)
    futures = [service.submit_chat(config, f"call {n}") for n in range(5)]
    assert backend.entered.wait(SAFETY_TIMEOUT)
    assert service.run_coroutine(_calls_waiting(service, 3)).result(SAFETY_TIMEOUT) == 3
    assert backend.chat_calls == 2  # requests of the other three are not even built
    backend.gate.set()
    assert [f.result(SAFETY_TIMEOUT).text for f in futures] == [f"CALL {n}" for n in range(5)]


def test_a_backend_without_it_holds_the_slot_for_the_whole_call(
    backend: InProcessBackend, config: LLMConfig, make_service: Callable[..., LLMService]
) -> None:
    backend.gate = threading.Event()
    service = make_service(env={"TINY_KEY": SECRET}, concurrency=1)
    first = service.submit_chat(config, "first")
    assert backend.entered.wait(SAFETY_TIMEOUT)
    second = service.submit_chat(config, "second")
    assert service.run_coroutine(_calls_waiting(service, 1)).result(SAFETY_TIMEOUT) == 1
    backend.gate.set()
    assert (first.result(SAFETY_TIMEOUT).text, second.result(SAFETY_TIMEOUT).text) == ("FIRST", "SECOND")


async def _calls_waiting(service: LLMService, expected: int) -> int:
    for _ in range(1000):  # until the calls have queued (they are submitted from another thread)
        if service.calls_waiting >= expected:
            break
        await asyncio.sleep(0)
    return service.calls_waiting


# ---------------------------------------------------------------------- the openai back-end on its own


def test_openai_backend_holds_the_slot_exactly_while_its_request_is_out(scripted: ScriptedLLMServer) -> None:
    endpoint = Endpoint("openai", scripted.base_url, SCRIPTED_API_KEY, None, "gpt-4o")
    events: list[str] = []

    def answer(prompt: str) -> str:
        events.append("the server answers")
        return "ChitChat()"

    scripted.add_rule(".*", answer)

    class RecordingSlot:
        async def __aenter__(self) -> None:
            events.append("slot taken")

        async def __aexit__(self, *exc_info: object) -> None:
            events.append("slot given back")

    async def call() -> ChatAnswer:
        backend = OpenAIBackend(BackendSettings(default_timeout=5.0))
        assert backend.holds_slot_on_the_wire
        try:
            with wire_slot_for_call(RecordingSlot):
                return await backend.chat(endpoint, [{"role": "user", "content": "hi"}], {}, 5.0)
        finally:
            await backend.close()

    assert asyncio.run(call()).text == "ChitChat()"
    assert events == ["slot taken", "the server answers", "slot given back"]



def test_openai_backend_turns_client_errors_into_backend_call_errors(scripted: ScriptedLLMServer) -> None:
    endpoint = Endpoint("openai", scripted.base_url, SCRIPTED_API_KEY, None, "gpt-4o")
    scripted.add_rule(".*", "ChitChat()")

    async def attempt() -> ChatAnswer | BackendCallError:
        backend = OpenAIBackend(BackendSettings(default_timeout=5.0))
        try:
            return await backend.chat(endpoint, [{"role": "user", "content": "hi"}], {"temperature": 0.0}, 5.0)
        except BackendCallError as exc:
            return exc
        finally:
            await backend.close()

    answer = asyncio.run(attempt())
    assert isinstance(answer, ChatAnswer) and (answer.text, answer.model) == ("ChitChat()", "gpt-4o")
    scripted.inject_faults("429", 1)
    rate_limited = asyncio.run(attempt())
    assert isinstance(rate_limited, BackendCallError)
    assert (rate_limited.status, rate_limited.retryable, rate_limited.retry_after) == (429, True, 0.01)
    scripted.inject_faults("disconnect", 1)
    dropped = asyncio.run(attempt())
    assert isinstance(dropped, BackendCallError)
    assert (dropped.status, dropped.retryable, dropped.retry_after) == (None, True, None)
    scripted.fail_always("no such model", status=404)
    missing = asyncio.run(attempt())
    assert isinstance(missing, BackendCallError)
    assert (missing.detail, missing.status, missing.retryable) == ("no such model", 404, False)
