"""Writing ``<out>/coverage/`` atomically, and the gates' results into ``result_summary.yaml``.

``<out>/coverage/`` holds the Rasa-compatible CSVs, ``coverage.json`` (every figure, the charts written or
the one line on how to get them), the PNG charts when matplotlib is installed and ``missing_tests.yml``
when a step is missing. It is built beside and swapped into place (the recipe's ``atomic_directory``), so
an interrupted write leaves the previous report whole. Nothing in it depends on timing or on where the
output directory is, so equal runs give equal bytes.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from pytest_cmdgen.atomic import write_text_atomic
from pytest_cmdgen.coverage.csvreport import coverage_csv, csv_file_name
from pytest_cmdgen.coverage.gates import GateResult
from pytest_cmdgen.coverage.plots import PLOTS_HINT, ChartCache, plots_available, write_plots
from pytest_cmdgen.coverage.report import CoverageReport
from pytest_cmdgen.coverage.skeletons import MISSING_TESTS_FILE, missing_tests_yaml
from pytest_cmdgen.recipe.conversation_yaml import dump_yaml
from pytest_cmdgen.recipe.output import SUMMARY_FILE, atomic_directory, write_text
from pytest_cmdgen.runtime.flows import FlowsList

COVERAGE_DIR = "coverage"
"""The report's directory inside the output directory."""
COVERAGE_JSON = "coverage.json"
"""Every figure of the report."""
GATES_KEY = "coverage_gates"
"""The key under which ``result_summary.yaml`` records the gates."""


@dataclass(frozen=True)
class CoverageFiles:
    """What :func:`write_coverage` wrote."""

    directory: Path
    files: tuple[str, ...]
    """File names written, sorted."""
    charts: tuple[str, ...]
    """The PNG charts among them (empty without matplotlib)."""
    charts_hint: str | None = None
    """The one line on how to get the charts, when there are none."""


def write_coverage(
    out_dir: Path,
    report: CoverageReport,
    flows: FlowsList,
    responses: Collection[str],
    drawn: ChartCache | None = None,
) -> CoverageFiles:
    """Write ``out_dir/coverage/`` atomically; ``responses`` are the domain's response names (skeletons
    show them as ``utter:`` steps); charts ``drawn`` ahead for the same data are taken as they are."""
    directory = Path(out_dir) / COVERAGE_DIR
    with atomic_directory(directory) as root:
        for status in report.by_status():
            write_text(root / csv_file_name(status.status), coverage_csv(status))
        charts = tuple(write_plots(report, root, drawn)) if plots_available() else ()
        hint = None if charts or plots_available() else PLOTS_HINT
        skeletons = missing_tests_yaml(report.passed, flows, responses)
        if skeletons is not None:
            write_text(root / MISSING_TESTS_FILE, skeletons)
        data = report.as_dict() | {"charts": list(charts)}
        if hint is not None:
            data["charts_hint"] = hint
        write_text(root / COVERAGE_JSON, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        files = tuple(sorted(p.name for p in root.iterdir()))
    return CoverageFiles(directory, files, charts, hint)


def record_gates(out_dir: Path, gates: Iterable[GateResult]) -> Path | None:
    """Add every gate's result to ``out_dir/result_summary.yaml`` (replaced atomically); None when there
    is no summary to add to."""
    path = Path(out_dir) / SUMMARY_FILE
    try:
        summary = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(summary, dict):
        return None
    summary[GATES_KEY] = [gate.as_dict() for gate in gates]
    return write_text_atomic(path, dump_yaml(summary), mode=stat.S_IMODE(path.stat().st_mode))  # as it was


__all__ = ["COVERAGE_DIR", "COVERAGE_JSON", "GATES_KEY", "CoverageFiles", "record_gates", "write_coverage"]
