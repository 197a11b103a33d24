"""Offline demo: without OPENAI_API_KEY, a scripted OpenAI-compatible server on loopback plays the LLMs.

It answers the command generator and the rephraser from ``commands.yml`` (what real LLMs answered once), so
``pytest examples/car_rental/tests --cmdgen-assistant examples/car_rental --cmdgen-prepare`` runs the whole
recipe with no network. With OPENAI_API_KEY (or OPENAI_BASE_URL) set, the real endpoint is used instead.
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
