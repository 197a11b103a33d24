"""pytest fixtures of the testing helpers (registered by the plugin; imports pytest)."""

from __future__ import annotations

from collections.abc import Iterator
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
