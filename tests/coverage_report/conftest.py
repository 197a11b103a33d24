"""One real session over the pizza shop (library only, offline: recorded commands, no rephrasing), shared by
the coverage report tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_cmdgen.session import PipelineContext, SessionConfig, SessionRunner, default_pipeline, discover_cases
from tests.support.pizza import write_pizza_shop


@dataclass
class ShopRun:
    """The pizza shop's session: where it lives, its configuration and the pipeline's context."""

    root: Path
    config: SessionConfig
    context: PipelineContext


def run_shop(root: Path, **settings: object) -> ShopRun:
    """Run the pizza shop's passing and failing tests and the end-of-session pipeline."""
    project = write_pizza_shop(root)
    values: dict[str, object] = {
        "assistant": project,
        "rootdir": root,
        "command_script": project / "commands.yml",
        "out": root / "out",
        "cache": root / "cache",
        "num_rephrases": 0,
        "coverage": True,
    }
    values.update(settings)
    config = SessionConfig(**values)  # type: ignore[arg-type]
    runner = SessionRunner(config)
    try:
        for case in discover_cases([project / "tests", project / "failing"], config, base=root):
            runner.run_test(case)
        context = default_pipeline().run(PipelineContext(config, runner.results, runner.engine))
    finally:
        runner.finish_process()
    return ShopRun(root, config, context)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> ShopRun:
    """A prepare run of the pizza shop: two passing tests, one failing."""
    return run_shop(tmp_path_factory.mktemp("shop"), prepare=True)
