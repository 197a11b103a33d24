"""Hooks that users' ``conftest.py`` files may implement (all named ``pytest_cmdgen_*``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import pytest

    from pytest_cmdgen.coverage import CoverageReport
    from pytest_cmdgen.runtime import ActionRunner, CommandSource, Project

hookspec = pluggy.HookspecMarker("pytest")


@hookspec(firstresult=True)
def pytest_cmdgen_command_source(config: pytest.Config, project: Project) -> CommandSource | None:
    """Return a command source (an object with ``predict(request) -> CommandPrediction``) to use instead of
    the default, or None to keep it.

    The default is the ``--cmdgen-command-script`` replay when given, else the project's LLM command
    generator. ``project`` is the loaded :class:`pytest_cmdgen.runtime.Project`.
    """


@hookspec(firstresult=True)
def pytest_cmdgen_action_runner(config: pytest.Config, project: Project) -> ActionRunner | None:
    """Return an action runner (an object with ``run(action_name, tracker, project) -> ActionResult``) for
    custom actions, or None to keep the default.

    The default picks per action: the test file's stub, else the ``action_endpoint`` server, else the
    in-process ``actions_module``.
    """


@hookspec
def pytest_cmdgen_coverage_gate(report: CoverageReport) -> list[str] | None:
    """Check the session's coverage report with a gate of your own; return the failures to show (one line
    each), or nothing when the gate passes.

    Called at session end (by the xdist controller), after the built-in gates, whenever a coverage report
    was made (``--cmdgen-coverage``, ``--cmdgen-prepare`` or a gate option). ``report`` is a
    :class:`pytest_cmdgen.coverage.CoverageReport`: ``report.passed.flows`` (each with ``missing`` steps),
    ``report.passed.commands`` (command histogram) and, when preparing data, ``report.data_points["train"]``.
    Any failure fails the gates: the session exits with code 6 and ``--cmdgen-train`` does not start.
    """
