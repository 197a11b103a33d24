"""The hooks that exist only with pytest-xdist, registered at configure time when it is installed (as
syrupy defers its xdist plugin): the controller keeps what each worker ships, and preparing data keeps
each file's items on one worker and sends every file at the start."""

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
        """With --cmdgen-prepare, keep each file's items on one worker (rephrase sub-items follow their test)
        and send every file at the start, so a worker starts the conversations of all its files at once."""
        if not config.stash[SETTINGS_KEY].prepare:
            return None
        return whole_files_up_front(config, log)


def whole_files_up_front(config: pytest.Config, log: Any) -> Any:
    """xdist's file scheduler, but every file is assigned when the run starts, each to the worker with the
    fewest items so far (largest files first: xdist orders them by size), instead of two files per worker
    and the next one when a worker is almost done. A worker's LLM calls are capped by its share of
    ``--cmdgen-concurrency``, not by its CPU, so conversations of files it would only receive later would
    leave its slots empty while rephrasing ends; with every file known at the start it runs conversations
    across files (``Worker.before_item``). A worker that crashes gives its files back to the others as
    before."""
    from xdist.scheduler import LoadFileScheduling

    class WholeFilesUpFront(LoadFileScheduling):
        def schedule(self) -> None:
            first = self.collection is None
            super().schedule()
            if not first or not self.workqueue:
                return
            nodes = [node for node in self.nodes if not node.shutting_down]
            while self.workqueue and nodes:
                self._assign_work_unit(min(nodes, key=self._items_assigned))
            for node in nodes:
                node.shutdown()  # everything is sent: each worker ends when its queue is done

        def _items_assigned(self, node: Any) -> int:
            return sum(len(unit) for unit in self.assigned_work.get(node, {}).values())

    return WholeFilesUpFront(config, log)


__all__ = ["XdistHooks", "whole_files_up_front"]
