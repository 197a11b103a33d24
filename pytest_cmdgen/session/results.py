"""What one process (or, merged, the whole session) produced: plain data, shippable between processes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SessionResults:
    """Counts of test outcomes, the recorded conversations, LLM usage, rejected paraphrases and coverage.

    Everything is builtins (conversations in their transport form), so an xdist worker can ship it in
    ``workeroutput`` and the controller can merge it; conversations are keyed by test id, so the merged
    result does not depend on which process ran what.
    """

    tests: Counter[str] = field(default_factory=Counter)
    """``passed`` / ``failed`` / ``skipped`` → count."""
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Test id → conversation (transport dict), annotated and, when rephrased, with its paraphrases."""
    sources: dict[str, str] = field(default_factory=dict)
    """Test file as in test ids → absolute path (to read the E2E split from)."""
    usage: list[dict[str, Any]] = field(default_factory=list)
    """Usage-meter snapshots, one per process."""
    rejections: list[str] = field(default_factory=list)
    """Rejected paraphrases, one line each, for the verbose summary."""
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Test id → what the run contributes to the coverage report (``TestCoverage.to_dict()``)."""
    compared: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Test id → its run as ``--cmdgen-compare`` needs it (``session.compare.run_record``)."""

    @property
    def ran_tests(self) -> bool:
        """True if any test case was run (not the case for --collect-only or when all were deselected)."""
        return sum(self.tests.values()) > 0

    def to_payload(self) -> dict[str, Any]:
        """Builtins only, for ``config.workeroutput``."""
        return {
            "tests": dict(self.tests),
            "conversations": self.conversations,
            "sources": self.sources,
            "usage": self.usage,
            "rejections": self.rejections,
            "coverage": self.coverage,
            "compared": self.compared,
        }

    def merge(self, payload: dict[str, Any]) -> None:
        """Add another process's payload (see :meth:`to_payload`)."""
        self.tests.update(payload.get("tests", {}))
        self.conversations.update(payload.get("conversations", {}))
        self.sources.update(payload.get("sources", {}))
        self.usage.extend(payload.get("usage", []))
        self.rejections.extend(payload.get("rejections", []))
        self.coverage.update(payload.get("coverage", {}))
        self.compared.update(payload.get("compared", {}))


__all__ = ["SessionResults"]
