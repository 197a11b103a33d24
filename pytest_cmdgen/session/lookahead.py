"""End-of-session work done ahead, while the last LLM calls of a run are still out.

In a prepare run, every conversation has run long before the session ends: the rest of the time goes to
rephrasing and validating paraphrases, which keeps the LLM busy but leaves the process idle. As soon as
every test case started has run, :class:`LookAhead` uses that idle time (the item that would wait for its
paraphrases does it instead) for what the end-of-session pipeline would otherwise do after the last answer:
it imports the pipeline's modules and matplotlib, builds the coverage report of the runs and draws its
charts (all but the train/val chart, whose data points change until the last paraphrase is validated).

Nothing it does is final: the pipeline builds the report again from the session's results, and a chart
drawn ahead is used only when the final report asks for a chart of the very same data (otherwise it is
drawn again), so the outputs are the same bytes with or without it. It is best effort: an error here
leaves the work to the pipeline, which reports it as it always did.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING

from pytest_cmdgen.session.config import SessionConfig

if TYPE_CHECKING:
    from pytest_cmdgen.coverage.plots import ChartCache
    from pytest_cmdgen.coverage.record import TestCoverage
    from pytest_cmdgen.session.engine import Engine, TestOutcome

_log = logging.getLogger(__name__)


class LookAhead:
    """Prepares the end of one process's session once the test cases it watches have all run."""

    def __init__(self, config: SessionConfig, engine: Engine) -> None:
        """Watch nothing yet; :meth:`watch` gives it the runs to wait for."""
        self.config = config
        self.engine = engine
        self.charts: ChartCache | None = None
        """The charts drawn ahead (None until the look-ahead drew some)."""
        self._futures: list[Future[TestOutcome]] = []
        self._done = False

    def watch(self, futures: Sequence[Future[TestOutcome]]) -> None:
        """Wait for ``futures`` too: the work is done once every watched run is."""
        self._futures.extend(futures)

    def run_if_ready(self) -> bool:
        """Do the work now if every watched run is done and it was not done yet; True if it ran now.

        Call it from the thread that runs the items, when it would otherwise wait (for paraphrases): the
        work imports modules, and pytest reads the logging module's table of loggers, which imports add
        to, at the start of every item without a lock, so no other thread may import while items start.
        """
        if self._done or not self._futures or not all(future.done() for future in self._futures):
            return False
        self._done = True
        try:
            self._work()
        except Exception:  # best effort: the pipeline does (and reports) whatever is left
            _log.debug("look-ahead failed; the end-of-session pipeline does its work", exc_info=True)
        return True

    def _work(self) -> None:
        import pytest_cmdgen.session.pipeline  # noqa: F401 - imported now rather than after the last answer

        if not self.config.coverage_enabled or any(future.cancelled() for future in self._futures):
            return  # an interrupted session: the engine cancelled the runs not started
        from pytest_cmdgen.coverage.plots import ChartCache, plots_available

        if not plots_available():
            return
        from pytest_cmdgen.coverage.report import build_report

        records = run_records(self._futures)
        if records:
            charts = ChartCache()
            charts.draw_ahead(build_report(self.engine.project().flows, records))
            self.charts = charts


def run_records(futures: Sequence[Future[TestOutcome]]) -> dict[str, TestCoverage]:
    """The coverage record of every finished run, as the session records it (a run that raised or was
    skipped has none)."""
    from pytest_cmdgen.coverage.record import TestCoverage, record_test

    records: dict[str, TestCoverage] = {}
    for future in futures:
        if not future.done() or future.cancelled() or future.exception() is not None:
            continue
        outcome = future.result()
        if outcome.run.result.skipped:
            continue
        record = record_test(outcome.run.events, passed=outcome.run.result.passed)
        records[outcome.test_id] = TestCoverage.from_dict(record.to_dict())
    return records


__all__ = ["LookAhead", "run_records"]
