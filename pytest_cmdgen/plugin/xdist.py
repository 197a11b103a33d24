"""The hooks that exist only with pytest-xdist, registered at configure time when it is installed (as
syrupy defers its xdist plugin): the controller keeps what each worker ships, and preparing data keeps
each file's items on one worker."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_cmdgen.plugin.roles import WORKER_OUTPUT_KEY, Controller
from pytest_cmdgen.plugin.stash import SETTINGS_KEY, role_of


class XdistHooks:
    """xdist hook implementations of one session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """Controller: keep what a worker sent, for the pipeline's merge step."""
        payload = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
        role = role_of(self.config)
        if payload and isinstance(role, Controller):
            role.receive(payload)

    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: object) -> object | None:
        """With --cmdgen-prepare, keep each file's items on one worker: rephrase sub-items follow their test."""
        if not config.stash[SETTINGS_KEY].prepare:
            return None
        from xdist.scheduler import LoadFileScheduling

        return LoadFileScheduling(config, log)


__all__ = ["XdistHooks"]
