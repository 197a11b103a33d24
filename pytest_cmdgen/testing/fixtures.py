"""pytest fixtures of the testing helpers (registered by the plugin; imports pytest)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported inside the fixture, so registering the fixture costs nothing
    from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer

#: The API key the fixture puts into ``OPENAI_API_KEY`` (the scripted server accepts any key).
SCRIPTED_API_KEY = "sk-scripted-test-key"


@pytest.fixture
def cmdgen_scripted_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedLLMServer]:
    """A started :class:`ScriptedLLMServer` on a free loopback port.

    ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` point at it for the duration of the test (Azure variables
    are removed so nothing reaches a real endpoint). Load data with ``server.load_annotations(path)``,
    script answers with ``server.add_rule(...)``; the server is stopped afterwards.
    """
    from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer

    server = ScriptedLLMServer()
    base_url = server.start()
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_API_KEY", SCRIPTED_API_KEY)
    for name in ("AZURE_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield server
    finally:
        server.stop()


def serve_recorded_llm(config: pytest.Config, recorded: str | Path) -> str | None:
    """Play the LLMs from recorded answers for this session, unless a real endpoint is configured.

    For a project's ``conftest.py`` (``pytest_configure``): without ``OPENAI_API_KEY`` and
    ``OPENAI_BASE_URL``, a :class:`ScriptedLLMServer` on loopback answers the command generator and the
    rephraser from ``recorded`` (the ``1_command_annotations`` / recording format) and the OpenAI client is
    pointed at it until the session ends. Returns the server's base URL, or None when a real endpoint is used.
    """
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return None
    from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer

    server = ScriptedLLMServer(annotations=Path(recorded), rephrasings=Path(recorded))
    base_url = server.start()
    os.environ["OPENAI_BASE_URL"] = base_url
    os.environ["OPENAI_API_KEY"] = "offline-recorded"

    def stop() -> None:
        server.stop()
        os.environ.pop("OPENAI_BASE_URL", None)
        os.environ.pop("OPENAI_API_KEY", None)

    config.add_cleanup(stop)
    return base_url
