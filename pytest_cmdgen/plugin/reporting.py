"""The end-of-session summary, rendered with rich into pytest's terminal output."""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Any

from pytest_cmdgen.llm.purpose import Purpose
from pytest_cmdgen.plugin.compare_summary import render_comparison
from pytest_cmdgen.plugin.coverage_summary import render_coverage, render_gate_failures
from pytest_cmdgen.plugin.roles import concurrency_share

if TYPE_CHECKING:
    from pytest_cmdgen.llm.usage import PurposeUsage
    from pytest_cmdgen.plugin.roles import Role



def merged_usage(snapshots: list[dict[str, Any]]) -> dict[str, PurposeUsage]:
    """Usage per purpose summed over every process's meter snapshot."""
    from pytest_cmdgen.llm.usage import UsageMeter

    meter = UsageMeter()
    for snapshot in snapshots:
        meter.merge(snapshot)
    return {purpose.value: meter.get(purpose) for purpose in Purpose} | {"total": meter.total()}


def summary_rows(role: Role) -> list[tuple[str, str]]:
    """The summary as (label, value) rows: what a user reads at the end of a run."""
    results = role.runner.results
    context = role.context
    tests = results.tests
    rows = [("E2E tests", f"{tests['passed']} passed, {tests['failed']} failed, {tests['skipped']} skipped")]
    output = context.output if context is not None else None
    if output is not None:
        from pytest_cmdgen.recipe.output import result_summary

        stats = result_summary(output)
        rows += [
            (
                "annotated",
                f"{stats['num_annotated_conversations']} conversations, "
                f"{stats['num_user_messages_across_conversations']} user turns "
                f"({stats['num_user_messages_to_rephrase_across_conversations']} to rephrase)",
            ),
            (
                "paraphrases",
                f"{stats['num_passing_rephrased_user_messages']} kept, "
                f"{stats['num_failing_rephrased_user_messages']} rejected"
                + (
                    f", {stats['num_unvalidated_rephrased_user_messages']} not validated (the call failed)"
                    if stats["num_unvalidated_rephrased_user_messages"]
                    else ""
                ),
            ),
            ("data points", f"{stats['num_train_data_points']} train, {stats['num_val_data_points']} val"),
        ]
    usage = merged_usage(results.usage)
    total = usage["total"]
    if total.calls or total.cache_hits or total.failures:
        cost = total.estimated_cost_usd
        cost_text = "cost unknown (unpriced model)" if cost is None else f"≈ ${cost:.4f}"
        per_purpose = ", ".join(
            f"{p} {u.calls}+{u.cache_hits}" for p, u in usage.items() if p != "total" and (u.calls or u.cache_hits)
        )
        failed = f", {total.failures} failed" if total.failures else ""
        detail = f" ({per_purpose})" if per_purpose else ""
        rows.append(
            (
                "LLM calls",
                f"{total.calls} made, {total.cache_hits} cached{failed}{detail}; "
                f"{total.total_tokens:,} tokens; {cost_text}",
            )
        )
        workers = role.worker_count
        in_flight = sum(concurrency_share(role.settings.concurrency, workers, i) for i in range(workers))
        across = f", split across {workers} workers" if workers > 1 else ""
        rows.append(("concurrency", f"at most {in_flight} LLM calls in flight{across}"))
    rows.append(("wall time", f"{time.monotonic() - role.started:.1f} s"))
    if context is not None and context.written is not None:
        rows.append(("output", str(context.written)))
    trained = context.trained if context is not None else None
    if trained is not None:
        losses = trained.train_losses
        loss = f", train loss {losses[0]:.4f} → {losses[-1]:.4f}" if losses else ""
        rows.append(("model", f"{trained.model_dir} ({trained.backend}, {trained.metrics['global_step']} steps{loss})"))
    evaluation = context.evaluation if context is not None else None
    if evaluation is not None:
        from pytest_cmdgen.trainer.evaluate import summary_line

        rows += [("evaluation", summary_line(e)) for e in evaluation.evaluations]
    return rows


def render_summary(role: Role, terminalreporter: Any, verbosity: int) -> None:
    """Write the summary section; with ``-q`` only errors and failed gates; with ``-v`` the rejected
    paraphrases too; then the coverage section."""
    results = role.runner.results
    context = role.context
    for error in context.errors if context is not None else ():
        terminalreporter.write_line(f"cmdgen: {error}", red=True)
    for note in context.notes if context is not None else ():
        terminalreporter.write_line(f"cmdgen: {note}", yellow=True)
    render_gate_failures(role.context, terminalreporter)
    if verbosity < 0 or not results.ran_tests:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")  # long output paths wrap instead of being cut off
    for label, value in summary_rows(role):
        table.add_row(label, value)
    buffer = io.StringIO()
    console = Console(file=buffer, width=terminalreporter._tw.fullwidth, force_terminal=terminalreporter.hasmarkup)
    console.print(table)
    terminalreporter.write_sep("-", "cmdgen summary")
    terminalreporter.write(buffer.getvalue())
    if verbosity > 0 and results.rejections:
        terminalreporter.write_sep("-", "cmdgen rejected paraphrases")
        for line in sorted(results.rejections):
            terminalreporter.write_line(line)
    render_coverage(role.context, terminalreporter, verbosity)
    render_comparison(role.context, terminalreporter, verbosity)
