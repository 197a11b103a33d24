"""UsageMeter: counts per purpose, prices, snapshots and merging (as the xdist controller does)."""

from __future__ import annotations

import json
import threading

import pytest

from pytest_cmdgen.llm import UsageMeter, estimate_cost, price_for


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("gpt-4", (30.0, 60.0)),
        ("gpt-4-0613", (30.0, 60.0)),
        ("gpt-4o", (2.5, 10.0)),
        ("gpt-4o-2024-11-20", (2.5, 10.0)),
        ("gpt-4o-2024-05-13", (5.0, 15.0)),
        ("openai/gpt-4o-mini-2024-07-18", (0.15, 0.6)),
        ("gpt-4.1-mini-2025-04-14", (0.4, 1.6)),
        ("gpt-4.1-nano", (0.1, 0.4)),
        ("text-embedding-3-large", (0.13, 0.0)),
    ],
)
def test_known_prices(model: str, price: tuple[float, float]) -> None:
    assert price_for(model) == price


@pytest.mark.parametrize("model", ["llama-3.1-8b", "my-azure-deployment", None, "gpt-4o-mini-tts-custom"])
def test_unknown_model_has_unknown_cost(model: str | None) -> None:
    assert price_for(model) is None
    assert estimate_cost(model, 100, 100) is None


def test_meter_counts_per_purpose_and_cost() -> None:
    meter = UsageMeter()
    meter.record_call("annotation", "gpt-4o-mini", 1_000_000, 1_000_000)
    meter.record_cache_hit("annotation")
    meter.record_call("rephrasing", "gpt-4o", 1000, 0)
    meter.record_retry("rephrasing")
    meter.record_failure("validation")
    annotation = meter.get("annotation")
    assert (annotation.calls, annotation.cache_hits, annotation.total_tokens) == (1, 1, 2_000_000)
    assert annotation.estimated_cost_usd == pytest.approx(0.75)
    assert meter.get("rephrasing").retries == 1
    assert meter.get("validation").failures == 1
    assert meter.get("embeddings").calls == 0
    assert meter.purposes() == ["annotation", "rephrasing", "validation"]
    assert meter.total().estimated_cost_usd == pytest.approx(0.75 + 0.0025)


def test_unpriced_calls_make_cost_unknown_not_zero() -> None:
    meter = UsageMeter()
    meter.record_call("annotation", "local-llama", 10, 10)
    assert meter.get("annotation").estimated_cost_usd is None
    meter.record_call("annotation", "gpt-4o", 10, 10)
    assert meter.get("annotation").estimated_cost_usd is None
    assert meter.get("annotation").cost_usd > 0


def test_snapshot_is_plain_json_and_merges() -> None:
    worker_a, worker_b, controller = UsageMeter(), UsageMeter(), UsageMeter()
    worker_a.record_call("annotation", "gpt-4o", 10, 5)
    worker_b.record_call("annotation", "gpt-4o", 20, 5)
    worker_b.record_call("embeddings", "text-embedding-ada-002", 7, 0)
    for worker in (worker_a, worker_b):
        controller.merge(json.loads(json.dumps(worker.snapshot())))
    annotation = controller.get("annotation")
    assert (annotation.calls, annotation.prompt_tokens, annotation.completion_tokens) == (2, 30, 10)
    assert annotation.models == {"gpt-4o": 2}
    assert controller.get("embeddings").prompt_tokens == 7
    assert UsageMeter.from_snapshot(controller.snapshot()).snapshot() == controller.snapshot()


def test_meter_is_thread_safe() -> None:
    meter = UsageMeter()

    def hammer() -> None:
        for _ in range(2000):
            meter.record_call("validation", "gpt-4o", 1, 1)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert meter.get("validation").calls == 16000
