"""The coverage part of the end-of-session summary: gate failures (always), and with normal verbosity a
compact table of the flows below 100 % and the command histogram, rendered with rich."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

    from pytest_cmdgen.coverage import CoverageReport
    from pytest_cmdgen.session import PipelineContext


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def render_gate_failures(context: PipelineContext | None, terminalreporter: Any) -> None:
    """Name exactly what each failed gate misses (shown even with ``-q``)."""
    if context is None:
        return
    failed = [gate for gate in context.gates if not gate.passed]
    if not failed:
        return
    from pytest_cmdgen.coverage import GATES_FAILED_EXIT_CODE

    kept = "; the datasets were written" if context.written is not None else ""
    terminalreporter.write_line(
        f"cmdgen: {len(failed)} of {len(context.gates)} coverage gates failed (exit code {GATES_FAILED_EXIT_CODE}"
        f"{kept}; training does not start):",
        red=True,
    )
    for gate in failed:
        for line in gate.failures or (f"gate {gate.name} failed",):
            terminalreporter.write_line(f"cmdgen:   {line}", red=True)


def flow_table(report: CoverageReport) -> Table | None:
    """The passed tests' flows below 100 % with their missing steps, and the total; None when every flow
    is covered."""
    from rich.table import Table

    passed = report.passed
    incomplete = passed.incomplete_flows
    if not incomplete:
        return None
    table = Table(title="flows below 100 % (passed tests)", title_justify="left", box=None, pad_edge=False)
    table.add_column("flow", style="bold", no_wrap=True)
    table.add_column("coverage", justify="right", no_wrap=True)
    table.add_column("missing steps", overflow="fold")
    for flow in incomplete:
        missing = ", ".join(f"{step.step_id} ({step.location})" for step in flow.missing)
        table.add_row(flow.flow_id, _percent(flow.coverage), missing)
    table.add_row("total", _percent(passed.coverage), f"{passed.num_missing} of {passed.num_steps} steps missing")
    return table


def histogram_table(report: CoverageReport) -> Table:
    """Command type counts: passed tests, failed tests (if any), train and val data points (if prepared)."""
    from rich.table import Table

    columns: list[tuple[str, dict[str, int]]] = [("passed tests", dict(report.passed.commands))]
    if report.failed.num_tests:
        columns.append(("failed tests", dict(report.failed.commands)))
    if report.data_points is not None:
        columns += [(side, dict(counts)) for side, counts in report.data_points.items()]
    names = sorted({name for _, counts in columns for name in counts})
    table = Table(title="command histogram", title_justify="left", box=None, pad_edge=False)
    table.add_column("command", style="bold", no_wrap=True)
    for title, _ in columns:
        table.add_column(title, justify="right", no_wrap=True)
    for name in names:
        table.add_row(name, *(str(counts.get(name, 0)) for _, counts in columns))
    return table


def render_coverage(context: PipelineContext | None, terminalreporter: Any, verbosity: int) -> None:
    """The coverage section (nothing with ``-q`` or without a report)."""
    if verbosity < 0 or context is None or context.coverage is None:
        return
    from rich.console import Console

    report = context.coverage
    buffer = io.StringIO()
    console = Console(file=buffer, width=terminalreporter._tw.fullwidth, force_terminal=terminalreporter.hasmarkup)
    table = flow_table(report)
    if table is None:
        console.print(f"flow coverage (passed tests): {_percent(report.passed.coverage)} of "
                      f"{report.passed.num_steps} steps")
    else:
        console.print(table)
    console.print(histogram_table(report))
    files = context.coverage_files
    if files is not None:
        console.print(f"report: {files.directory}", soft_wrap=True)
        if files.charts_hint:
            console.print(files.charts_hint)
    terminalreporter.write_sep("-", "cmdgen coverage")
    terminalreporter.write(buffer.getvalue())


__all__ = ["flow_table", "histogram_table", "render_coverage", "render_gate_failures"]
