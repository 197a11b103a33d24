"""The pytest entry point (``pytest11``): options, settings, the process's role, E2E file collection.

Kept light on purpose: importing it costs only pytest and the options table, so a test suite that does
not use the plugin pays nothing. The library is imported when an E2E file is actually collected.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path

import pytest

from pytest_cmdgen.plugin import hookspecs
from pytest_cmdgen.plugin.options import OPTIONS, CmdgenSettings, OptionSpec, OptionValueError, resolve
from pytest_cmdgen.plugin.roles import choose_role
from pytest_cmdgen.plugin.stash import E2E_ROOTS_KEY, ROLE_KEY, SETTINGS_KEY, role_of

_YAML_SUFFIXES = (".yml", ".yaml")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Declare the ``pytest_cmdgen_*`` hooks for users' conftest files."""
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register every option of ``pytest_cmdgen.plugin.options.OPTIONS`` and its ini mirror."""
    group = parser.getgroup("cmdgen", "Rasa CALM E2E tests and command-generator fine-tuning data (pytest-cmdgen)")
    for spec in OPTIONS:
        if spec.kind == "paths":
            parser.addini(spec.ini, spec.help, type="paths", default=[])
        else:
            parser.addini(spec.ini, spec.help, type="string", default=None)
        if not spec.cli:
            continue
        if spec.kind == "flag":
            group.addoption(spec.flag, action="store_true", dest=spec.dest, default=None, help=spec.help)
        elif spec.kind == "choice":  # no metavar: --help then lists the choices, {a,b,c}
            group.addoption(spec.flag, dest=spec.dest, default=None, help=spec.help, choices=spec.choices)
        else:
            group.addoption(spec.flag, dest=spec.dest, default=None, metavar=spec.metavar, help=spec.help)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Make ``--cmdgen-x PATH`` and ``--cmdgen-x=PATH`` give the same rootdir.

    pytest picks the rootdir from the command line's paths before it loads plugins, so it takes the value of
    a plugin's option written as a separate word (``--cmdgen-command-script /elsewhere/x.yml``) for a test
    path, and the rootdir (and with it every node id) moves. Now that our options are known, work the
    rootdir out again from the real test paths, as pytest would have, unless ``--rootdir`` or ``-c`` fixed it.
    """
    namespace = early_config.known_args_namespace
    if namespace.rootdir or namespace.inifilename or not hasattr(early_config, "_rootpath"):
        return
    from _pytest.config.findpaths import determine_setup

    rootpath, inipath, inicfg, ignored = determine_setup(
        inifile=None,
        override_ini=namespace.override_ini,
        args=namespace.file_or_dir,
        rootdir_cmd_arg=None,
        invocation_dir=early_config.invocation_params.dir,
    )
    if rootpath == early_config.rootpath:
        return
    derived_confcutdir = str(early_config.inipath.parent if early_config.inipath else early_config.rootpath)
    early_config._rootpath, early_config._inipath = rootpath, inipath
    early_config._inicfg, early_config._ignored_config_files = inicfg, ignored
    early_config._inicache.clear()
    parser.extra_info["rootdir"], parser.extra_info["inifile"] = str(rootpath), str(inipath)
    if namespace.confcutdir == derived_confcutdir:  # pytest derived it from the wrong rootdir too
        namespace.confcutdir = str(inipath.parent if inipath else rootpath)


def settings_from_config(config: pytest.Config) -> CmdgenSettings:
    """Resolve the options CLI > ini > default, or raise ``pytest.UsageError`` with one clear line."""
    ini_dir = config.inipath.parent if config.inipath else config.rootpath

    def ini_value(spec: OptionSpec) -> object:
        return config.getini(spec.ini) or None

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
    """Resolve settings once, choose this process's role, offer the fixtures, note where E2E files are."""
    settings = settings_from_config(config)
    config.stash[SETTINGS_KEY] = settings
    _check_settings(settings)
    config.stash[ROLE_KEY] = choose_role(config, settings)
    from pytest_cmdgen.testing import fixtures

    config.pluginmanager.register(fixtures, "cmdgen-fixtures")
    if config.pluginmanager.hasplugin("xdist"):  # xdist's hooks exist only when it is installed
        from pytest_cmdgen.plugin.xdist import XdistHooks

        config.pluginmanager.register(XdistHooks(config), "cmdgen-xdist")
    config.stash[E2E_ROOTS_KEY] = _e2e_roots(config, settings)


def _check_settings(settings: CmdgenSettings) -> None:
    """What can be checked before anything runs is a usage error with one line, as Rasa checks it first."""
    if not settings.assistant.is_dir():
        raise pytest.UsageError(f"--cmdgen-assistant / cmdgen_assistant: no such directory: {settings.assistant}")
    if settings.command_script is not None:
        _check_command_script(settings.command_script)
    if settings.prepare and settings.rephrase_config is not None:
        _check_rephrase_config(settings.rephrase_config)
    if settings.hf_dataset and not _installed("datasets"):
        raise pytest.UsageError(
            "--cmdgen-hf-dataset / cmdgen_hf_dataset: the datasets package is not installed "
            "(pip install 'pytest-cmdgen[train]', or leave the option off)"
        )
    if settings.training:
        _check_train_request(settings)
    if settings.compare is not None:
        from pytest_cmdgen.recipe.output import ANNOTATIONS_DIR

        if not (settings.compare / ANNOTATIONS_DIR).is_dir():
            raise pytest.UsageError(
                f"--cmdgen-compare / cmdgen_compare: {settings.compare} has no {ANNOTATIONS_DIR}/ (expected the "
                "output directory of a --cmdgen-prepare run)"
            )
        if settings.prepare and settings.out.resolve() == settings.compare.resolve():
            raise pytest.UsageError(
                "--cmdgen-compare / cmdgen_compare: it names the --cmdgen-out directory this run prepares, whose "
                "annotations it would replace: compare with the output of an earlier run, or prepare into another"
            )
    if settings.llm is not None and settings.llm.kind == "local" and not _installed("transformers"):
        raise pytest.UsageError(
            "--cmdgen-llm / cmdgen_llm: local: runs the model with transformers, which is not installed "
            "(pip install 'pytest-cmdgen[train]')"
        )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def _e2e_roots(config: pytest.Config, settings: CmdgenSettings) -> tuple[Path, ...]:
    """Where E2E files are collected: under the paths on the command line and the ini ``cmdgen_e2e_paths``.

    With no paths on the command line, the ini paths are added to what pytest collects, like testpaths.
    """
    cwd = config.invocation_params.dir
    if settings.compare is not None and config.args_source != pytest.Config.ArgsSource.ARGS:
        from pytest_cmdgen.session.compare import VALIDATION_TESTS_DIR

        validation = settings.compare / VALIDATION_TESTS_DIR
        if validation.is_dir():  # compare on conversations the model did not train on
            config.args[:] = [str(validation)]
            return (validation,)
    given = [Path(cwd, arg.split("::")[0]).resolve() for arg in config.args]
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        return (*given, *settings.e2e_paths)
    for path in settings.e2e_paths:
        if not any(path == known or known in path.parents for known in given):
            config.args.append(str(path))
    return tuple(settings.e2e_paths)


def _check_command_script(path: Path) -> None:
    from pytest_cmdgen.e2e.scripted_commands import CommandScript
    from pytest_cmdgen.errors import CmdgenError

    if not path.exists():
        raise pytest.UsageError(f"--cmdgen-command-script: no such file or directory: {path}")
    try:
        CommandScript.load(path)
    except CmdgenError as exc:
        raise pytest.UsageError(f"--cmdgen-command-script: {exc}") from None


def _check_train_request(settings: CmdgenSettings) -> None:
    from pytest_cmdgen.errors import CmdgenError
    from pytest_cmdgen.trainer import check_train_request

    try:
        check_train_request(
            settings.out,
            prepare=settings.prepare,
            config_file=settings.train_config,
            base_model=settings.base_model,
            resume=settings.train_resume,
        )
    except CmdgenError as exc:
        raise pytest.UsageError(f"--cmdgen-train: {exc}") from None


def _check_rephrase_config(path: Path) -> None:
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
    from pytest_cmdgen.errors import CmdgenError, CmdgenInputError

    settings = config.stash[SETTINGS_KEY]
    engine = role_of(config).runner.engine
    try:
        project = engine.project()
    except CmdgenInputError as exc:
        return [f"cmdgen: {exc}"]
    source = (
        f"script {settings.command_script.name}"
        if settings.command_script
        else (project.config.generator.name if project.config.generator else "no command generator")
    )
    if not settings.command_script and project.config.generator:  # which model produced the commands
        with contextlib.suppress(CmdgenError, OSError):  # a broken generator config fails the tests, once each
            source += f", model {engine.model_label()}"
    mode = ", preparing data" if settings.prepare else ""
    lines = [
        f"cmdgen: assistant {settings.assistant}, Rasa {project.version_label or project.profile.version} "
        f"({project.version_reason}), "
        f"commands from {source}{mode}"
    ]
    lines += [f"cmdgen: warning: {warning}" for warning in project.warnings]  # what Rasa only warns about
    try:
        still_needed = engine.llm_still_needed()
    except CmdgenInputError as exc:
        return [*lines, f"cmdgen: {exc}"]
    lines += [f"cmdgen: an LLM is still called: {need}" for need in still_needed]
    return lines


def _under_e2e_root(config: pytest.Config, file_path: Path) -> bool:
    roots = config.stash.get(E2E_ROOTS_KEY, ())
    if not roots:
        return False
    resolved = file_path.resolve()
    return any(resolved == root or root in resolved.parents for root in roots)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect a YAML file with a top-level ``test_cases:`` key as an E2E test file."""
    if file_path.suffix not in _YAML_SUFFIXES or not _under_e2e_root(parent.config, file_path):
        return None
    from pytest_cmdgen.plugin.items import E2EFile
    from pytest_cmdgen.session.discovery import is_e2e_file

    if not is_e2e_file(file_path):
        return None
    return E2EFile.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Start the selected test cases in the background so their LLM calls overlap (an xdist worker gets its
    items a file at a time and starts them per file, see ``Worker.before_item``).

    Here rather than at collection end: pytest reaches the test loop only when it will run the items, so a
    collection error elsewhere, a bad ``-k`` or ``--collect-only`` starts no LLM work.
    """
    items_module = sys.modules.get("pytest_cmdgen.plugin.items")  # imported only once an E2E file was collected
    role = role_of(session.config)
    if items_module is None or not role.runs_items or hasattr(session.config, "workerinput"):
        return
    if session.config.option.collectonly:
        return
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        return  # pytest stops right after this hook: collection failed
    ours = [item for item in session.items if isinstance(item, items_module.E2EItem | items_module.RephraseItem)]
    if ours:
        role.start(ours)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """In verbose output, a rephrase sub-item says how many paraphrases it kept."""
    if report.when != "call" or not report.passed:
        return None
    kept = dict(report.user_properties).get("cmdgen_paraphrases_kept")
    if kept is None:
        return None
    return "passed", ".", f"PASSED (kept {kept} paraphrases)"


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """The role's end of session: ship results (worker) or run the end-of-session pipeline."""
    role_of(session.config).finish(session)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """The session summary: tests, annotations, paraphrases, data points, LLM calls and cost, output path."""
    role = role_of(config)
    if hasattr(config, "workerinput") or not role.active:
        return
    from pytest_cmdgen.plugin.reporting import render_summary

    render_summary(role, terminalreporter, verbosity=config.get_verbosity())
