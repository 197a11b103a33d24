"""Offline demo: without OPENAI_API_KEY, a scripted OpenAI-compatible server on loopback plays the LLMs.

It answers the command generator and the rephraser from ``commands.yml`` (what real LLMs answered once), so
``pytest examples/car_rental/tests --cmdgen-assistant examples/car_rental --cmdgen-prepare`` runs the whole
recipe with no network. With OPENAI_API_KEY (or OPENAI_BASE_URL) set, the real endpoint is used instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_cmdgen.testing import serve_recorded_llm


def pytest_configure(config: pytest.Config) -> None:
    """Serve the recorded answers from a scripted server on loopback, unless a real endpoint is configured."""
    serve_recorded_llm(config, Path(__file__).parent / "commands.yml")
