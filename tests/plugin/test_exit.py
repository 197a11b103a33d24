"""A process that prepares data keeps long-lived objects out of garbage collections: the survivors of each
full collection and, at interpreter exit, everything left move to the collector's permanent generation, once
per process; garbage is still collected, and nothing else of the exit changes."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Callable

import pytest

from pytest_cmdgen.plugin import gc_policy


def test_the_policy_is_installed_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[Callable[[], object]] = []
    callbacks: list[object] = []
    monkeypatch.setattr(gc_policy.atexit, "register", registered.append)
    monkeypatch.setattr(gc_policy.gc, "callbacks", callbacks)
    gc_policy.freeze_long_lived.cache_clear()
    try:
        gc_policy.freeze_long_lived()
        gc_policy.freeze_long_lived()
    finally:
        gc_policy.freeze_long_lived.cache_clear()
    assert registered == [gc.freeze]
    assert len(callbacks) == 1


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_survivors_of_a_full_collection_are_frozen_and_garbage_is_still_collected() -> None:
    code = (
        "import gc, weakref\n"
        "from pytest_cmdgen.plugin.gc_policy import freeze_long_lived\n"
        "class Node: pass\n"
        "kept = [Node() for _ in range(1000)]\n"
        "cycle = Node(); cycle.me = cycle; dead = weakref.ref(cycle); del cycle\n"
        "freeze_long_lived()\n"
        "before = gc.get_freeze_count()\n"
        "gc.collect(1)\n"
        "after_young = gc.get_freeze_count()\n"
        "gc.collect()\n"
        "print(before == after_young, gc.get_freeze_count() - after_young >= 1000, dead() is None)\n"
    )
    assert run_python(code) == "True True True"


def test_other_exit_handlers_still_run_after_the_exit_freeze() -> None:
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('earlier handler ran, frozen:', gc.get_freeze_count() > 0))\n"
        "from pytest_cmdgen.plugin.gc_policy import freeze_long_lived\n"
        "freeze_long_lived()\n"
    )
    assert run_python(code) == "earlier handler ran, frozen: True"
