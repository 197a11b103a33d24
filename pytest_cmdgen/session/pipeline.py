"""The end-of-session pipeline: an ordered list of named steps run once, after every test case ran.

The order is fixed: merge the workers' results → write the datasets → the coverage report → the
coverage gates → train → evaluate. Each step is a small object with a ``name`` and
``run(context)``; it reads and adds to one :class:`PipelineContext`. A failed gate is no error of the
pipeline: the steps go on, and ``gates_passed`` tells the later ones (training does not start). The
pytest controller runs :func:`default_pipeline` at session end; a script or another front end runs the
same one (see :func:`run_prepare`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from pytest_cmdgen.coverage.gates import CustomGate, GateResult, GateSettings, evaluate_gates
from pytest_cmdgen.coverage.output import CoverageFiles, record_gates, write_coverage
from pytest_cmdgen.coverage.record import TestCoverage
from pytest_cmdgen.coverage.report import CoverageReport, build_report
from pytest_cmdgen.errors import CmdgenError
from pytest_cmdgen.recipe.output import SUMMARY_FILE, RecipeOutput, make_params, write_output
from pytest_cmdgen.recipe.pieces import ConversationPieces, conversation_pieces
from pytest_cmdgen.recipe.split import split_data_points
from pytest_cmdgen.recipe.transport import conversation_from_dict
from pytest_cmdgen.session.config import SessionConfig
from pytest_cmdgen.session.results import SessionResults

if TYPE_CHECKING:
    from pytest_cmdgen.coverage.plots import ChartCache
    from pytest_cmdgen.session.compare import E2EComparison
    from pytest_cmdgen.session.engine import Engine
    from pytest_cmdgen.trainer.evaluate import EvaluationResult
    from pytest_cmdgen.trainer.run import TrainResult


@dataclass
class PipelineContext:
    """What the steps share: the configuration, the results so far, and what each step produced."""

    config: SessionConfig
    results: SessionResults
    engine: Engine
    """The process's engine: the project, the command serializer, the rephraser's settings."""
    worker_payloads: list[dict[str, Any]] = field(default_factory=list)
    """Results shipped by other processes (xdist workers), merged by :class:`MergeWorkerResults`."""
    output: RecipeOutput | None = None
    """The datasets' content, once :class:`WriteDatasets` built it."""
    written: Path | None = None
    """The output directory, once written."""
    interrupted: bool = False
    """The session was interrupted (Ctrl-C, SIGTERM): nothing is written over previous outputs."""
    errors: list[str] = field(default_factory=list)
    """One line per step that failed; a failed step fails the session."""
    notes: list[str] = field(default_factory=list)
    """Lines the user should read in the summary (an interrupted session, a dataset that shrank, ...)."""
    steps_run: list[str] = field(default_factory=list)
    """The names of the steps that ran, in order."""
    extra_gates: list[CustomGate] = field(default_factory=list)
    """The user's own coverage gates (the pytest skin passes the ``pytest_cmdgen_coverage_gate`` hook)."""
    coverage: CoverageReport | None = None
    """The coverage report, once :class:`ReportCoverage` built it."""
    coverage_files: CoverageFiles | None = None
    """What :class:`ReportCoverage` wrote to ``<out>/coverage/``."""
    charts_drawn_ahead: ChartCache | None = None
    """Coverage charts drawn while the last LLM calls were out (:mod:`.lookahead`), if any: a chart of the
    very same data is taken from here instead of being drawn again."""
    pieces_ahead: dict[str, tuple[dict[str, Any], ConversationPieces]] = field(default_factory=dict)
    """Test id → (the conversation as recorded, its output parts) computed during the run
    (:meth:`~pytest_cmdgen.session.runner.SessionRunner.prepare_pieces`): used when the session's results
    still hold that very record, computed again otherwise."""
    gates: list[GateResult] = field(default_factory=list)
    """Every coverage gate's result, once :class:`CheckGates` ran."""
    gates_passed: bool = True
    """False when a coverage gate failed: later steps (training) must not start."""
    trained: TrainResult | None = None
    """The fine-tuned model, once :class:`Train` ran."""
    evaluation: EvaluationResult | None = None
    """The fine-tuned model's scores on the val split, once :class:`Evaluate` ran."""
    comparison: E2EComparison | None = None
    """This run next to the teacher's annotations, once :class:`CompareWithTeacher` ran (``--cmdgen-compare``)."""


class PipelineStep(Protocol):
    """One end-of-session step."""

    name: str

    def run(self, context: PipelineContext) -> None:
        """Do the step's work on ``context``; raise a :class:`~pytest_cmdgen.errors.CmdgenError` to fail it."""


class MergeWorkerResults:
    """Add every worker's results to the session's (controller side of xdist; a no-op in one process)."""

    name = "merge"

    def run(self, context: PipelineContext) -> None:
        """Merge the payloads in arrival order; results are keyed by test id, so the order does not matter."""
        for payload in context.worker_payloads:
            context.results.merge(payload)
        context.worker_payloads.clear()


class WriteDatasets:
    """Turn the session's conversations into the output layout (only when preparing data and tests ran)."""

    name = "datasets"

    def run(self, context: PipelineContext) -> None:
        """Build data points, split them, and write the output directory atomically."""
        config = context.config
        if not config.prepare:
            return
        if context.interrupted:
            context.notes.append(
                f"interrupted: nothing was written over {config.shown(config.out)}; the LLM answers received so far "
                f"are kept in the cache ({config.shown(config.cache_dir)}), so the next run does not pay for them again"
            )
            return
        if not context.results.ran_tests:
            return  # --collect-only, everything deselected: the previous output stays as it was

        engine = context.engine
        stored = context.results.conversations
        previous = previous_data_points(config.out)
        if not stored:  # the project may be broken: do not ask the engine for anything
            raise _no_data_point(context, previous)
        serialize = engine.serializer()

        def pieces_of(test_id: str) -> ConversationPieces:
            ahead = context.pieces_ahead.get(test_id)
            if ahead is not None and ahead[0] is stored[test_id]:
                return ahead[1]
            return conversation_pieces(conversation_from_dict(stored[test_id]), serialize)

        pieces = [pieces_of(test_id) for test_id in sorted(stored)]
        conversations = [p.conversation for p in pieces]
        points = [point for p in pieces for point in p.data_points]
        if not points:
            raise _no_data_point(context, previous)
        if previous is not None and len(points) < previous / 2:
            context.notes.append(
                f"the new dataset has {len(points)} data points; the one it replaced in {config.shown(config.out)} "
                f"had {previous}"
            )
        split = split_data_points(points, config.train_frac, config.seed)
        params = make_params(
            num_rephrases=config.num_rephrases,
            rephrase_config=engine.rephrase_config().as_params(),
            model=None,
            endpoints=config.shown(config.assistant / "endpoints.yml"),
            train_frac=config.train_frac,
            output_format=config.output_format,
            out=config.shown(config.out),
            seed=config.seed,
            rasa_version=engine.project().profile.version,
            **project_record(engine),
        )
        context.output = RecipeOutput(
            num_input_e2e_tests=sum(context.results.tests.values()),
            conversations=conversations,
            data_points=points,
            split=split,
            params=params,
            rephrased=config.num_rephrases > 0,
            e2e_sources={k: Path(v) for k, v in context.results.sources.items()},
            items={p.conversation.test_id: (p.annotations_item, p.rephrasings_item) for p in pieces},
        )
        try:
            context.written = write_output(
                config.out,
                context.output,
                serialize,
                config.output_format,
                hf_dataset=config.hf_dataset,
                keep=("model",) if config.train_resume else (),  # the checkpoints a resume continues from
            )
        except OSError as exc:
            raise CmdgenError(f"could not write {config.out}: {exc}") from None


def project_record(engine: Engine) -> dict[str, Any]:
    """What the evaluation and the serving files need to know about the project once it is gone (an output
    copied to a GPU runner), recorded in ``params.yaml``: the command generator, how its LLM is configured
    (a model group or inline), its command syntax, and the user flows an answer may start."""
    from pytest_cmdgen.generator.grammar import user_flow_ids
    from pytest_cmdgen.generator.prompt import component_syntax

    project = engine.project()
    generator = project.config.generator
    return {
        "command_generator": generator.name if generator else None,
        "command_generator_llm_style": ("model_group" if "model_group" in generator.llm else "inline")
        if generator
        else None,
        "command_syntax": component_syntax(generator.name if generator else None),
        "flow_ids": sorted(user_flow_ids(flow.id for flow in project.flows)),
    }


def previous_data_points(out: Path) -> int | None:
    """How many data points the dataset already in ``out`` has (its ``result_summary.yaml``), if any."""
    try:
        summary = yaml.safe_load((out / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    count = summary.get("num_ft_data_points") if isinstance(summary, dict) else None
    return count if isinstance(count, int) else None


def _no_data_point(context: PipelineContext, previous: int | None) -> CmdgenError:
    config, tests = context.config, context.results.tests
    kept = f"the previous dataset in {config.shown(config.out)} was kept" if previous else "nothing was written"
    ran = f"{tests['passed']} tests passed, {tests['failed']} failed, {tests['skipped']} skipped"
    return CmdgenError(f"no data point came out of this run ({ran}): {kept}", hint="see the failures above")


class ReportCoverage:
    """Build the coverage report over every test run and write ``<out>/coverage/`` (when asked for,
    preparing data or gated, and tests ran)."""

    name = "coverage"

    def run(self, context: PipelineContext) -> None:
        """Flow coverage and command histograms per outcome, with the train/val histograms of a prepare run."""
        config = context.config
        if not config.coverage_enabled or not context.results.ran_tests or context.interrupted:
            return  # an interrupted session writes nothing over the previous output
        project = context.engine.project()
        root = Path(project.root).resolve()

        def shown(file: str) -> str:
            path = Path(file).resolve()
            return path.relative_to(root).as_posix() if root in path.parents else config.shown(path)

        records = {test_id: TestCoverage.from_dict(data) for test_id, data in context.results.coverage.items()}
        split = context.output.split if context.output is not None else None
        context.coverage = build_report(project.flows, records, shown_file=shown, split=split)
        try:
            context.coverage_files = write_coverage(
                config.out,
                context.coverage,
                project.flows,
                frozenset(project.domain.responses),
                context.charts_drawn_ahead,
            )
        except OSError as exc:
            raise CmdgenError(f"could not write {config.out / 'coverage'}: {exc}") from None


class CheckGates:
    """Check the coverage report against the gates that apply; record each result (also in
    ``result_summary.yaml`` when datasets were written) and set ``gates_passed``."""

    name = "gates"

    def run(self, context: PipelineContext) -> None:
        """Evaluate the gates; a failed gate is recorded, not raised, so the later steps can read it."""
        config = context.config
        report = context.coverage
        settings = GateSettings(config.min_flow_coverage, config.require_commands, config.min_command_examples)
        if report is None or not (settings.any or context.extra_gates):
            return
        context.gates = evaluate_gates(report, settings, context.extra_gates)
        context.gates_passed = all(gate.passed for gate in context.gates)
        if context.written is not None:
            try:
                record_gates(context.written, context.gates)
            except OSError as exc:
                raise CmdgenError(f"could not record the gates in {context.written}: {exc}") from None


class Train:
    """Fine-tune the command generator on the split just written (``--cmdgen-train``), unless a coverage
    gate failed; the trainer library is imported only here, so a session that does not train never loads it."""

    name = "train"

    def run(self, context: PipelineContext) -> None:
        """Train into ``<out>/model/``; a trainer error (one line, dataset untouched) fails the step."""
        config = context.config
        if not config.training or context.written is None:
            return
        if not context.gates_passed:
            context.notes.append("training did not start: a coverage gate failed")
            return
        from pytest_cmdgen.trainer import config_for_run, resume_command, train

        train_config = config_for_run(context.written, config.train_config, config.base_model, config.train_resume)
        hint = resume_command(context.written, config.train_config, config.base_model)
        hint += ", or add --cmdgen-train-resume to this pytest command"
        print(file=sys.stderr, flush=True)  # training reports on its own lines, after the test progress
        context.trained = train(context.written, train_config, resume=config.train_resume, resume_hint=hint)


class Evaluate:
    """Evaluate the model :class:`Train` just wrote on the val split (``<out>/model/evaluation.json``, a table
    on stderr); only when training ran. A failure is one line that keeps the trained model."""

    name = "evaluate"

    def run(self, context: PipelineContext) -> None:
        """Answer every val data point with the fine-tuned model and score it like ``rasa test du``."""
        if context.trained is None or context.written is None:
            return
        from pytest_cmdgen.trainer import load_train_config
        from pytest_cmdgen.trainer.evaluate import evaluate_after_training
        from pytest_cmdgen.trainer.outputs import CONFIG_FILE

        saved = load_train_config(context.trained.model_dir / CONFIG_FILE)
        context.evaluation = evaluate_after_training(context.written, base=saved.evaluate_base)


class CompareWithTeacher:
    """``--cmdgen-compare OUT_DIR``: compare this run's commands with the prepare run's annotations (the
    teacher) and write ``OUT_DIR/model/e2e_comparison.json`` (not when interrupted or when no test ran)."""

    name = "compare"

    def run(self, context: PipelineContext) -> None:
        """Line up every test case run with its annotated conversation, user turn by user turn."""
        config = context.config
        if config.compare is None or context.interrupted or not context.results.compared:
            return
        from pytest_cmdgen.generator.command_compare import CommandParser
        from pytest_cmdgen.generator.prompt import component_syntax
        from pytest_cmdgen.session.compare import compare_runs, load_teacher, write_comparison

        engine = context.engine  # read from the project alone: the engine may be closed, its generator unbuilt
        project = engine.project()
        syntax = component_syntax(project.config.generator.name if project.config.generator else None)
        parser = CommandParser(syntax, project.profile.release, tuple(flow.id for flow in project.flows))
        teacher = load_teacher(config.compare, parser)
        context.comparison = compare_runs(
            context.results.compared,
            context.results.sources,
            teacher,
            config.compare,
            engine.serializer(),
            engine.model_label(),
        )
        try:
            write_comparison(config.compare, context.comparison)
        except OSError as exc:
            raise CmdgenError(f"could not write the comparison into {config.compare}: {exc}") from None


@dataclass(frozen=True)
class Pipeline:
    """Ordered steps; :meth:`run` runs them in order and stops at the first that fails."""

    steps: tuple[PipelineStep, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The steps' names, in order."""
        return tuple(step.name for step in self.steps)

    def run(self, context: PipelineContext) -> PipelineContext:
        """Run every step on ``context``; a step's :class:`CmdgenError` is noted in ``context.errors``."""
        for step in self.steps:
            try:
                step.run(context)
            except CmdgenError as exc:
                context.errors.append(f"{step.name}: {exc}")
                break
            context.steps_run.append(step.name)
        return context


def default_pipeline() -> Pipeline:
    """The steps every session runs at its end, in order."""
    return Pipeline(
        (
            MergeWorkerResults(),
            WriteDatasets(),
            ReportCoverage(),
            CheckGates(),
            Train(),
            Evaluate(),
            CompareWithTeacher(),
        )
    )


__all__ = [
    "CheckGates",
    "CompareWithTeacher",
    "Evaluate",
    "MergeWorkerResults",
    "Pipeline",
    "PipelineContext",
    "PipelineStep",
    "ReportCoverage",
    "Train",
    "WriteDatasets",
    "default_pipeline",
]
