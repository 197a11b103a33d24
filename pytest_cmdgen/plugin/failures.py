"""How a failed E2E test case is reported: where, expected versus actual, and the conversation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class E2EFailure(Exception):
    """An E2E test case did not pass: where, what was expected, and the conversation transcript."""

    test_name: str
    path: Path
    line: int
    expected: str
    actual: str
    transcript: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: expected {self.expected}; {self.actual}"


def format_failure(failure: E2EFailure) -> str:
    """Render an E2E failure: the failing step's YAML line, expected vs actual, then the transcript."""
    lines = [
        f"E2E test case {failure.test_name!r} failed at {failure.path}:{failure.line}",
        f"  expected: {failure.expected}",
        f"  actual:   {failure.actual}",
    ]
    if failure.transcript:
        lines.append("")
        lines.append("conversation (- expected, + actual):")
        lines.extend(f"  {line}" for line in failure.transcript)
    return "\n".join(lines)


__all__ = ["E2EFailure", "format_failure"]
