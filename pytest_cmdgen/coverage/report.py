"""The coverage report: flow coverage and command histograms, separately for passed and failed tests.

**Flow coverage** (Rasa's ``rasa test e2e --coverage-report``, reference §11.5): per user flow, the testable
steps (:func:`~.flowgraph.testable_steps`), the steps the runs of that outcome visited among them, the
missing ones with their YAML line ranges, and a total over all user flows.

**Command histograms**: how often each command type appeared among the LLM-annotated user turns of the
tests, and, for a prepare run, among the data points of the train and validation splits (paraphrases
included), i.e. what the fine-tuned model will actually see. Rasa's eight histogram commands are always
listed (zero counts included), other types when they occur.

Everything here is plain, immutable data built by :func:`build_report`; :meth:`CoverageReport.as_dict` is
the content of ``coverage.json``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_cmdgen.coverage.commands import HISTOGRAM_COMMANDS
from pytest_cmdgen.coverage.flowgraph import step_lines, testable_steps
from pytest_cmdgen.coverage.record import STATUSES, TestCoverage

if TYPE_CHECKING:
    from pytest_cmdgen.recipe.datapoints import DataPoint
    from pytest_cmdgen.recipe.split import SplitResult
    from pytest_cmdgen.runtime.flows import Flow, FlowsList


@dataclass(frozen=True)
class StepRef:
    """A testable step: its flow, id, kind and where it stands in the flows file."""

    flow_id: str
    step_id: str
    kind: str
    file: str
    lines: str
    """The YAML line range, ``"start-end"`` (empty when unknown)."""

    @property
    def location(self) -> str:
        """``file:start-end`` (``file`` alone when the lines are unknown)."""
        return f"{self.file}:{self.lines}" if self.lines else self.file


@dataclass(frozen=True)
class FlowCoverage:
    """One user flow's coverage by the tests of one outcome."""

    flow_id: str
    name: str
    """The flow's readable name (``name:``, else its id with ``_``/``-`` as spaces)."""
    file: str
    """The flows file, as the report shows it (relative to the assistant)."""
    testable: tuple[StepRef, ...]
    tested_ids: frozenset[str]
    """Ids of the testable steps the runs visited."""

    @property
    def full_name(self) -> str:
        """Rasa's ``Flow Name`` column: ``<flows file>::<flow name>``."""
        return f"{self.file}::{self.name}"

    @property
    def tested(self) -> tuple[StepRef, ...]:
        """The testable steps that were visited, in flow order."""
        return tuple(s for s in self.testable if s.step_id in self.tested_ids)

    @property
    def missing(self) -> tuple[StepRef, ...]:
        """The testable steps no run visited, in flow order."""
        return tuple(s for s in self.testable if s.step_id not in self.tested_ids)

    @property
    def num_steps(self) -> int:
        """How many testable steps the flow has."""
        return len(self.testable)

    @property
    def num_missing(self) -> int:
        """How many testable steps were not visited."""
        return len(self.missing)

    @property
    def coverage(self) -> float | None:
        """Visited testable steps in percent (None for a flow without testable steps)."""
        if not self.testable:
            return None
        return (self.num_steps - self.num_missing) / self.num_steps * 100


@dataclass(frozen=True)
class StatusCoverage:
    """Flow coverage and command histogram of the tests of one outcome (``passed`` or ``failed``)."""

    status: str
    num_tests: int
    flows: tuple[FlowCoverage, ...]
    commands: Mapping[str, int]
    """Command type → count among the tests' LLM-annotated user turns."""

    @property
    def num_steps(self) -> int:
        """Testable steps over all user flows."""
        return sum(f.num_steps for f in self.flows)

    @property
    def num_missing(self) -> int:
        """Missing steps over all user flows."""
        return sum(f.num_missing for f in self.flows)

    @property
    def coverage(self) -> float | None:
        """The total: visited testable steps over all user flows, in percent (None without any step)."""
        if not self.num_steps:
            return None
        return (self.num_steps - self.num_missing) / self.num_steps * 100

    @property
    def visited_any(self) -> bool:
        """Whether the runs visited any testable step (Rasa writes an empty report otherwise)."""
        return any(f.tested_ids for f in self.flows)

    @property
    def incomplete_flows(self) -> tuple[FlowCoverage, ...]:
        """The flows below 100 % (flows without testable steps left out)."""
        return tuple(f for f in self.flows if f.num_missing)


@dataclass(frozen=True)
class CoverageReport:
    """The whole report: both outcomes, and the train/val histograms of a prepare run."""

    passed: StatusCoverage
    failed: StatusCoverage
    data_points: Mapping[str, Mapping[str, int]] | None = None
    """``{"train": histogram, "val": histogram}`` for a prepare run, else None."""

    def by_status(self) -> tuple[StatusCoverage, ...]:
        """Passed, then failed."""
        return (self.passed, self.failed)

    def as_dict(self) -> dict[str, Any]:
        """Every figure, as ``coverage.json`` holds it (no paths outside the project, no timings)."""
        data: dict[str, Any] = {status.status: _status_dict(status) for status in self.by_status()}
        if self.data_points is not None:
            data["data_points"] = {side: dict(counts) for side, counts in self.data_points.items()}
        return data


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _status_dict(status: StatusCoverage) -> dict[str, Any]:
    return {
        "tests": status.num_tests,
        "flows": [
            {
                "flow": flow.flow_id,
                "name": flow.full_name,
                "coverage": _percent(flow.coverage),
                "num_steps": flow.num_steps,
                "num_missing": flow.num_missing,
                "tested_steps": [s.step_id for s in flow.tested],
                "missing_steps": [
                    {"step": s.step_id, "kind": s.kind, "lines": s.lines, "location": s.location} for s in flow.missing
                ],
            }
            for flow in status.flows
        ],
        "total": {
            "coverage": _percent(status.coverage),
            "num_steps": status.num_steps,
            "num_missing": status.num_missing,
        },
        "commands": dict(status.commands),
    }


def histogram(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Summed command counts: Rasa's histogram commands always (zero included), others when they occur,
    sorted by name."""
    total: Counter[str] = Counter({name: 0 for name in HISTOGRAM_COMMANDS})
    for part in counts:
        total.update(part)
    return {name: total[name] for name in sorted(total) if name in HISTOGRAM_COMMANDS or total[name]}


def data_point_histogram(points: Iterable[DataPoint]) -> dict[str, int]:
    """Command types among data points' commands (every occurrence counts)."""
    return histogram(Counter(command.command for command in point.commands) for point in points)


def flow_coverage(flow: Flow, visited: set[tuple[str, str]], file: str) -> FlowCoverage:
    """One flow's coverage given every visited ``(flow id, step id)``."""
    steps = tuple(StepRef(flow.id, s.id, s.kind, file, step_lines(s)) for s in testable_steps(flow))
    tested = frozenset(s.step_id for s in steps if (flow.id, s.step_id) in visited)
    return FlowCoverage(flow.id, flow.readable_name, file, steps, tested)


def build_report(
    flows: FlowsList,
    records: Mapping[str, TestCoverage],
    *,
    shown_file: Callable[[str], str] = str,
    split: SplitResult | None = None,
) -> CoverageReport:
    """The report over the test runs' ``records`` (test id → record).

    ``shown_file`` turns a flow's file path into what the report shows (e.g. relative to the assistant);
    ``split`` (a prepare run's train/validation split) adds the data points' histograms.
    """
    parts: dict[str, StatusCoverage] = {}
    for status in STATUSES:
        chosen = [records[test_id] for test_id in sorted(records) if records[test_id].status == status]
        visited = {pair for record in chosen for pair in record.visited}
        parts[status] = StatusCoverage(
            status=status,
            num_tests=len(chosen),
            flows=tuple(flow_coverage(f, visited, shown_file(f.file or "")) for f in flows.user_flows),
            commands=histogram(record.commands for record in chosen),
        )
    data_points = None
    if split is not None:
        data_points = {
            "train": data_point_histogram(split.train_points),
            "val": data_point_histogram(split.validation_points),
        }
    return CoverageReport(parts["passed"], parts["failed"], data_points)


__all__ = [
    "CoverageReport",
    "FlowCoverage",
    "StatusCoverage",
    "StepRef",
    "build_report",
    "data_point_histogram",
    "flow_coverage",
    "histogram",
]
