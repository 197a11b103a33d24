"""The three roles a pytest process plays, as pytest-cov has them, chosen once at configure time.

* :class:`Central` — no xdist: runs the items, then the end-of-session pipeline.
* :class:`Worker` — an xdist worker: runs the items it is sent, and ships its results to the controller
  in ``config.workeroutput``.
* :class:`Controller` — the xdist controller: runs no item; keeps what each worker shipped and runs the
  pipeline (merge first) at session end, so ``-n 0`` and ``-n 2`` write byte-identical files.

The work itself is the library's (:mod:`pytest_cmdgen.session`); a role only turns its results into pytest
outcomes and decides what happens at the end.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from pytest_cmdgen.errors import CmdgenError
from pytest_cmdgen.plugin.failures import E2EFailure
from pytest_cmdgen.plugin.gc_policy import freeze_long_lived
from pytest_cmdgen.plugin.options import CmdgenSettings

if TYPE_CHECKING:
    from pytest_cmdgen.coverage import CoverageReport, CustomGate
    from pytest_cmdgen.e2e.model import TestCase, TestSuiteFile
    from pytest_cmdgen.session import CaseRef, PipelineContext, SessionConfig, SessionRunner

WORKER_OUTPUT_KEY = "cmdgen"
"""The key of a worker's results in ``workeroutput``."""


class CaseItem(Protocol):
    """What a role needs of an item about a test case (``plugin.items`` has the two kinds)."""

    name: str
    parent: pytest.Collector | None
    session: pytest.Session
    path: Path
    test_case: TestCase
    is_rephrase: bool

    @property
    def nodeid(self) -> str: ...

    @property
    def test_id(self) -> str: ...

    @property
    def suite(self) -> TestSuiteFile: ...

    def case_ref(self, rephrase: bool = False) -> CaseRef: ...


class RephraseCaseItem(CaseItem, Protocol):
    """An item about one user turn's paraphrases."""

    step_line: int


class Role:
    """What every role shares: the settings, the library's session runner (made on first use), the
    pipeline's context once it ran, and how items are run."""

    runs_items = True
    looks_ahead = False
    """Whether this process prepares the end of the session while the last LLM calls are out: only one that
    both runs the items and runs the pipeline."""

    def __init__(self, config: pytest.Config, settings: CmdgenSettings) -> None:
        self.config = config
        self.settings = settings
        self.started = time.monotonic()
        self.context: PipelineContext | None = None
        self._runner: SessionRunner | None = None

    @property
    def worker_count(self) -> int:
        """How many processes run items: the xdist workers (``-n N``), else this one."""
        workers = getattr(self.config.option, "numprocesses", None)
        return workers if isinstance(workers, int) and workers > 0 and not self.runs_items else 1

    @property
    def active(self) -> bool:
        """True once this process did any cmdgen work (the plugin stays inert otherwise)."""
        return self._runner is not None

    @property
    def runner(self) -> SessionRunner:
        """The library's runner for this process, with the users' hooks as command source and action runner."""
        if self._runner is None:
            from pytest_cmdgen.session import SessionRunner

            if self.settings.prepare:  # a plain E2E run leaves the user's interpreter exit as it was
                freeze_long_lived()
            hook = self.config.hook
            self._runner = SessionRunner(
                self.session_config(),
                command_source_factory=lambda project: hook.pytest_cmdgen_command_source(
                    config=self.config, project=project
                ),
                action_runner_factory=lambda project: hook.pytest_cmdgen_action_runner(
                    config=self.config, project=project
                ),
            )
        return self._runner

    def session_config(self) -> SessionConfig:
        """The library's configuration for this process."""
        return self.settings.session_config()

    # --- items ----------------------------------------------------------------------------------------

    def start(self, items: Sequence[CaseItem]) -> None:
        """Start the test cases of ``items`` in the background, in order, so conversations overlap; those
        with selected rephrase sub-items are rephrased as soon as they are annotated."""
        to_rephrase = {item.test_id for item in items if item.is_rephrase}
        self.runner.start(
            (item.case_ref(rephrase=item.test_id in to_rephrase) for item in items if not item.is_rephrase),
            look_ahead=self.looks_ahead,
        )

    def before_item(self, item: CaseItem) -> None:
        """Called before an item of ours runs (a worker starts its file's test cases here)."""

    def run_item(self, item: CaseItem) -> None:
        """Run one test case; raise ``E2EFailure`` if it fails, skip it if it cannot be judged here."""
        self.before_item(item)
        with self._stop_on_interrupt():
            outcome = self.runner.run_test(item.case_ref())
        result = outcome.run.result
        if result.skipped:
            _skip_here(result.reason or "cannot be judged here")
        if result.passed:
            return
        first = result.first_failure
        line = first.line if first else item.test_case.line
        expected = first.expected if first else "the test to pass"
        actual = first.actual if first else (result.reason or "it failed")
        if first and first.message:
            actual = f"{first.message}: {actual}"
        from pytest_cmdgen.session.compare import unparsed_answers

        for at, text, answer in unparsed_answers(outcome.run, line if first else None):
            actual += f"; the command generator's answer to {text!r} (line {at}) gave no command: {answer!r}"
        raise E2EFailure(item.name, item.suite.path, line, expected, actual, tuple(result.transcript))

    def run_rephrase_item(self, item: RephraseCaseItem) -> tuple[int, int]:
        """Rephrase and validate one user turn's paraphrases; returns (kept, asked)."""
        self.before_item(item)
        with self._stop_on_interrupt():
            turn = self.runner.rephrase_turn(item.case_ref(), item.step_line, item.nodeid)
        if turn.not_rephrased:
            _skip_here(turn.not_rephrased)
        if turn.unvalidated:
            raise CmdgenError(
                f"{len(turn.unvalidated)} of {turn.asked} paraphrases could not be validated "
                f"({turn.kept} kept): {'; '.join(turn.unvalidated)}",
                hint="the next run asks again for these only; the rest are cached",
            )
        return turn.kept, turn.asked

    @contextlib.contextmanager
    def _stop_on_interrupt(self) -> Iterator[None]:
        """On Ctrl-C while waiting for a conversation, stop every LLM call at once: pytest still takes a
        while (formatting the interrupted traceback) before the session ends."""
        try:
            yield
        except KeyboardInterrupt:
            self.runner.finish_process()
            raise

    # --- session end ----------------------------------------------------------------------------------

    def finish(self, session: pytest.Session) -> None:
        """What the role does at session end."""
        raise NotImplementedError

    def _run_pipeline(self, session: pytest.Session, worker_payloads: list[dict[str, Any]]) -> None:
        from pytest_cmdgen.session import PipelineContext, default_pipeline

        runner = self.runner
        context = PipelineContext(
            self.session_config(),
            runner.results,
            runner.engine,
            worker_payloads,
            interrupted=session.exitstatus == pytest.ExitCode.INTERRUPTED,
            charts_drawn_ahead=runner.look_ahead.charts if runner.look_ahead is not None else None,
            pieces_ahead=runner.pieces,
        )
        context.extra_gates.extend(user_gates(self.config))
        self.context = default_pipeline().run(context)
        if self.context.errors and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if not self.context.gates_passed and session.exitstatus == pytest.ExitCode.OK:
            from pytest_cmdgen.coverage import GATES_FAILED_EXIT_CODE

            session.exitstatus = GATES_FAILED_EXIT_CODE  # tests passed, the data is too thin: a code of its own


class Central(Role):
    """No xdist: run the items, then the pipeline."""

    looks_ahead = True

    def finish(self, session: pytest.Session) -> None:
        """Stop the engine (no LLM call after the last test), then run the end-of-session pipeline."""
        if not self.active:
            return
        self.runner.finish_process()
        self._run_pipeline(session, [])


class Worker(Role):
    """An xdist worker: run the items it is sent and ship the results; the controller writes."""

    def __init__(self, config: pytest.Config, settings: CmdgenSettings) -> None:
        super().__init__(config, settings)
        self._started_files: set[pytest.Collector | None] = set()

    def session_config(self) -> SessionConfig:
        """The library's configuration, with this worker's share of the session's LLM concurrency."""
        workerinput = self.config.workerinput  # type: ignore[attr-defined]
        index, count = int(workerinput["workerid"].lstrip("gw") or 0), int(workerinput["workercount"])
        share = concurrency_share(self.settings.concurrency, count, index)
        return replace(super().session_config(), concurrency=share)

    def before_item(self, item: CaseItem) -> None:
        """When preparing data, start every test case of every file sent to this worker so far, across
        files, when the first item of one of them runs: the prepare scheduler sends whole files, all of them
        at the start (see ``plugin.xdist``), so they are all this worker's."""
        if not self.settings.prepare:
            return
        files = {item.parent, *(other.parent for other in queued_items(item.session))}
        new = files - self._started_files
        if not new:
            return
        self._started_files |= new
        ours = [other for other in item.session.items if other.parent in new and hasattr(other, "case_ref")]
        self.start(ours)  # type: ignore[arg-type]

    def finish(self, session: pytest.Session) -> None:
        """Stop the engine and hand the results to the controller."""
        if not self.active:
            return
        self.runner.finish_process()
        self.config.workeroutput[WORKER_OUTPUT_KEY] = self.runner.results.to_payload()  # type: ignore[attr-defined]


class Controller(Role):
    """The xdist controller: keep what workers ship, run the pipeline (merge first) at the end."""

    runs_items = False

    def __init__(self, config: pytest.Config, settings: CmdgenSettings) -> None:
        super().__init__(config, settings)
        self.worker_payloads: list[dict[str, Any]] = []

    def start(self, items: Sequence[CaseItem]) -> None:
        """The controller runs no test case."""

    def receive(self, payload: dict[str, Any]) -> None:
        """Keep a worker's results until the pipeline merges them."""
        self.worker_payloads.append(payload)

    def finish(self, session: pytest.Session) -> None:
        """Merge the workers' results and run the rest of the pipeline."""
        if not self.worker_payloads and not self.active:
            return
        self.runner.finish_process()
        self._run_pipeline(session, self.worker_payloads)


def queued_items(session: pytest.Session) -> list[pytest.Item]:
    """In an xdist worker, the items sent to it and not yet run (read from xdist's queue of item indices;
    [] where that queue cannot be read)."""
    for plugin in session.config.pluginmanager.get_plugins():
        queue: Any = getattr(plugin, "torun", None)
        if queue is None or type(plugin).__name__ != "WorkerInteractor" or not hasattr(queue, "lock"):
            continue
        try:
            with queue.lock() as indices:
                return [session.items[i] for i in indices if isinstance(i, int)]
        except (AttributeError, IndexError, TypeError):
            return []
    return []


def concurrency_share(concurrency: int, workers: int, index: int) -> int:
    """Worker ``index``'s share of the session's LLM concurrency: the shares add up to ``concurrency``
    (each worker gets at least one call in flight, so with more workers than calls the total is
    ``workers``)."""
    base, extra = divmod(concurrency, workers)
    return max(1, base + (1 if index < extra else 0))


def _skip_here(reason: str) -> None:
    """Skip the running item with the location of its YAML line (its ``reportinfo``), not this module's."""
    raise pytest.skip.Exception(reason, _use_item_location=True)


def user_gates(config: pytest.Config) -> list[CustomGate]:
    """The conftest files' ``pytest_cmdgen_coverage_gate`` implementations, as one gate for the pipeline."""
    from pytest_cmdgen.coverage import CustomGate

    hook = config.hook.pytest_cmdgen_coverage_gate
    if not hook.get_hookimpls():
        return []

    def check(report: CoverageReport) -> list[str]:
        return [str(line) for failures in hook(report=report) for line in failures or ()]

    return [CustomGate("pytest_cmdgen_coverage_gate", check)]


def choose_role(config: pytest.Config, settings: CmdgenSettings) -> Role:
    """The role of this process: worker if xdist started it, controller if it will start workers, else
    central. Called once, at configure time."""
    if hasattr(config, "workerinput"):
        return Worker(config, settings)
    # xdist starts workers (and registers its "dsession") for -n/--dist unless collecting only; we run
    # before its pytest_configure, so read the same options it reads.
    distributing = getattr(config.option, "dist", "no") != "no" and not config.option.collectonly
    if distributing or config.pluginmanager.hasplugin("dsession"):
        return Controller(config, settings)
    return Central(config, settings)


__all__ = [
    "WORKER_OUTPUT_KEY",
    "CaseItem",
    "Central",
    "Controller",
    "RephraseCaseItem",
    "Role",
    "Worker",
    "choose_role",
    "user_gates",
]
