"""Fixtures shared by the plugin tests: a copy of the bundled example and a loopback LLM that plays it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_cmdgen.testing import ScriptedLLMServer
from tests.support.paths import EXAMPLES


@pytest.fixture
def car_rental(pytester: pytest.Pytester) -> Path:
    """The car-rental example copied into the pytester directory, without its offline-demo conftest."""
    shutil.copytree(EXAMPLES / "car_rental", pytester.path / "car_rental", ignore=shutil.ignore_patterns("conftest.py"))
    return pytester.path / "car_rental"


@pytest.fixture
def llm(car_rental: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedLLMServer]:
    """A scripted OpenAI-compatible server answering from the example's recorded commands and paraphrases,
    with ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` pointing at it (the key must never reach an output)."""
    recorded = car_rental / "commands.yml"
    with ScriptedLLMServer(annotations=recorded, rephrasings=recorded) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-a-secret")
        yield server
