"""Where the shared material lives: ``../shared`` beside the repository (as in CI)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
ASSISTANTS = SHARED / "assistants"
REFERENCE = SHARED / "reference"
EXAMPLES = REPO / "examples"


def reference_text(name: str) -> str:
    """The text of a reference note under ``../shared/reference``; a missing note fails the test, never skips it."""
    path = REFERENCE / name
    if not path.is_file():
        import pytest

        pytest.fail(
            f"reference note {name} not found at {path}: the tests need ../shared beside the repository "
            "(the shared data checkout), so check it out there",
            pytrace=False,
        )
    return path.read_text(encoding="utf-8")
