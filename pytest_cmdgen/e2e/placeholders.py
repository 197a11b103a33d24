"""Placeholder user turns: what a skeleton test (``coverage/missing_tests.yml``) leaves for a person to write.

A user step whose text starts with :data:`PLACEHOLDER_PREFIX` is not a message anyone would send; a test
case holding one is not run but reported as a placeholder (skipped, naming the lines), so a skeleton
can never pass silently before it is completed.
"""

from __future__ import annotations

from pytest_cmdgen.e2e import model as m

PLACEHOLDER_PREFIX = "TODO(cmdgen):"
"""How a placeholder user turn starts."""


def is_placeholder(text: str | None) -> bool:
    """Whether a user message is a placeholder."""
    return bool(text) and str(text).lstrip().startswith(PLACEHOLDER_PREFIX)


def placeholder_lines(test_case: m.TestCase) -> list[int]:
    """The YAML lines of the test case's placeholder user steps."""
    return [s.line for s in test_case.steps if isinstance(s, m.UserStep) and is_placeholder(s.text)]


def placeholder_reason(test_case: m.TestCase) -> str | None:
    """Why the test case is not run (its placeholder lines), or None when it has no placeholder."""
    lines = placeholder_lines(test_case)
    if not lines:
        return None
    where = ", ".join(str(line) for line in lines)
    return (
        f"placeholder test: replace the user turns marked {PLACEHOLDER_PREFIX!r} (line {where}) "
        "with what the user says"
    )


__all__ = ["PLACEHOLDER_PREFIX", "is_placeholder", "placeholder_lines", "placeholder_reason"]
