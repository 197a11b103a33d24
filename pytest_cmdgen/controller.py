"""Per-session state behind the E2E items: the loaded project, the command source, the action runner.

One ``Controller`` per pytest process (per xdist worker). The project is loaded once, on first use; an
error in it fails every item that needs it with the same one-line message, and the session goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_cmdgen.errors import CmdgenInputError
from pytest_cmdgen.plugin import SETTINGS_KEY

if TYPE_CHECKING:
    from pytest_cmdgen.e2e.runner import TestRun
    from pytest_cmdgen.e2e.scripted_commands import CommandScript
    from pytest_cmdgen.items import E2EItem
    from pytest_cmdgen.runtime.project import Project

_CONTROLLER_KEY = pytest.StashKey["Controller"]()


class Controller:
    """Runs E2E items for one pytest session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.settings = config.stash[SETTINGS_KEY]
        self._project: Project | None = None
        self._project_error: CmdgenInputError | None = None
        self._script: CommandScript | None = None

    def project(self) -> Project:
        """The assistant project, loaded once (``--cmdgen-assistant``)."""
        if self._project_error is not None:
            raise self._project_error
        if self._project is None:
            from pytest_cmdgen.runtime.errors import ProjectError
            from pytest_cmdgen.runtime.project import Project

            try:
                self._project = Project.load(self.settings.assistant, self.settings.rasa_version)
            except ProjectError as exc:
                self._project_error = CmdgenInputError(str(exc))
                raise self._project_error from None
        return self._project

    def command_source(self, item: E2EItem, project: Project) -> Any:
        """The user's hook result, else the ``--cmdgen-command-script`` replay, else an error saying what to pass."""
        source = self.config.hook.pytest_cmdgen_command_source(config=self.config, project=project)
        if source is not None:
            return source
        if self.settings.command_script is not None:
            from pytest_cmdgen.e2e.scripted_commands import CommandScript, ScriptedCommandSource, case_id

            if self._script is None:
                self._script = CommandScript.load(self.settings.command_script)
            return ScriptedCommandSource(self._script).for_test_case(case_id(item.test_case))
        raise CmdgenInputError(
            "no command source: pass --cmdgen-command-script FILE (recorded commands), or implement the "
            "pytest_cmdgen_command_source hook"
        )

    def run(self, item: E2EItem) -> TestRun:
        """Run one test case through the runtime and judge it."""
        from pytest_cmdgen.e2e.runner import build_agent, run_test_case

        project = self.project()
        source = self.command_source(item, project)
        agent = build_agent(
            project,
            source,
            suite=item.suite,
            test_case=item.test_case,
            action_timeout=self.settings.action_timeout,
            seed=self.settings.seed,
        )
        runner = self.config.hook.pytest_cmdgen_action_runner(config=self.config, project=project)
        if runner is not None:
            agent.action_runner = runner
        return run_test_case(item.test_case, item.suite, agent)

    def run_item(self, item: E2EItem) -> None:
        """Run one test case; raise ``E2EFailure`` if it fails, skip it if it cannot be judged here."""
        from pytest_cmdgen.items import E2EFailure

        run = self.run(item)
        result = run.result
        if result.skipped:
            pytest.skip(result.reason or "cannot be judged here")
        if result.passed:
            return
        first = result.first_failure
        line = first.line if first else item.test_case.line
        expected = first.expected if first else "the test to pass"
        actual = first.actual if first else (result.reason or "it failed")
        if first and first.message:
            actual = f"{first.message}: {actual}"
        raise E2EFailure(item.name, item.suite.path, line, expected, actual, tuple(result.transcript))


def controller_for(config: pytest.Config) -> Controller:
    """The session's controller, created on first use."""
    if _CONTROLLER_KEY not in config.stash:
        config.stash[_CONTROLLER_KEY] = Controller(config)
    return config.stash[_CONTROLLER_KEY]
