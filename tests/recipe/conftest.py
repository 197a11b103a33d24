"""Shared helpers for the recipe tests: makes ``tests.recipe.recipe_support`` importable; the recipe's LLM."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


import pytest  # noqa: E402

from pytest_cmdgen.llm import LLMService, RetryPolicy  # noqa: E402
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer  # noqa: E402
from tests.recipe.recipe_support import RecipeLLM  # noqa: E402


@pytest.fixture
def llm(cmdgen_scripted_llm: ScriptedLLMServer):
    """The recipe's completer over a real LLM service (no retries, no cache) and the scripted server."""
    service = LLMService(concurrency=8, retry=RetryPolicy(max_retries=0), seed=1)
    try:
        yield RecipeLLM(cmdgen_scripted_llm, service)
    finally:
        service.close()
