"""Offline evaluation of the fine-tuned command generator on the val split: :func:`evaluate`.

Every val data point's prompt is answered (greedy, batched, through the chat template the model was
trained with: :mod:`~pytest_cmdgen.trainer.inference`); the answer and the label are parsed with the
project's command parser for the generator's syntax (the syntax, Rasa version and flows a prepare run
records in ``params.yaml``) and compared like ``rasa test du`` (:mod:`~pytest_cmdgen.trainer.command_metrics`).
With ``base=True`` (``evaluate_base: true``, ``cmdgen-evaluate --base``) the base model without the adapter
answers too, so the gain shows. Written atomically:

* ``<out>/model/evaluation.json`` (in the ``--model`` directory when one is named) — per model: exact
  match, unparseable share, TP/FP/FN and precision/recall/F1 per command type (and over all), latency per
  prompt (p50/p95), output tokens/s, data points/s;
* ``<out>/model/evaluation_errors.jsonl`` — one row per data point answered wrong: id, test, user message,
  expected and answered commands.

:func:`render` shows the result as a rich table on a terminal, plain lines elsewhere.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pytest_cmdgen.atomic import write_text_atomic
from pytest_cmdgen.errors import CmdgenError
from pytest_cmdgen.generator.grammar import SYNTAXES
from pytest_cmdgen.recipe.output import FT_DATA_FILE, PARAMS_FILE, TRAIN_FILE, VAL_FILE, read_params
from pytest_cmdgen.trainer import outputs
from pytest_cmdgen.trainer.command_metrics import (
    CommandParser,
    CommandScores,
    TypeCounts,
    command_text,
    flows_in_labels,
    infer_syntax,
    percentile,
    score,
)
from pytest_cmdgen.trainer.data import read_numbered_rows
from pytest_cmdgen.trainer.errors import TrainError, TrainSetupError

EVALUATION_FILE = "evaluation.json"
ERRORS_FILE = "evaluation_errors.jsonl"
FINE_TUNED = "fine-tuned"
BASE = "base"
DEFAULT_RASA_VERSION = "3.10"
"""The version an output that records none is parsed as (the oldest supported: its grammar is v1's)."""

Log = Callable[[str], None]


def _stderr(text: str) -> None:
    print(f"cmdgen-evaluate: {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class DataPoint:
    """One evaluated data point: where it comes from, its prompt and label."""

    id: str
    """``val.jsonl:LINE`` (the row in the split file)."""
    prompt: str
    label: str
    test: str | None = None
    """The E2E test case it was annotated from (from ``llm_ft_data.jsonl``)."""
    user_message: str | None = None
    """The user message of the turn (the paraphrase, for a rephrased data point)."""


@dataclass
class ModelEvaluation:
    """One model's answers to every data point, their scores, and how fast they came."""

    label: str
    """``fine-tuned`` or ``base``."""
    model: str
    """What answered: the directory, and the base for an adapter."""
    device: str
    scores: CommandScores
    answers: list[str]
    latencies_s: list[float]
    output_tokens: int
    truncated: int
    """Answers cut by ``max_new_tokens`` before the end-of-turn token."""
    load_s: float
    generate_s: float

    def as_dict(self) -> dict[str, Any]:
        """The model's part of ``evaluation.json``."""
        n = len(self.answers)
        return {
            "model": self.model,
            "device": self.device,
            **self.scores.as_dict(),
            "truncated": self.truncated,
            "latency_s": {
                "p50": round(percentile(self.latencies_s, 50), 4),
                "p95": round(percentile(self.latencies_s, 95), 4),
                "mean": round(sum(self.latencies_s) / n, 4) if n else 0.0,
            },
            "output_tokens": self.output_tokens,
            "output_tokens_per_s": round(self.output_tokens / self.generate_s, 2) if self.generate_s > 0 else 0.0,
            "data_points_per_s": round(n / self.generate_s, 3) if self.generate_s > 0 else 0.0,
            "generate_s": round(self.generate_s, 3),
            "load_s": round(self.load_s, 3),
        }


@dataclass
class EvaluationResult:
    """What :func:`evaluate` measured, and where it wrote it."""

    split: str
    parser: CommandParser
    points: list[DataPoint]
    evaluations: list[ModelEvaluation]
    batch_size: int
    max_new_tokens: int
    warnings: list[str] = field(default_factory=list)
    files: tuple[Path, ...] = ()
    left_out: int = 0
    """Data points left out: the prompt and the answer budget exceed the model's context."""

    def get(self, label: str) -> ModelEvaluation | None:
        """The evaluation of ``fine-tuned`` or ``base``, if it ran."""
        return next((e for e in self.evaluations if e.label == label), None)

    def as_dict(self) -> dict[str, Any]:
        """The content of ``evaluation.json``."""
        return {
            "split": self.split,
            "data_points": len(self.points),
            "left_out_too_long": self.left_out,
            "command_syntax": self.parser.syntax,
            "rasa_version": self.parser.rasa_version,
            "batch_size": self.batch_size,
            "max_new_tokens": self.max_new_tokens,
            "models": {evaluation.label: evaluation.as_dict() for evaluation in self.evaluations},
            "warnings": list(self.warnings),
        }

    def error_rows(self) -> list[dict[str, Any]]:
        """The rows of ``evaluation_errors.jsonl``: every data point a model answered wrong."""
        rows = []
        for evaluation in self.evaluations:
            for point, scored, answer in zip(self.points, evaluation.scores.points, evaluation.answers, strict=True):
                if scored.exact:
                    continue
                rows.append(
                    {
                        "model": evaluation.label,
                        "id": point.id,
                        "test": point.test,
                        "user_message": point.user_message,
                        "expected": point.label,
                        "got": answer,
                        "unparseable": scored.unparseable,
                        "missing": sorted(command_text(key) for key in scored.expected - scored.got),
                        "extra": sorted(command_text(key) for key in scored.got - scored.expected),
                    }
                )
        return rows


def command_parser(out_dir: Path, labels: Sequence[str]) -> tuple[CommandParser, list[str]]:
    """The project's command parser, as the prepare run recorded it in ``params.yaml`` (``command_syntax``,
    ``rasa_version``, ``flow_ids``); for an output that records less, what the labels show, with a warning."""
    params = read_params(out_dir)
    warnings = []
    syntax = params.get("command_syntax")
    if syntax not in SYNTAXES:
        syntax = infer_syntax(labels)
        warnings.append(f"{PARAMS_FILE} records no command syntax: parsing as {syntax}, the syntax of the labels")
    version = str(params.get("rasa_version") or DEFAULT_RASA_VERSION)
    flow_ids = params.get("flow_ids")
    if not (isinstance(flow_ids, list) and all(isinstance(f, str) for f in flow_ids)):
        flow_ids = list(flows_in_labels(labels, syntax))
        warnings.append(f"{PARAMS_FILE} records no flows: an answer may start only the flows the labels start")
    return CommandParser(syntax, version, tuple(flow_ids)), warnings


def _origins(out_dir: Path) -> dict[str, tuple[str | None, str | None]]:
    """Prompt → (test case, user message), from ``llm_ft_data.jsonl`` (empty when it cannot be read)."""
    found: dict[str, tuple[str | None, str | None]] = {}
    try:
        with open(out_dir / FT_DATA_FILE, encoding="utf-8") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict) and isinstance(row.get("prompt"), str):
                    message = row.get("rephrased_user_utterance") or row.get("original_user_utterance")
                    found.setdefault(row["prompt"], (row.get("original_test_name"), message))
    except OSError:
        pass
    return found


_UNKNOWN: tuple[str | None, str | None] = (None, None)


def data_points(out_dir: Path, split: str = "val") -> list[DataPoint]:
    """The data points of one side of the split (``val`` or ``train``), with their origin where known."""
    relative = VAL_FILE if split == "val" else TRAIN_FILE
    path = Path(out_dir) / relative
    if not path.is_file():
        raise TrainSetupError(
            f"no prepared dataset in {out_dir}: {relative} is missing",
            hint="run pytest --cmdgen-prepare --cmdgen-out DIR first, and evaluate on that DIR",
        )
    numbered, _ = read_numbered_rows(path)
    origins = _origins(Path(out_dir))
    return [
        DataPoint(f"{path.name}:{number}", example.prompt, example.completion, *origins.get(example.prompt, _UNKNOWN))
        for number, example in numbered
    ]


def auto_max_new_tokens(tokenizer: Any, labels: Sequence[str]) -> int:
    """Twice the longest label in tokens, plus room for the end-of-turn token: an answer longer than that is
    wrong whatever follows, and a model that never stops costs no more than this per prompt."""
    longest = max((len(tokenizer(label, add_special_tokens=False)["input_ids"]) for label in labels), default=0)
    return max(2 * longest + 8, 16)


def _is_oom(exc: BaseException) -> bool:
    text = str(exc).lower()
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in text or "can't allocate memory" in text


def _run_model(
    label: str,
    model_dir: Path,
    points: Sequence[DataPoint],
    parser: CommandParser,
    *,
    base_model: str | None,
    without_adapter: bool,
    batch_size: int,
    max_new_tokens: int | None,
    device: str | None,
    say: Log,
    fit: bool,
) -> tuple[ModelEvaluation, int, list[DataPoint]]:
    """Answer ``points`` with one model; returns its evaluation, the token budget per answer and the data
    points answered: with ``fit``, those that fit the model's context with the budget, else all."""
    from pytest_cmdgen.trainer.inference import load_generation_model

    started = time.perf_counter()
    model = load_generation_model(model_dir, base_model=base_model, without_adapter=without_adapter, device=device)
    load_s = time.perf_counter() - started
    budget = max_new_tokens or auto_max_new_tokens(model.tokenizer, [p.label for p in points])
    if fit and model.max_context is not None:
        context = model.max_context
        points = [p for p in points if len(model.encode(p.prompt)) + budget <= context]
    say(f"{label}: {model.name} on {model.device}, {len(points)} data points, batches of {batch_size}")
    started = time.perf_counter()
    try:
        generations = model.generate([p.prompt for p in points], max_new_tokens=budget, batch_size=batch_size)
    except RuntimeError as exc:
        if _is_oom(exc):
            raise TrainError(
                f"out of memory while the {label} model answered in batches of {batch_size}",
                hint="lower the batch size (cmdgen-evaluate --batch-size)",
            ) from None
        raise
    finally:
        model.close()
    generate_s = time.perf_counter() - started
    scores = CommandScores()
    for point, generation in zip(points, generations, strict=True):
        scores.add(score(parser, point.label, generation.text))
    evaluation = ModelEvaluation(
        label=label,
        model=model.name,
        device=model.device,
        scores=scores,
        answers=[g.text for g in generations],
        latencies_s=[g.seconds for g in generations],
        output_tokens=sum(g.output_tokens for g in generations),
        truncated=sum(not g.stopped for g in generations),
        load_s=load_s,
        generate_s=generate_s,
    )
    return evaluation, budget, list(points)


def evaluate(
    out_dir: Path,
    model: Path | None = None,
    *,
    base: bool = False,
    base_model: str | None = None,
    batch_size: int = 8,
    max_new_tokens: int | None = None,
    split: str = "val",
    device: str | None = None,
    write: bool = True,
    log: Log | None = None,
) -> EvaluationResult:
    """Evaluate the model (default ``<out_dir>/model``) on the ``split`` side (``val``; ``train`` to check
    that a model learned its own data) of the prepare output ``out_dir``; write ``evaluation.json`` and
    ``evaluation_errors.jsonl`` into the evaluated model's directory (``<out_dir>/model/`` by default, the
    ``model`` directory when given: evaluating ``model/merged`` keeps the adapter's evaluation) unless
    ``write`` is false.

    ``base`` also evaluates the adapter's base model without the adapter. ``max_new_tokens`` defaults to
    twice the longest label (:func:`auto_max_new_tokens`). Raises
    :class:`~pytest_cmdgen.trainer.errors.TrainSetupError` (one line) for a missing split, an empty one or
    a model that cannot be loaded, :class:`~pytest_cmdgen.trainer.errors.TrainError` for out of memory.
    """
    out_dir = Path(out_dir)
    model_dir = Path(model) if model is not None else out_dir / outputs.MODEL_DIR
    say = log or _stderr
    if split not in ("val", "train"):
        raise TrainSetupError(f"unknown split {split!r}: val or train")
    points = data_points(out_dir, split)
    if not points:
        raise TrainSetupError(
            f"the {split} split of {out_dir} has no data point: nothing to evaluate",
            hint="lower --cmdgen-train-frac so that the val split gets data points",
        )
    from pytest_cmdgen.trainer.inference import resolve_model_source

    source = resolve_model_source(model_dir, base_model)  # fails before any weight is read
    if base and not source.is_adapter:
        raise TrainSetupError(f"{model_dir} is a full model, not an adapter: there is no base model to compare with")
    parser, warnings = command_parser(out_dir, [p.label for p in points])
    for warning in warnings:
        say(f"warning: {warning}")
    runs = [(FINE_TUNED, False)] + ([(BASE, True)] if base else [])
    evaluations: list[ModelEvaluation] = []
    budget, asked = max_new_tokens or 0, len(points)
    for label, without_adapter in runs:  # the first run decides the budget and the data points; the base follows
        evaluation, budget, points = _run_model(
            label,
            model_dir,
            points,
            parser,
            base_model=base_model,
            without_adapter=without_adapter,
            batch_size=batch_size,
            max_new_tokens=budget or None,
            device=device,
            say=say,
            fit=not evaluations,
        )
        evaluations.append(evaluation)
    if len(points) < asked:
        warnings.append(
            f"left out {asked - len(points)} data points whose prompt and answer budget ({budget} tokens) exceed "
            "the model's context"
        )
        say(f"warning: {warnings[-1]}")
    if not points:
        raise TrainSetupError("every data point is longer than the model's context: nothing was evaluated")
    result = EvaluationResult(split, parser, points, evaluations, batch_size, budget, warnings)
    result.left_out = asked - len(points)
    if write:
        result.files = write_evaluation(model_dir, result)
    return result


def write_evaluation(model_dir: Path, result: EvaluationResult) -> tuple[Path, Path]:
    """Write ``evaluation.json`` and ``evaluation_errors.jsonl`` atomically into ``model_dir``."""
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
        document = json.dumps(result.as_dict(), indent=2, ensure_ascii=False) + "\n"
        errors = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in result.error_rows())
        return (
            write_text_atomic(model_dir / EVALUATION_FILE, document),
            write_text_atomic(model_dir / ERRORS_FILE, errors),
        )
    except OSError as exc:
        raise CmdgenError(f"could not write the evaluation into {model_dir}: {exc}") from None


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def summary_line(evaluation: ModelEvaluation) -> str:
    """One model's result in a line: exact match, unparseable answers, micro F1, speed."""
    data = evaluation.as_dict()
    latency = data["latency_s"]
    return (
        f"{evaluation.label}: exact match {_percent(data['exact_match'])} ({data['exact_matches']}/"
        f"{data['data_points']}), unparseable {_percent(data['unparseable_share'])}, F1 {data['micro']['f1']:.3f}; "
        f"latency p50 {latency['p50']:.3f} s p95 {latency['p95']:.3f} s, {data['output_tokens_per_s']:,.1f} "
        f"output tokens/s, {data['data_points_per_s']:.2f} data points/s"
    )


def _command_names(result: EvaluationResult) -> list[str]:
    return sorted({name for evaluation in result.evaluations for name in evaluation.scores.per_type})


def render(result: EvaluationResult, stream: TextIO | None = None, rich: bool | None = None) -> None:
    """Show the result: a rich table on a terminal (or with ``rich=True``), plain lines otherwise."""
    stream = stream if stream is not None else sys.stderr
    use_rich = rich if rich is not None else stream.isatty()
    names = _command_names(result)
    if not use_rich:
        for evaluation in result.evaluations:
            print(f"cmdgen-evaluate: {summary_line(evaluation)}", file=stream)
            for name in names:
                counts = evaluation.scores.per_type.get(name)
                if counts is not None:
                    print(
                        f"cmdgen-evaluate:   {name}: P {counts.precision:.3f} R {counts.recall:.3f} "
                        f"F1 {counts.f1:.3f} (TP {counts.tp}, FP {counts.fp}, FN {counts.fn})",
                        file=stream,
                    )
        for path in result.files:
            print(f"cmdgen-evaluate: wrote {path}", file=stream)
        stream.flush()
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"command generator on the {result.split} split ({len(result.points)} data points)")
    table.add_column("command")
    table.add_column("support", justify="right")
    for evaluation in result.evaluations:
        table.add_column(f"{evaluation.label}\nF1 (P / R)", justify="right")

    def cell(counts: TypeCounts | None) -> str:
        return f"{counts.f1:.3f} ({counts.precision:.2f} / {counts.recall:.2f})" if counts is not None else "-"

    reference = result.evaluations[0].scores.per_type
    for name in names:
        support = reference[name].support if name in reference else 0
        table.add_row(name, str(support), *(cell(e.scores.per_type.get(name)) for e in result.evaluations))
    totals = [cell(e.scores.total) for e in result.evaluations]
    table.add_row("all", str(result.evaluations[0].scores.total.support), *totals, style="bold")
    table.add_row("exact match", "", *(_percent(e.scores.exact_match) for e in result.evaluations))
    table.add_row("unparseable", "", *(_percent(e.scores.unparseable / len(e.answers)) for e in result.evaluations))
    console = Console(file=stream)
    console.print(table)
    for evaluation in result.evaluations:
        console.print(summary_line(evaluation), highlight=False)
    for path in result.files:
        console.print(f"wrote {path}", highlight=False)


def _release_training_memory() -> None:
    """Free what the finished training run still holds (its model lingers in reference cycles) before the
    evaluation loads the model again: on a GPU the two would not fit side by side for a large base."""
    import gc

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def failure_line(exc: BaseException) -> str:
    """What went wrong in an evaluation, in one line: a :class:`~pytest_cmdgen.errors.CmdgenError`'s message,
    else (a failure of the model stack: out of memory while loading, a broken weights file) the exception's
    type and the first line of its message. The one place both ``cmdgen-evaluate`` and the evaluation after
    training turn an exception into their error line."""
    if isinstance(exc, CmdgenError):
        return str(exc)
    text = str(exc).strip()
    reason = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__


def evaluate_after_training(
    out_dir: Path, base: bool = False, log: Log | None = None, stream: TextIO | None = None
) -> EvaluationResult | None:
    """The evaluation that follows a finished training run (the pipeline's and ``cmdgen-train``'s): on the
    val split, shown with :func:`render`; None when the val split is empty (nothing to evaluate).

    Whatever goes wrong is one :class:`~pytest_cmdgen.trainer.errors.TrainError` line that says the trained
    model is kept and how to retry; nothing under ``<out>/model/`` but the evaluation files is touched.
    """
    out_dir = Path(out_dir)
    say = log or _stderr
    retry = f"the trained model is kept in {out_dir / outputs.MODEL_DIR}; retry with: cmdgen-evaluate {out_dir}"
    _release_training_memory()
    try:
        if not data_points(out_dir, "val"):
            say("no val data point: the model is not evaluated")
            return None
        result = evaluate(out_dir, base=base, log=say)
    except Exception as exc:  # one line, the adapter stays
        raise TrainError(f"evaluation failed: {failure_line(exc)}", hint=retry) from None
    render(result, stream)
    return result


__all__ = [
    "BASE",
    "ERRORS_FILE",
    "EVALUATION_FILE",
    "FINE_TUNED",
    "DataPoint",
    "EvaluationResult",
    "ModelEvaluation",
    "auto_max_new_tokens",
    "command_parser",
    "data_points",
    "evaluate",
    "evaluate_after_training",
    "failure_line",
    "render",
    "summary_line",
    "write_evaluation",
]
