"""The session layer: run a set of E2E test cases and, at the end, the pipeline that writes the datasets.

No pytest here: the pytest skin (:mod:`pytest_cmdgen.plugin`), a plain script or another runner all drive
the same objects. :class:`SessionConfig` configures a run; :class:`SessionRunner` runs test cases through
the :class:`Engine` (concurrently, each once) and records :class:`SessionResults`; :func:`default_pipeline`
is the ordered list of end-of-session steps (merge worker results → write datasets → coverage → gates → …)
run on a :class:`PipelineContext`; :func:`run_prepare` does all of it for a list of paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_cmdgen._lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_cmdgen.session.compare import (
        E2EComparison,
        TestComparison,
        TurnComparison,
        compare_runs,
        load_teacher,
        write_comparison,
    )
    from pytest_cmdgen.session.config import SessionConfig
    from pytest_cmdgen.session.discovery import discover_cases, find_e2e_files, is_e2e_file
    from pytest_cmdgen.session.engine import ActionRunnerFactory, CommandSourceFactory, Engine, TestOutcome
    from pytest_cmdgen.session.lookahead import LookAhead
    from pytest_cmdgen.session.pipeline import (
        CheckGates,
        CompareWithTeacher,
        Evaluate,
        MergeWorkerResults,
        Pipeline,
        PipelineContext,
        PipelineStep,
        ReportCoverage,
        Train,
        WriteDatasets,
        default_pipeline,
    )
    from pytest_cmdgen.session.prepare import run_prepare
    from pytest_cmdgen.session.results import SessionResults
    from pytest_cmdgen.session.runner import CaseRef, SessionRunner, TurnRephrasing

__getattr__ = lazy_exports(
    __name__,
    {
        "ActionRunnerFactory": "engine",
        "CaseRef": "runner",
        "CheckGates": "pipeline",
        "Evaluate": "pipeline",
        "CommandSourceFactory": "engine",
        "compare_runs": "compare",
        "load_teacher": "compare",
        "write_comparison": "compare",
        "CompareWithTeacher": "pipeline",
        "E2EComparison": "compare",
        "default_pipeline": "pipeline",
        "discover_cases": "discovery",
        "Engine": "engine",
        "find_e2e_files": "discovery",
        "is_e2e_file": "discovery",
        "LookAhead": "lookahead",
        "MergeWorkerResults": "pipeline",
        "Pipeline": "pipeline",
        "PipelineContext": "pipeline",
        "PipelineStep": "pipeline",
        "ReportCoverage": "pipeline",
        "run_prepare": "prepare",
        "SessionConfig": "config",
        "SessionResults": "results",
        "SessionRunner": "runner",
        "TestComparison": "compare",
        "TestOutcome": "engine",
        "Train": "pipeline",
        "TurnComparison": "compare",
        "TurnRephrasing": "runner",
        "WriteDatasets": "pipeline",
    },
)

__all__ = [
    "ActionRunnerFactory",
    "CaseRef",
    "CheckGates",
    "CommandSourceFactory",
    "CompareWithTeacher",
    "E2EComparison",
    "Engine",
    "Evaluate",
    "LookAhead",
    "MergeWorkerResults",
    "Pipeline",
    "PipelineContext",
    "PipelineStep",
    "ReportCoverage",
    "SessionConfig",
    "SessionResults",
    "SessionRunner",
    "TestComparison",
    "TestOutcome",
    "Train",
    "TurnComparison",
    "TurnRephrasing",
    "WriteDatasets",
    "compare_runs",
    "default_pipeline",
    "discover_cases",
    "find_e2e_files",
    "is_e2e_file",
    "load_teacher",
    "run_prepare",
    "write_comparison",
]
