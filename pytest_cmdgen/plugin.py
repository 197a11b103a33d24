"""The pytest entry point: options, settings, E2E file collection.

Kept light on purpose: importing it costs only pytest and the options table, so a test suite that does
not use the plugin pays nothing. Everything else is imported when an E2E file is actually collected.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_cmdgen import hookspecs
from pytest_cmdgen.options import OPTIONS, CmdgenSettings, OptionValueError, resolve

SETTINGS_KEY = pytest.StashKey[CmdgenSettings]()
_E2E_ROOTS_KEY = pytest.StashKey[tuple[Path, ...]]()
_YAML_SUFFIXES = (".yml", ".yaml")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Declare the ``pytest_cmdgen_*`` hooks for users' conftest files."""
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register every option of ``pytest_cmdgen.options.OPTIONS`` and its ini mirror."""
    group = parser.getgroup("cmdgen", "Rasa CALM E2E tests and command-generator fine-tuning data (pytest-cmdgen)")
    for spec in OPTIONS:
        ini_type = "paths" if spec.kind == "paths" else "string"
        parser.addini(spec.ini, spec.help, type=ini_type, default=None if ini_type == "string" else [])
        if not spec.cli:
            continue
        if spec.kind == "flag":
            group.addoption(spec.flag, action="store_true", dest=spec.dest, default=None, help=spec.help)
        else:
            kwargs = {"choices": spec.choices} if spec.kind == "choice" else {}
            group.addoption(spec.flag, dest=spec.dest, default=None, metavar=spec.metavar, help=spec.help, **kwargs)


def settings_from_config(config: pytest.Config) -> CmdgenSettings:
    """Resolve the options CLI > ini > default, or raise ``pytest.UsageError`` with one clear line."""
    ini_dir = config.inipath.parent if config.inipath else config.rootpath

    def ini_value(spec: object) -> object:
        value = config.getini(spec.ini)  # type: ignore[attr-defined]
        return value or None

    try:
        return resolve(
            cli_value=lambda spec: config.getoption(spec.dest),
            ini_value=ini_value,
            invocation_dir=config.invocation_params.dir,
            ini_dir=ini_dir,
            rootdir=config.rootpath,
        )
    except OptionValueError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Resolve settings once, offer the fixtures, and note where E2E files are collected."""
    settings = settings_from_config(config)
    config.stash[SETTINGS_KEY] = settings
    if settings.prepare and settings.rephrase_config is not None:
        _check_rephrase_config(settings.rephrase_config)
    from pytest_cmdgen.testing import fixtures

    config.pluginmanager.register(fixtures, "cmdgen-fixtures")
    config.stash[_E2E_ROOTS_KEY] = _e2e_roots(config, settings)


def _e2e_roots(config: pytest.Config, settings: CmdgenSettings) -> tuple[Path, ...]:
    """Where E2E files are collected: under the paths on the command line and the ini ``cmdgen_e2e_paths``.

    With no paths on the command line, the ini paths are added to what pytest collects, like testpaths.
    """
    cwd = config.invocation_params.dir
    given = [Path(cwd, arg.split("::")[0]).resolve() for arg in config.args]
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        return (*given, *settings.e2e_paths)
    for path in settings.e2e_paths:
        if not any(path == known or known in path.parents for known in given):
            config.args.append(str(path))
    return tuple(settings.e2e_paths)


def _check_rephrase_config(path: Path) -> None:
    """A bad --cmdgen-rephrase-config is a usage error before anything runs, as Rasa checks it first."""
    from pytest_cmdgen.errors import CmdgenInputError
    from pytest_cmdgen.recipe.rephrase import load_rephrase_config

    if not path.is_file():
        raise pytest.UsageError(f"--cmdgen-rephrase-config: no such file: {path}")
    try:
        load_rephrase_config(path)
    except CmdgenInputError as exc:
        raise pytest.UsageError(f"--cmdgen-rephrase-config: {exc}") from None


def _cmdgen_requested(config: pytest.Config) -> bool:
    """True if the user asked for the plugin: a ``--cmdgen-*`` option or a ``cmdgen_*`` ini key."""
    return any(spec.cli and config.getoption(spec.dest) is not None for spec in OPTIONS) or any(
        config.getini(spec.ini) for spec in OPTIONS
    )


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """One line naming the assistant, the Rasa version whose behaviour is reproduced (and why), the commands."""
    if not _cmdgen_requested(config):
        return None
    from pytest_cmdgen.controller import controller_for
    from pytest_cmdgen.errors import CmdgenInputError

    settings = config.stash[SETTINGS_KEY]
    try:
        project = controller_for(config).engine.project()
    except CmdgenInputError as exc:
        return [f"cmdgen: {exc}"]
    source = (
        f"script {settings.command_script.name}"
        if settings.command_script
        else (project.config.generator.name if project.config.generator else "no command generator")
    )
    mode = ", preparing data" if settings.prepare else ""
    return [
        f"cmdgen: assistant {settings.assistant}, Rasa {project.profile.version} ({project.version_reason}), "
        f"commands from {source}{mode}"
    ]


def _under_e2e_root(config: pytest.Config, file_path: Path) -> bool:
    roots = config.stash.get(_E2E_ROOTS_KEY, ())
    if not roots:
        return False
    resolved = file_path.resolve()
    return any(resolved == root or root in resolved.parents for root in roots)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect a YAML file with a top-level ``test_cases:`` key as an E2E test file."""
    if file_path.suffix not in _YAML_SUFFIXES or not _under_e2e_root(parent.config, file_path):
        return None
    from pytest_cmdgen.items import E2EFile, is_e2e_file

    if not is_e2e_file(file_path):
        return None
    return E2EFile.from_parent(parent, path=file_path)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the selected test cases in the background so their LLM calls overlap (xdist workers get their
    items a file at a time and start them per file, see ``Controller.prefetch_file``)."""
    items_module = sys.modules.get("pytest_cmdgen.items")  # imported only once an E2E file was collected
    if items_module is None or hasattr(session.config, "workerinput") or session.config.option.collectonly:
        return
    ours = [item for item in session.items if isinstance(item, items_module.E2EItem | items_module.RephraseItem)]
    if ours:
        from pytest_cmdgen.controller import controller_for

        controller_for(session.config).prefetch(ours)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """In verbose output, a rephrase sub-item says how many paraphrases it kept."""
    if report.when != "call" or not report.passed:
        return None
    kept = dict(report.user_properties).get("cmdgen_paraphrases_kept")
    if kept is None:
        return None
    return "passed", ".", f"PASSED (kept {kept} paraphrases)"


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """xdist controller: merge what a worker sent."""
    payload = getattr(node, "workeroutput", {}).get("cmdgen")
    if payload:
        from pytest_cmdgen.controller import controller_for

        controller_for(node.config).results.merge(payload)  # type: ignore[attr-defined]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """With --cmdgen-prepare, keep each file's items on one worker: rephrase sub-items follow their test."""
    if not config.stash[SETTINGS_KEY].prepare:
        return None
    from xdist.scheduler import LoadFileScheduling

    return LoadFileScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Ship results (worker) or write the datasets (controller, single process)."""
    from pytest_cmdgen.controller import existing_controller

    controller = existing_controller(session.config)
    if controller is None:
        return
    is_worker = hasattr(session.config, "workerinput")
    ran_tests = sum(controller.results.tests.values()) > 0  # nothing ran (--collect-only, all deselected): keep
    if controller.settings.prepare and not is_worker and ran_tests:
        controller.write_datasets()
        if controller.write_error:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    controller.finish_process()


def pytest_terminal_summary(terminalreporter: object, config: pytest.Config) -> None:
    """The session summary: tests, annotations, paraphrases, data points, LLM calls and cost, output path."""
    from pytest_cmdgen.controller import existing_controller

    controller = existing_controller(config)
    if controller is None or hasattr(config, "workerinput"):
        return
    from pytest_cmdgen.summary import render_summary

    render_summary(controller, terminalreporter, verbosity=config.get_verbosity())
