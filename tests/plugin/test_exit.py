"""At interpreter exit, a process that did cmdgen work hands its objects to the collector's permanent
generation once (the interpreter's last collections would walk them all), and nothing else changes."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Callable

import pytest

from pytest_cmdgen.plugin import roles


def test_gc_freeze_is_registered_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[Callable[[], object]] = []
    monkeypatch.setattr(roles.atexit, "register", registered.append)
    roles.freeze_at_exit.cache_clear()
    try:
        roles.freeze_at_exit()
        roles.freeze_at_exit()
    finally:
        roles.freeze_at_exit.cache_clear()
    assert registered == [gc.freeze]


def test_other_exit_handlers_still_run_after_it() -> None:
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('earlier handler ran, frozen:', gc.get_freeze_count() > 0))\n"
        "from pytest_cmdgen.plugin.roles import freeze_at_exit\n"
        "freeze_at_exit()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "earlier handler ran, frozen: True"
