"""Offline evaluation with real models: a tiny model trained to memorise a small split answers its own prompts
right while the untrained base does not (so the metric measures something), the files and the table say so,
``cmdgen-evaluate`` fails in one line, and an evaluation failure after training keeps the trained model."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from pytest_cmdgen.recipe.output import TRAIN_FILE, VAL_FILE
from pytest_cmdgen.trainer import TrainError, load_split
from pytest_cmdgen.trainer.evaluate import data_points, evaluate, evaluate_after_training, render
from pytest_cmdgen.trainer.evaluate_cli import main
from tests.trainer.conftest import copy_output, shared, tree

MEMORISE = 6
"""Data points of the memorised split: one per distinct answer. 20 steps of all six at once are enough for the
tiny model to answer each of its own prompts right (the untrained one answers none)."""
MEMORISE_TRAINING = """\
num_train_epochs: {epochs}
per_device_train_batch_size: {batch}
gradient_accumulation_steps: 1
learning_rate: 1.5e-2
warmup_steps: 0
lora_alpha: 32
gradient_checkpointing: false
max_length: 1024
eval_strategy: "no"
save_strategy: "no"
"""


@pytest.fixture(scope="session")
def memorised(tmp_path_factory: pytest.TempPathFactory, prepared: Path, tiny_model: Path) -> Path:
    """A prepare output whose train split is six data points with six different answers, and a LoRA adapter
    of the tiny model trained on them until it answers them (``model/``). Built once per session."""
    from pytest_cmdgen.trainer import resolve_train_config, train

    def build(root: Path) -> None:
        out = copy_output(prepared, root / "out")
        path = out / TRAIN_FILE
        rows, seen = [], set()
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["completion"] not in seen and len(rows) < MEMORISE:
                seen.add(row["completion"])
                rows.append(line + "\n")
        path.write_text("".join(rows), encoding="utf-8")
        config = root / "memorise.yml"
        config.write_text(MEMORISE_TRAINING.format(epochs=20, batch=MEMORISE))
        train(out, resolve_train_config(config, str(tiny_model)), log=lambda line: None, rich=False)

    return shared(tmp_path_factory, "memorised", build) / "out"


@pytest.fixture
def out(memorised: Path, tmp_path: Path) -> Path:
    return copy_output(memorised, tmp_path / "out")


def test_the_memorised_model_answers_its_prompts_and_the_untrained_base_does_not(out: Path) -> None:
    result = evaluate(out, split="train", base=True, batch_size=4, log=lambda line: None)
    tuned, base = result.get("fine-tuned"), result.get("base")
    assert tuned is not None and base is not None
    assert tuned.scores.exact_match >= 5 / 6, tuned.answers
    assert base.scores.exact_matches == 0 and base.scores.unparseable >= 4, base.answers

    document = json.loads((out / "model" / "evaluation.json").read_text())
    assert (document["split"], document["data_points"], document["left_out_too_long"]) == ("train", 6, 0)
    assert (document["command_syntax"], document["rasa_version"]) == ("v1", "3.10")  # recorded by the prepare run
    assert document["batch_size"] == 4 and document["max_new_tokens"] >= 16
    assert list(document["models"]) == ["fine-tuned", "base"]
    fine = document["models"]["fine-tuned"]
    assert fine["exact_matches"] == tuned.scores.exact_matches and fine["model"].startswith(str(out / "model"))
    assert set(fine["per_command"]) >= {"StartFlow", "SetSlot"}
    assert fine["micro"]["f1"] > document["models"]["base"]["micro"]["f1"]
    assert 0 < fine["latency_s"]["p50"] <= fine["latency_s"]["p95"]
    assert fine["output_tokens_per_s"] > 0 and fine["data_points_per_s"] > 0 and fine["truncated"] == 0

    errors = [json.loads(line) for line in (out / "model" / "evaluation_errors.jsonl").read_text().splitlines()]
    assert [row["model"] for row in errors].count("base") == 6
    assert [row["model"] for row in errors].count("fine-tuned") == 6 - tuned.scores.exact_matches
    labels = [example.completion for example in load_split(out).train]
    for row in errors:
        line = int(row["id"].split(":")[1])
        assert row["id"] == f"train.jsonl:{line}" and row["expected"] == labels[line - 1]
        assert row["test"].startswith("car_rental/tests/") and row["user_message"]
    assert any(row["unparseable"] and row["missing"] and row["extra"] == ["CannotHandle()"] for row in errors)

    plain = io.StringIO()
    render(result, plain, rich=False)
    lines = plain.getvalue().splitlines()
    assert lines[0].startswith(f"cmdgen-evaluate: fine-tuned: exact match {100 * tuned.scores.exact_match:.1f}% (")
    assert any(line.startswith("cmdgen-evaluate:   StartFlow: P ") for line in lines)
    assert any(line.startswith("cmdgen-evaluate: base: exact match 0.0% (0/6)") for line in lines)
    assert lines[-1] == f"cmdgen-evaluate: wrote {out / 'model' / 'evaluation_errors.jsonl'}"
    table = io.StringIO()
    render(result, table, rich=True)
    shown = table.getvalue()
    for fragment in ("train split (6 data points)", "fine-tuned", "base", "F1 (P / R)", "StartFlow", "exact match"):
        assert fragment in shown
    assert f"│ {100 * tuned.scores.exact_match:.1f}% │ 0.0% │" in " ".join(shown.split())


def test_cmdgen_evaluate_on_the_val_split_and_its_one_line_errors(
    out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main([str(out), "--batch-size", "2"]) == 0
    err = capsys.readouterr().err
    assert "cmdgen-evaluate: fine-tuned: " in err and "base:" not in err  # evaluate_base is off in its config
    document = json.loads((out / "model" / "evaluation.json").read_text())
    assert (document["split"], document["data_points"]) == ("val", len(load_split(out).val))

    def fails(*args: str) -> str:
        assert main([str(a) for a in args]) == 1
        lines = [line for line in capsys.readouterr().err.splitlines() if line]
        assert len(lines) == 1 and lines[0].startswith("cmdgen-evaluate: error: "), lines
        return lines[0]

    adapter_evaluation = (out / "model" / "evaluation.json").read_bytes()
    other = tmp_path / "other_model"  # --model: the evaluation goes beside that model, the adapter's stays
    shutil.copytree(out / "model", other, ignore=shutil.ignore_patterns("evaluation*", "checkpoints", "serve"))
    assert main([str(out), "--model", str(other), "--batch-size", "2"]) == 0
    assert f"cmdgen-evaluate: wrote {other / 'evaluation.json'}" in capsys.readouterr().err
    assert json.loads((other / "evaluation.json").read_text())["models"]["fine-tuned"]["model"].startswith(str(other))
    assert (other / "evaluation_errors.jsonl").is_file()
    assert (out / "model" / "evaluation.json").read_bytes() == adapter_evaluation

    assert f"model '{tmp_path / 'nowhere'}' not found" in fails(out, "--model", tmp_path / "nowhere")
    assert "is a full model, not an adapter" in fails(out, "--model", load_base(out), "--base")
    (out / VAL_FILE).write_text("")
    assert "the val split of" in fails(out) and "has no data point: nothing to evaluate" in fails(out)
    assert "no prepared dataset in" in fails(tmp_path)


def test_cmdgen_evaluate_on_a_broken_model_is_one_error_line_without_a_traceback(
    out: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    weights = out / "model" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # not a CmdgenError: the model stack fails to load it
    assert main([str(out)]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("cmdgen-evaluate: error: "), lines
    assert "Traceback" not in err


def test_a_row_with_a_unicode_line_separator_keeps_its_line_number(tmp_path: Path) -> None:
    """JSONL rows are written with ensure_ascii=False: U+2028, U+2029 and U+0085 stay raw inside a row, and
    ``str.splitlines`` would split there."""
    path = tmp_path / VAL_FILE
    path.parent.mkdir(parents=True)
    rows = [
        {"prompt": "first line\u2028second\u2029third\u0085fourth", "completion": "StartFlow(a)"},
        {"prompt": "plain", "completion": "SetSlot(b, c)"},
    ]
    path.write_text(
        json.dumps(rows[0], ensure_ascii=False) + "\n\n" + json.dumps(rows[1], ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    assert "\u2028" in path.read_text(encoding="utf-8")  # written raw, as the prepare run writes it
    points = data_points(tmp_path)
    assert [(p.id, p.prompt, p.label) for p in points] == [
        ("val.jsonl:1", rows[0]["prompt"], "StartFlow(a)"),
        ("val.jsonl:3", "plain", "SetSlot(b, c)"),
    ]


def load_base(out: Path) -> str:
    return json.loads((out / "model" / "adapter_config.json").read_text())["base_model_name_or_path"]


def test_a_failed_evaluation_after_training_is_one_line_and_keeps_the_model(out: Path) -> None:
    weights = out / "model" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # as if the disk had filled up
    before = tree(out)
    with pytest.raises(TrainError) as raised:
        evaluate_after_training(out, log=lambda line: None)
    message = str(raised.value)
    assert message.startswith("evaluation failed: ") and "\n" not in message
    assert f"the trained model is kept in {out / 'model'}; retry with: cmdgen-evaluate {out}" in message
    assert tree(out) == before


def test_prompts_longer_than_the_models_context_are_left_out(out: Path) -> None:
    from transformers import AutoTokenizer

    from pytest_cmdgen.trainer import chat_format, prompt_ids

    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    fmt = chat_format(tokenizer)
    lengths = sorted(len(prompt_ids(tokenizer, fmt, e.prompt)) for e in load_split(out).train)
    budget = 2048 - lengths[2]  # the tiny model's context is 2048 tokens: the three longest prompts do not fit
    result = evaluate(out, split="train", max_new_tokens=budget, write=False, log=lambda line: None)
    assert result.left_out == sum(1 for n in lengths if n > lengths[2]) > 0
    assert len(result.points) == 6 - result.left_out
    assert f"whose prompt and answer budget ({budget} tokens) exceed the model's context" in result.warnings[-1]


def test_the_pipelines_evaluate_step_scores_the_trained_model_and_a_failure_is_one_error_line(
    out: Path, tmp_path: Path
) -> None:
    from pytest_cmdgen.session import Evaluate, Pipeline, PipelineContext, SessionConfig, SessionResults
    from pytest_cmdgen.trainer.run import TrainResult

    def context() -> PipelineContext:
        step = PipelineContext(SessionConfig(rootdir=tmp_path), SessionResults(), engine=None)  # type: ignore[arg-type]
        step.written, step.trained = out, TrainResult(out / "model", None, "transformers", {})
        return step

    untrained = context()
    untrained.trained = None  # nothing trained: nothing to evaluate
    assert Pipeline((Evaluate(),)).run(untrained).steps_run == ["evaluate"] and untrained.evaluation is None
    done = Pipeline((Evaluate(),)).run(context())
    assert done.errors == [] and done.evaluation is not None
    assert [e.label for e in done.evaluation.evaluations] == ["fine-tuned"]
    assert (out / "model" / "evaluation.json").is_file()

    weights = out / "model" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    failed = Pipeline((Evaluate(),)).run(context())
    assert len(failed.errors) == 1 and failed.errors[0].startswith("evaluate: evaluation failed: ")
    assert f"the trained model is kept in {out / 'model'}" in failed.errors[0]
    assert (out / "model" / "adapter_config.json").is_file() and weights.is_file()
