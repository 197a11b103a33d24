"""Offline by default: without OPENAI_API_KEY or OPENAI_BASE_URL, a scripted server on loopback plays the LLMs.

The answers are **recorded, not live**: a scripted OpenAI-compatible server answers the command generator and the
rephraser from ``commands.yml`` (hand-written in the recording format), so

    pytest examples/travel/tests --cmdgen-assistant examples/travel --cmdgen-prepare

runs the whole recipe with no network and no API key. Set OPENAI_API_KEY (the OpenAI API) or OPENAI_BASE_URL (a
local vLLM, Ollama or llama.cpp server) and the real endpoint is used instead; add
``--cmdgen-cache-mode refresh`` on that first real run, since ``.cmdgen_cache/`` still holds the recorded answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_cmdgen.testing import serve_recorded_llm


def pytest_configure(config: pytest.Config) -> None:
    """Serve the recorded answers from a scripted server on loopback, unless a real endpoint is configured."""
    serve_recorded_llm(config, Path(__file__).parent / "commands.yml")
