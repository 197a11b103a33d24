"""Fixtures for the LLM command generator tests: a scripted LLM server, an LLM service, tiny action runners."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_cmdgen.llm import LLMService, RetryPolicy
from pytest_cmdgen.runtime.interfaces import ActionResult
from pytest_cmdgen.testing.fixtures import cmdgen_scripted_llm  # noqa: F401 - registers the fixture here
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from tests.support.paths import ASSISTANTS, EXAMPLES

GOLDEN = Path(__file__).parent / "golden"
CAR_RENTAL = EXAMPLES / "car_rental"
BANKING = ASSISTANTS / "starterpack-retail-banking-en"  # ../shared beside the repository, as in CI


@pytest.fixture
def scripted(cmdgen_scripted_llm: ScriptedLLMServer) -> ScriptedLLMServer:  # noqa: F811
    """The scripted server with a short Retry-After so fault tests stay fast."""
    cmdgen_scripted_llm.retry_after = 0.01
    return cmdgen_scripted_llm


@pytest.fixture
def service() -> Iterator[LLMService]:
    """A real LLM service (no cache), retries with no backoff."""
    svc = LLMService(concurrency=4, retry=RetryPolicy(max_retries=2, base_delay=0.0, max_delay=0.0), seed=1)
    try:
        yield svc
    finally:
        svc.close()


class CarRentalActions:
    """``action_check_availability`` of the car rental example: cars are always available."""

    def run(self, action_name: str, tracker: Any, project: Any) -> ActionResult:
        """Set ``cars_available``."""
        return ActionResult(events=[{"event": "slot", "name": "cars_available", "value": True}])


@pytest.fixture
def project_copy(tmp_path: Path) -> Callable[[Path], Path]:
    """Copy a project directory into tmp_path (to change its config.yml)."""

    def copy(source: Path) -> Path:
        target = tmp_path / source.name
        shutil.copytree(source, target)
        return target

    return copy
