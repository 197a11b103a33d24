"""Coverage report and coverage gates: what the tests teach the model, and a stop on thin data.

Library code, no pytest. :mod:`.record` turns one test run into plain data (the flow steps it visited,
the command types of its LLM-annotated turns); :mod:`.report` builds the :class:`CoverageReport` over all
runs (flow coverage as Rasa counts it, command histograms for the tests and the train/val data points);
:mod:`.csvreport`, :mod:`.plots` and :mod:`.skeletons` render it (Rasa's CSV, PNG charts, skeleton tests
for the missing steps) and :mod:`.output` writes ``<out>/coverage/``; :mod:`.gates` checks it against the
minimums a CI sets. The session pipeline's ``coverage`` and ``gates`` steps drive all of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_cmdgen._lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_cmdgen.coverage.commands import (
        HISTOGRAM_COMMANDS,
        LLM_COMMANDS,
        CommandNameError,
        canonical_command,
        resolve_command_names,
        unknown_command_names,
    )
    from pytest_cmdgen.coverage.csvreport import coverage_csv
    from pytest_cmdgen.coverage.flowgraph import shortest_path, testable_steps
    from pytest_cmdgen.coverage.gates import (
        GATES_FAILED_EXIT_CODE,
        CustomGate,
        GateResult,
        GateSettings,
        evaluate_gates,
    )
    from pytest_cmdgen.coverage.output import CoverageFiles, record_gates, write_coverage
    from pytest_cmdgen.coverage.plots import plots_available, write_plots
    from pytest_cmdgen.coverage.record import TestCoverage, record_test, visited_steps
    from pytest_cmdgen.coverage.report import CoverageReport, FlowCoverage, StatusCoverage, StepRef, build_report
    from pytest_cmdgen.coverage.skeletons import missing_tests_yaml

__getattr__ = lazy_exports(
    __name__,
    {
        "build_report": "report",
        "canonical_command": "commands",
        "CommandNameError": "commands",
        "coverage_csv": "csvreport",
        "CoverageFiles": "output",
        "CoverageReport": "report",
        "CustomGate": "gates",
        "evaluate_gates": "gates",
        "FlowCoverage": "report",
        "GATES_FAILED_EXIT_CODE": "gates",
        "GateResult": "gates",
        "GateSettings": "gates",
        "HISTOGRAM_COMMANDS": "commands",
        "LLM_COMMANDS": "commands",
        "missing_tests_yaml": "skeletons",
        "plots_available": "plots",
        "record_gates": "output",
        "record_test": "record",
        "resolve_command_names": "commands",
        "shortest_path": "flowgraph",
        "StatusCoverage": "report",
        "StepRef": "report",
        "TestCoverage": "record",
        "testable_steps": "flowgraph",
        "unknown_command_names": "commands",
        "visited_steps": "record",
        "write_coverage": "output",
        "write_plots": "plots",
    },
)

__all__ = [
    "GATES_FAILED_EXIT_CODE",
    "HISTOGRAM_COMMANDS",
    "LLM_COMMANDS",
    "CommandNameError",
    "CoverageFiles",
    "CoverageReport",
    "CustomGate",
    "FlowCoverage",
    "GateResult",
    "GateSettings",
    "StatusCoverage",
    "StepRef",
    "TestCoverage",
    "build_report",
    "canonical_command",
    "coverage_csv",
    "evaluate_gates",
    "missing_tests_yaml",
    "plots_available",
    "record_gates",
    "record_test",
    "resolve_command_names",
    "shortest_path",
    "testable_steps",
    "unknown_command_names",
    "visited_steps",
    "write_coverage",
    "write_plots",
]
