"""Hooks that users' ``conftest.py`` files may implement (all named ``pytest_cmdgen_*``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import pytest

hookspec = pluggy.HookspecMarker("pytest")


@hookspec(firstresult=True)
def pytest_cmdgen_command_source(config: pytest.Config, project: Any) -> Any:
    """Return a command source (an object with ``predict(request)``) to use instead of the default.

    The default is the ``--cmdgen-command-script`` replay when given, else the project's LLM command
    generator. ``project`` is the loaded ``pytest_cmdgen.runtime`` project.
    """


@hookspec(firstresult=True)
def pytest_cmdgen_action_runner(config: pytest.Config, project: Any) -> Any:
    """Return an action runner (an object with ``run(action_name, tracker, project)``) for custom actions.

    The default picks per action: the test file's stub, else the ``action_endpoint`` server, else the
    in-process ``actions_module``.
    """
