"""The end-of-session pipeline and the session runner, driven without pytest's collection."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from pytest_cmdgen.errors import CmdgenError
from pytest_cmdgen.session import (
    MergeWorkerResults,
    Pipeline,
    PipelineContext,
    SessionConfig,
    SessionResults,
    SessionRunner,
    WriteDatasets,
    default_pipeline,
    discover_cases,
)
from pytest_cmdgen.testing import ScriptedLLMServer
from tests.support.paths import EXAMPLES


@dataclass
class Recording:
    """A pipeline step that notes that it ran (or fails, when told to)."""

    name: str
    seen: list[str]
    fail: bool = False

    def run(self, context: PipelineContext) -> None:
        self.seen.append(self.name)
        if self.fail:
            raise CmdgenError("disk full", file="out/params.yaml")


@dataclass
class Project:
    """A copy of the bundled car-rental example and a scripted LLM serving its recorded answers."""

    root: Path
    server: ScriptedLLMServer
    config: SessionConfig = field(init=False)

    def __post_init__(self) -> None:
        self.config = SessionConfig(
            assistant=self.root / "car_rental",
            rootdir=self.root,
            prepare=True,
            out=self.root / "out",
            num_rephrases=3,
            cache=self.root / "cache",
        )


@pytest.fixture
def car_rental(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copytree(EXAMPLES / "car_rental", tmp_path / "car_rental", ignore=shutil.ignore_patterns("conftest.py"))
    recorded = tmp_path / "car_rental" / "commands.yml"
    with ScriptedLLMServer(annotations=recorded, rephrasings=recorded) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield Project(tmp_path, server)


def test_the_default_pipeline_merges_before_it_writes() -> None:
    assert default_pipeline().names[:4] == ("merge", "datasets", "coverage", "gates")


def test_steps_run_in_order_and_a_failing_step_stops_the_rest(tmp_path: Path) -> None:
    seen: list[str] = []
    pipeline = Pipeline((Recording("a", seen), Recording("b", seen, fail=True), Recording("c", seen)))
    context = pipeline.run(PipelineContext(SessionConfig(rootdir=tmp_path), SessionResults(), engine=None))  # type: ignore[arg-type]
    assert seen == ["a", "b"]
    assert context.steps_run == ["a"]
    assert context.errors == ["b: out/params.yaml: disk full"]


def test_merge_adds_every_worker_payload(tmp_path: Path) -> None:
    one, two = SessionResults(), SessionResults()
    one.tests["passed"] += 2
    one.conversations["a.yml::x"] = {"test_id": "a.yml::x"}
    two.tests["passed"] += 1
    two.tests["failed"] += 1
    two.conversations["b.yml::y"] = {"test_id": "b.yml::y"}
    results = SessionResults()
    context = PipelineContext(
        SessionConfig(rootdir=tmp_path),
        results,
        engine=None,
        worker_payloads=[one.to_payload(), two.to_payload()],  # type: ignore[arg-type]
    )
    MergeWorkerResults().run(context)
    assert results.tests == {"passed": 3, "failed": 1}
    assert sorted(results.conversations) == ["a.yml::x", "b.yml::y"]
    assert context.worker_payloads == []


def test_nothing_is_written_when_no_test_ran(tmp_path: Path) -> None:
    context = PipelineContext(
        SessionConfig(rootdir=tmp_path, prepare=True, out=tmp_path / "out"), SessionResults(), engine=None
    )  # type: ignore[arg-type]
    WriteDatasets().run(context)
    assert context.written is None
    assert not (tmp_path / "out").exists()


def test_the_runner_records_outcomes_and_the_pipeline_writes_the_layout(car_rental: Project) -> None:
    runner = SessionRunner(car_rental.config)
    cases = discover_cases([car_rental.root / "car_rental" / "tests"], car_rental.config, base=car_rental.root)
    assert [case.test_id for case in cases][0].startswith("car_rental/tests/rental.yml::")
    runner.start(cases)
    try:
        for case in cases:
            outcome = runner.run_test(case)
            assert outcome.run.passed
            turns = runner.rephrase_case(case)
            assert len(turns) == len(case.test_case.user_steps)
        context = default_pipeline().run(PipelineContext(car_rental.config, runner.results, runner.engine))
    finally:
        runner.finish_process()
    assert context.errors == []
    assert context.steps_run[:4] == ["merge", "datasets", "coverage", "gates"]
    assert context.written == car_rental.config.out
    assert (car_rental.config.out / "4_train_test_split" / "ft_splits" / "train.jsonl").stat().st_size > 0
    assert runner.results.tests == {"passed": len(cases)}
    assert runner.results.usage  # the usage of this process was added when it finished


def test_an_unwritable_output_is_a_pipeline_error_not_a_crash(car_rental: Project) -> None:
    blocker = car_rental.root / "not_a_dir"
    blocker.write_text("a file where the output's parent directory should be")
    config = SessionConfig(**{**car_rental.config.__dict__, "out": blocker / "out", "num_rephrases": 0})
    runner = SessionRunner(config)
    try:
        for case in discover_cases([car_rental.root / "car_rental" / "tests"], config, base=car_rental.root):
            runner.run_test(case)
        context = default_pipeline().run(PipelineContext(config, runner.results, runner.engine))
    finally:
        runner.finish_process()
    assert context.steps_run == ["merge"]
    assert len(context.errors) == 1 and context.errors[0].startswith(f"datasets: could not write {blocker / 'out'}")


def test_output_parts_made_during_the_run_give_the_same_bytes_as_parts_made_at_the_end(car_rental: Project) -> None:
    runner = SessionRunner(car_rental.config)
    cases = discover_cases([car_rental.root / "car_rental" / "tests"], car_rental.config, base=car_rental.root)
    runner.start(cases, look_ahead=True)  # this process writes the output: final conversations are queued
    try:
        for case in cases:
            runner.run_test(case)
            runner.rephrase_case(case)
        runner.prepare_pieces()
        assert sorted(runner.pieces) == sorted(runner.results.conversations)
        ahead = replace(car_rental.config, out=car_rental.root / "ahead")
        at_end = replace(car_rental.config, out=car_rental.root / "at_end")
        used = default_pipeline().run(PipelineContext(ahead, runner.results, runner.engine, pieces_ahead=runner.pieces))
        default_pipeline().run(PipelineContext(at_end, runner.results, runner.engine))
    finally:
        runner.finish_process()

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert used.output is not None
    assert all(c is runner.pieces[c.test_id][1].conversation for c in used.output.conversations)
    made_ahead, made_at_end = tree(car_rental.root / "ahead"), tree(car_rental.root / "at_end")
    assert any(name.startswith("2_rephrasings/") for name in made_ahead)
    names = made_ahead.keys() | made_at_end.keys()
    different = {name for name in names if made_ahead.get(name) != made_at_end.get(name)}
    assert different <= {"params.yaml"}  # it names the output directory


def test_a_conversation_recorded_again_after_its_parts_were_made_is_made_again(car_rental: Project) -> None:
    runner = SessionRunner(car_rental.config)
    cases = discover_cases([car_rental.root / "car_rental" / "tests"], car_rental.config, base=car_rental.root)
    runner.start(cases, look_ahead=True)
    try:
        for case in cases:
            runner.run_test(case)
            runner.rephrase_case(case)
        runner.prepare_pieces()
        test_id = sorted(runner.pieces)[0]
        stale = {test_id: runner.pieces[test_id]}
        runner.results.conversations[test_id] = dict(runner.results.conversations[test_id])  # a new record
        context = PipelineContext(car_rental.config, runner.results, runner.engine, pieces_ahead=stale)
        default_pipeline().run(context)
    finally:
        runner.finish_process()
    assert context.output is not None
    made = next(c for c in context.output.conversations if c.test_id == test_id)
    assert made is not stale[test_id][1].conversation
