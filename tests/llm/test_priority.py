"""Priority of queued LLM calls: which waiting call gets the next free slot (order is checked, never time)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pytest_cmdgen.llm import (
    DEFAULT_PRIORITY,
    REPHRASE_PRIORITY,
    VALIDATION_PRIORITY,
    LLMConfig,
    LLMService,
    call_priority,
    current_priority,
    turn_priority,
)
from pytest_cmdgen.llm.priority import PrioritySemaphore
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from tests.llm.conftest import SAFETY_TIMEOUT


async def _until_waiting(semaphore: PrioritySemaphore, count: int) -> None:
    """Yield to the loop until ``count`` acquirers are queued (no timed wait: each pass lets tasks run)."""
    while semaphore.waiting < count:
        await asyncio.sleep(0)


async def _until_calls_wait(service: LLMService, count: int) -> None:
    """Yield to the service loop until ``count`` calls wait for a slot (or to get under way)."""
    while service.calls_waiting < count:
        await asyncio.sleep(0)


def test_keys_order_turns_longest_chain_first_then_rephrase_then_validation_then_the_rest() -> None:
    keys = [DEFAULT_PRIORITY, VALIDATION_PRIORITY, turn_priority(1), REPHRASE_PRIORITY, turn_priority(20)]
    assert sorted(keys) == [
        turn_priority(20),
        turn_priority(1),
        REPHRASE_PRIORITY,
        VALIDATION_PRIORITY,
        DEFAULT_PRIORITY,
    ]


def test_call_priority_sets_the_key_for_the_block_only() -> None:
    assert current_priority() == DEFAULT_PRIORITY
    with call_priority(turn_priority(3)):
        assert current_priority() == turn_priority(3)
        with call_priority(VALIDATION_PRIORITY):
            assert current_priority() == VALIDATION_PRIORITY
        assert current_priority() == turn_priority(3)
    assert current_priority() == DEFAULT_PRIORITY


def test_waiters_are_granted_lowest_key_first_and_in_arrival_order_among_equals() -> None:
    granted: list[str] = []

    async def scenario() -> None:
        semaphore = PrioritySemaphore(1)
        await semaphore.acquire()  # the one slot is taken: everyone below queues

        async def call(name: str, key: tuple[int, ...]) -> None:
            async with semaphore.slot(key):
                granted.append(name)

        waiting = [
            ("validation", VALIDATION_PRIORITY),
            ("short turn", turn_priority(1)),
            ("rephrase", REPHRASE_PRIORITY),
            ("long turn", turn_priority(5)),
            ("other", DEFAULT_PRIORITY),
            ("short turn, later", turn_priority(1)),
        ]
        tasks = [asyncio.create_task(call(name, key)) for name, key in waiting]
        await _until_waiting(semaphore, len(waiting))
        semaphore.release()
        await asyncio.gather(*tasks)
        assert semaphore.free == 1 and semaphore.waiting == 0

    asyncio.run(scenario())
    assert granted == ["long turn", "short turn", "short turn, later", "rephrase", "validation", "other"]


def test_a_cancelled_waiter_takes_no_slot_and_a_granted_one_passes_it_on() -> None:
    async def scenario() -> list[str]:
        semaphore = PrioritySemaphore(1)
        await semaphore.acquire()
        granted: list[str] = []

        async def call(name: str, key: tuple[int, ...]) -> None:
            async with semaphore.slot(key):
                granted.append(name)

        first = asyncio.create_task(call("first", turn_priority(9)))
        dropped = asyncio.create_task(call("dropped", turn_priority(8)))
        last = asyncio.create_task(call("last", DEFAULT_PRIORITY))
        await _until_waiting(semaphore, 3)
        dropped.cancel()  # cancelled while waiting: skipped
        semaphore.release()  # granted to "first" ...
        first.cancel()  # ... which is cancelled before it runs: the slot goes on to "last"
        results = await asyncio.gather(first, dropped, last, return_exceptions=True)
        assert [type(r).__name__ for r in results] == ["CancelledError", "CancelledError", "NoneType"]
        assert semaphore.free == 1 and semaphore.waiting == 0
        return granted

    assert asyncio.run(scenario()) == ["last"]


def _hold(scripted: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch, prompt: str) -> tuple[threading.Event, ...]:
    """The server holds the chat request ``prompt`` until released (see test_service._held_answers)."""
    received, release = threading.Event(), threading.Event()
    answer_for = scripted.answer_for

    def hold_or_answer(text: str) -> str:
        if text == prompt:
            received.set()
            release.wait(SAFETY_TIMEOUT)
        return answer_for(text)

    monkeypatch.setattr(scripted, "answer_for", hold_or_answer)
    return received, release


def test_the_service_grants_queued_calls_by_the_priority_set_when_they_were_submitted(
    scripted: ScriptedLLMServer, make_service, gpt4o: LLMConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted.add_rule(".*", "ok")
    received, release = _hold(scripted, monkeypatch, "holding the only slot")
    service: LLMService = make_service(concurrency=1)
    try:
        held = service.submit_chat(gpt4o, "holding the only slot")
        assert received.wait(SAFETY_TIMEOUT), "the first request never reached the server"
        queued = []
        for prompt, key in [
            ("validation", VALIDATION_PRIORITY),
            ("no priority set", None),
            ("turn, 2 to go", turn_priority(2)),
            ("rephrase", REPHRASE_PRIORITY),
            ("turn, 7 to go", turn_priority(7)),
        ]:
            if key is None:
                queued.append(service.submit_chat(gpt4o, prompt))
            else:
                with call_priority(key):
                    queued.append(service.submit_chat(gpt4o, prompt))
        service.run_coroutine(_until_calls_wait(service, len(queued))).result(SAFETY_TIMEOUT)
        assert service.calls_waiting == len(queued)
        release.set()
        assert [f.result(SAFETY_TIMEOUT).text for f in [held, *queued]] == ["ok"] * 6
    finally:
        release.set()
    # With one slot, two calls may be under way: the first queued one had its request built, ready for the
    # slot (a bounded inversion, at most one call per slot); every later one is granted by priority.
    assert scripted.chat_prompts()[1:] == [
        "validation",
        "turn, 7 to go",
        "turn, 2 to go",
        "rephrase",
        "no priority set",
    ]
