"""A whole run in one call: discover the test cases, run them, rephrase the passing ones, run the pipeline."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pytest_cmdgen.errors import CmdgenError
from pytest_cmdgen.session.config import SessionConfig
from pytest_cmdgen.session.discovery import discover_cases
from pytest_cmdgen.session.pipeline import PipelineContext, default_pipeline
from pytest_cmdgen.session.runner import SessionRunner


def run_prepare(config: SessionConfig, paths: Iterable[Path]) -> PipelineContext:
    """Run every E2E test case under ``paths`` and the end-of-session pipeline; return its context.

    What the pytest skin does with ``--cmdgen-prepare``, minus pytest: the datasets written are the same
    bytes. A test case that errors counts as failed and the run goes on.
    """
    runner = SessionRunner(config)
    cases = discover_cases(paths, config)
    runner.start(cases)
    try:
        for case in cases:
            try:
                outcome = runner.run_test(case)
                if case.rephrase and outcome.conversation is not None:
                    runner.rephrase_case(case)
            except CmdgenError:  # counted as failed by the runner: one test never stops the run
                continue
        return default_pipeline().run(PipelineContext(config, runner.results, runner.engine))
    finally:
        runner.finish_process()


__all__ = ["run_prepare"]
