"""Token, call and cost accounting per purpose (annotation, rephrasing, validation, embeddings).

A :class:`UsageMeter` is thread-safe. :meth:`UsageMeter.snapshot` returns plain dicts (JSON/xdist
friendly) and :meth:`UsageMeter.merge` adds such a snapshot, so workers' meters can be summed on the
controller.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from pytest_cmdgen.llm.purpose import Purpose

#: Purposes used by the recipe; any other string is accepted too.
PURPOSES = tuple(purpose.value for purpose in Purpose)

# USD per one million tokens: (input, output). Embeddings have no output price.
PRICES_PER_MILLION: Mapping[str, tuple[float, float]] = {
    "gpt-4": (30.0, 60.0),
    "gpt-4-32k": (60.0, 120.0),
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-4-1106-preview": (10.0, 30.0),
    "gpt-4-0125-preview": (10.0, 30.0),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-2024-05-13": (5.0, 15.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1-nano": (0.1, 0.4),
    "gpt-3.5-turbo": (0.5, 1.5),
    "text-embedding-ada-002": (0.1, 0.0),
    "text-embedding-3-small": (0.02, 0.0),
    "text-embedding-3-large": (0.13, 0.0),
}

_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{4})$")


def price_for(model: str | None) -> tuple[float, float] | None:
    """USD per million (input, output) tokens for a known OpenAI model, else ``None``.

    Dated variants (``gpt-4o-2024-08-06``, ``gpt-4-0613``) and ``openai/`` / ``azure/`` prefixes are
    understood; an exact entry (``gpt-4o-2024-05-13``) wins over the undated one.
    """
    if not model:
        return None
    name = model.strip().lower()
    for prefix in ("openai/", "azure/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if name in PRICES_PER_MILLION:
        return PRICES_PER_MILLION[name]
    undated = _DATE_SUFFIX.sub("", name)
    return PRICES_PER_MILLION.get(undated)


def estimate_cost(model: str | None, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Estimated USD cost of one call, ``None`` when the model's price is unknown."""
    price = price_for(model)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


@dataclass(frozen=True)
class TokenUsage:
    """Tokens reported by the provider (or a local back-end) for one request."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass
class PurposeUsage:
    """Counters for one purpose.

    ``calls`` are successful network requests; ``cache_hits`` answers served from the response cache;
    ``deduplicated`` answers shared with an identical request in flight; ``failures`` calls that finally
    failed; ``retries`` extra attempts made. ``cost_usd`` sums priced calls; ``unpriced_calls`` counts
    calls of models without a known price (then the total cost is unknown).
    """

    calls: int = 0
    cache_hits: int = 0
    deduplicated: int = 0
    failures: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    models: dict[str, int] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def estimated_cost_usd(self) -> float | None:
        """The estimated cost, or ``None`` if some call used a model with unknown price."""
        return None if self.unpriced_calls else self.cost_usd

    def add(self, other: PurposeUsage) -> None:
        """Add another purpose's counters into this one."""
        for f in fields(self):
            if f.name == "models":
                for model, n in other.models.items():
                    self.models[model] = self.models.get(model, 0) + n
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class UsageMeter:
    """Thread-safe usage counters keyed by purpose (a :class:`Purpose` or its name; kept as plain names, so
    snapshots are builtins that travel between processes)."""

    def __init__(self) -> None:
        """Create an empty meter."""
        self._lock = threading.Lock()
        self._by_purpose: dict[str, PurposeUsage] = {}

    def _get(self, purpose: str) -> PurposeUsage:
        name = str(purpose)
        usage = self._by_purpose.get(name)
        if usage is None:
            usage = self._by_purpose[name] = PurposeUsage()
        return usage

    def record_call(self, purpose: str, model: str | None, prompt_tokens: int, completion_tokens: int) -> None:
        """Count one successful network call and its tokens/cost."""
        cost = estimate_cost(model, prompt_tokens, completion_tokens)
        with self._lock:
            usage = self._get(purpose)
            usage.calls += 1
            usage.prompt_tokens += prompt_tokens
            usage.completion_tokens += completion_tokens
            label = model or "<unknown>"
            usage.models[label] = usage.models.get(label, 0) + 1
            if cost is None:
                usage.unpriced_calls += 1
            else:
                usage.cost_usd += cost

    def record_cache_hit(self, purpose: str) -> None:
        """Count one answer served from the response cache."""
        with self._lock:
            self._get(purpose).cache_hits += 1

    def record_deduplicated(self, purpose: str) -> None:
        """Count one answer shared with an identical request already in flight."""
        with self._lock:
            self._get(purpose).deduplicated += 1

    def record_failure(self, purpose: str) -> None:
        """Count one call that finally failed."""
        with self._lock:
            self._get(purpose).failures += 1

    def record_retry(self, purpose: str) -> None:
        """Count one retry attempt."""
        with self._lock:
            self._get(purpose).retries += 1

    def get(self, purpose: str) -> PurposeUsage:
        """A copy of one purpose's counters (zeros if never used)."""
        with self._lock:
            return PurposeUsage(**asdict(self._by_purpose.get(str(purpose), PurposeUsage())))

    def total(self) -> PurposeUsage:
        """The counters summed over all purposes."""
        result = PurposeUsage()
        with self._lock:
            for usage in self._by_purpose.values():
                result.add(usage)
        return result

    def purposes(self) -> list[str]:
        """The purposes seen so far, in first-use order."""
        with self._lock:
            return list(self._by_purpose)

    def snapshot(self) -> dict[str, Any]:
        """Plain-dict state: ``{"purposes": {purpose: {counter: value, "models": {...}}}}``."""
        with self._lock:
            return {"purposes": {p: asdict(u) for p, u in self._by_purpose.items()}}

    def merge(self, snapshot: Mapping[str, Any]) -> None:
        """Add a :meth:`snapshot` (e.g. from an xdist worker) into this meter."""
        names = {f.name for f in fields(PurposeUsage)}
        with self._lock:
            for purpose, counters in (snapshot.get("purposes") or {}).items():
                other = PurposeUsage(**{k: v for k, v in counters.items() if k in names})
                self._get(purpose).add(other)

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> UsageMeter:
        """A new meter holding a snapshot's counts."""
        meter = cls()
        meter.merge(snapshot)
        return meter
