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


MAX_SHOWN = 400
"""Characters of one value a failure report shows; longer ones are cut, saying how long they were."""


def shorten(text: str, where: str, limit: int = MAX_SHOWN) -> str:
    """``text`` if short, else its start, its length and where the whole of it is."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters; the whole text is in {where})"


def format_failure(failure: E2EFailure) -> str:
    """Render an E2E failure: the failing step's YAML line, expected vs actual, then the transcript."""
    where = f"{failure.path}:{failure.line}"
    lines = [
        f"E2E test case {failure.test_name!r} failed at {where}",
        f"  expected: {shorten(failure.expected, where)}",
        f"  actual:   {shorten(failure.actual, where)}",
    ]
    if failure.transcript:
        lines.append("")
        lines.append("conversation (- expected, + actual):")
        lines.extend(f"  {shorten(line, failure.path.as_posix())}" for line in failure.transcript)
    return "\n".join(lines)


__all__ = ["MAX_SHOWN", "E2EFailure", "format_failure", "shorten"]
