"""The ``--cmdgen-compare`` section of the end-of-session summary: this run next to the teacher, with rich."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_cmdgen.session import E2EComparison, PipelineContext

MAX_DIVERGENCES = 10
"""Test cases whose first diverging turn the summary lists (``-v``: all of them)."""


def _rate(part: int, whole: int) -> str:
    from pytest_cmdgen.session.compare import rate  # the JSON file's rate, shown as a percentage

    value = rate(part, whole)
    return "—" if value is None else f"{part}/{whole} ({100 * value:.1f} %)"


def _commands(lines: list[str] | None, status: str) -> str:
    if lines is None:
        return {"not_reached": "(turn not reached)", "no_llm": "(no command generator call)"}.get(status, "—")
    return "; ".join(lines) if lines else "(no command)"


def comparison_rows(comparison: E2EComparison) -> list[tuple[str, str]]:
    """(label, value) rows: pass rates of both, the per-turn command exact match, and the tests edited since
    the prepare run (not compared), if any."""
    count = len(comparison.tests)
    rows = [
        ("model", comparison.model),
        (
            "E2E pass rate",
            f"model {_rate(comparison.passed, count)}, teacher {_rate(comparison.teacher_passed, count)}",
        ),
        ("command exact match", f"{_rate(comparison.turns_matching, comparison.turns_compared)} user turns"),
        (
            "tests diverging",
            f"{sum(1 for t in comparison.tests if t.first_divergence is not None)} of "
            f"{sum(1 for t in comparison.tests if t.teacher_passed)} the teacher passed",
        ),
    ]
    if comparison.changed_since_annotation:
        rows.append(
            (
                "changed since annotation",
                f"{comparison.changed_since_annotation} tests (their user turns are not those annotated; "
                "not compared: run --cmdgen-prepare again)",
            )
        )
    return rows


def render_comparison(context: PipelineContext | None, terminalreporter: Any, verbosity: int) -> None:
    """Write the comparison: the figures, then per diverging test its first diverging turn."""
    comparison = context.comparison if context is not None else None
    if comparison is None or verbosity < 0:
        return
    from rich.console import Console
    from rich.table import Table

    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold", no_wrap=True)
    summary.add_column(overflow="fold")
    for label, value in comparison_rows(comparison):
        summary.add_row(label, value)
    if context is not None and context.config.compare is not None:
        from pytest_cmdgen.session.compare import COMPARISON_FILE

        summary.add_row("written", str(context.config.compare / COMPARISON_FILE))
    diverging = [test for test in comparison.tests if test.first_divergence is not None]
    shown = diverging if verbosity > 0 else diverging[:MAX_DIVERGENCES]
    buffer = io.StringIO()
    console = Console(file=buffer, width=terminalreporter._tw.fullwidth, force_terminal=terminalreporter.hasmarkup)
    console.print(summary)
    terminalreporter.write_sep("-", "cmdgen comparison with the teacher")
    terminalreporter.write(buffer.getvalue())
    if shown:
        terminalreporter.write_line("first diverging user turn of each test:")
    for test in shown:  # plain lines: commands stay whole and greppable at any terminal width
        turn = test.first_divergence
        assert turn is not None
        produced = _commands(turn.produced, turn.status)
        if turn.answer is not None:
            produced += f" (answer: {turn.answer!r})"
        terminalreporter.write_line(f"  {test.test_id}, line {turn.line}: {turn.user!r}")
        terminalreporter.write_line(f"    teacher: {_commands(turn.expected, 'match')}")
        terminalreporter.write_line(f"    model:   {produced}")
    if len(shown) < len(diverging):
        terminalreporter.write_line(
            f"  … and {len(diverging) - len(shown)} more (-v lists them all; every test is in the JSON file)"
        )
    changed = [test.test_id for test in comparison.tests if test.changed_since_annotation]
    if changed:
        terminalreporter.write_line("changed since annotation (user turns not those the teacher annotated):")
        for test_id in changed if verbosity > 0 else changed[:MAX_DIVERGENCES]:
            terminalreporter.write_line(f"  {test_id}")
        if verbosity <= 0 and len(changed) > MAX_DIVERGENCES:
            terminalreporter.write_line(f"  … and {len(changed) - MAX_DIVERGENCES} more (-v lists them all)")


__all__ = ["MAX_DIVERGENCES", "comparison_rows", "render_comparison"]
