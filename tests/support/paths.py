"""Where the shared material lives: ``../shared`` beside the repository (as in CI)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
ASSISTANTS = SHARED / "assistants"
REFERENCE = SHARED / "reference"
EXAMPLES = REPO / "examples"
