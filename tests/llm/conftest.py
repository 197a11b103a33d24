"""Fixtures for the LLM layer tests: the scripted server fixture, fast services, reference templates."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from pytest_cmdgen.llm import LLMConfig, LLMService, RetryPolicy
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer

#: Retries with tiny waits so the failure tests stay fast.
FAST_RETRY = RetryPolicy(max_retries=5, base_delay=0.005, max_delay=0.02, max_retry_after=0.05)

#: A safety net for waits on events and threads: generous, never what a test asserts on.
SAFETY_TIMEOUT = 30.0


@pytest.fixture
def scripted(cmdgen_scripted_llm: ScriptedLLMServer) -> ScriptedLLMServer:
    """The scripted server with quick 429 retry hints."""
    cmdgen_scripted_llm.retry_after = 0.01
    return cmdgen_scripted_llm


@pytest.fixture
def make_service() -> Iterator[Callable[..., LLMService]]:
    """Factory of :class:`LLMService` objects (fast retries, fixed seed), all closed afterwards."""
    services: list[LLMService] = []

    def factory(**kwargs: object) -> LLMService:
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("seed", 1)
        service = LLMService(**kwargs)  # type: ignore[arg-type]
        services.append(service)
        return service

    yield factory
    for service in services:
        service.close()


@pytest.fixture
def retry_delays(caplog: pytest.LogCaptureFixture) -> Callable[[], list[float]]:
    """The waits (seconds) the service chose before each retry so far, read from its DEBUG retry records."""
    caplog.set_level(logging.DEBUG, logger="pytest_cmdgen.llm")
    return lambda: [record.llm_delay for record in caplog.records if hasattr(record, "llm_delay")]


@pytest.fixture
def gpt4o() -> LLMConfig:
    """A plain OpenAI config (endpoint and key come from the scripted fixture's environment)."""
    return LLMConfig.from_rasa({"model": "gpt-4o", "timeout": 5})
