"""Offline by default: without OPENAI_API_KEY or OPENAI_BASE_URL, a scripted server on loopback plays the LLMs.

The answers are **recorded, not live**: a scripted OpenAI-compatible server answers the command generator and the
rephraser from ``commands.yml`` (hand-written in the recording format), so

    pytest examples/travel/tests --cmdgen-assistant examples/travel --cmdgen-prepare

runs the whole recipe with no network and no API key. Set OPENAI_API_KEY (the OpenAI API) or OPENAI_BASE_URL (a
local vLLM, Ollama or llama.cpp server) and the real endpoint is used instead; add
``--cmdgen-cache-mode refresh`` on that first real run, since ``.cmdgen_cache/`` still holds the recorded answers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer

RECORDED = Path(__file__).parent / "commands.yml"


def pytest_configure(config: pytest.Config) -> None:
    """Start the scripted server and point the OpenAI client at it, unless a real endpoint is configured."""
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return
    server = ScriptedLLMServer(annotations=RECORDED, rephrasings=RECORDED)
    os.environ["OPENAI_BASE_URL"] = server.start()
    os.environ["OPENAI_API_KEY"] = "offline-demo"

    def stop() -> None:
        server.stop()
        os.environ.pop("OPENAI_BASE_URL", None)
        os.environ.pop("OPENAI_API_KEY", None)

    config.add_cleanup(stop)
