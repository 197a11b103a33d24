"""The session layer: run a set of E2E test cases and, at the end, the pipeline that writes the datasets.

No pytest here: the pytest skin (:mod:`pytest_cmdgen.plugin`), a plain script or another runner all drive
the same objects. :class:`SessionConfig` configures a run; :class:`SessionRunner` runs test cases through
the :class:`Engine` (concurrently, each once) and records :class:`SessionResults`; :func:`default_pipeline`
is the ordered list of end-of-session steps (merge worker results → write datasets → …) run on a
:class:`PipelineContext`; :func:`run_prepare` does all of it for a list of paths.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_cmdgen.session.config import SessionConfig
    from pytest_cmdgen.session.discovery import discover_cases, find_e2e_files, is_e2e_file
    from pytest_cmdgen.session.engine import ActionRunnerFactory, CommandSourceFactory, Engine, TestOutcome
    from pytest_cmdgen.session.pipeline import (
        MergeWorkerResults,
        Pipeline,
        PipelineContext,
        PipelineStep,
        WriteDatasets,
        default_pipeline,
    )
    from pytest_cmdgen.session.prepare import run_prepare
    from pytest_cmdgen.session.results import SessionResults
    from pytest_cmdgen.session.runner import CaseRef, SessionRunner, TurnRephrasing

# Imported on first use, so that the pytest skin's import (options need SessionConfig) stays light.
_EXPORTS = {
    "ActionRunnerFactory": "pytest_cmdgen.session.engine",
    "CaseRef": "pytest_cmdgen.session.runner",
    "CommandSourceFactory": "pytest_cmdgen.session.engine",
    "Engine": "pytest_cmdgen.session.engine",
    "MergeWorkerResults": "pytest_cmdgen.session.pipeline",
    "Pipeline": "pytest_cmdgen.session.pipeline",
    "PipelineContext": "pytest_cmdgen.session.pipeline",
    "PipelineStep": "pytest_cmdgen.session.pipeline",
    "SessionConfig": "pytest_cmdgen.session.config",
    "SessionResults": "pytest_cmdgen.session.results",
    "SessionRunner": "pytest_cmdgen.session.runner",
    "TestOutcome": "pytest_cmdgen.session.engine",
    "TurnRephrasing": "pytest_cmdgen.session.runner",
    "WriteDatasets": "pytest_cmdgen.session.pipeline",
    "default_pipeline": "pytest_cmdgen.session.pipeline",
    "discover_cases": "pytest_cmdgen.session.discovery",
    "find_e2e_files": "pytest_cmdgen.session.discovery",
    "is_e2e_file": "pytest_cmdgen.session.discovery",
    "run_prepare": "pytest_cmdgen.session.prepare",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = [
    "ActionRunnerFactory",
    "CaseRef",
    "CommandSourceFactory",
    "Engine",
    "MergeWorkerResults",
    "Pipeline",
    "PipelineContext",
    "PipelineStep",
    "SessionConfig",
    "SessionResults",
    "SessionRunner",
    "TestOutcome",
    "TurnRephrasing",
    "WriteDatasets",
    "default_pipeline",
    "discover_cases",
    "find_e2e_files",
    "is_e2e_file",
    "run_prepare",
]
