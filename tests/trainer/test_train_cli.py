"""``cmdgen-train`` on an existing prepare output: Ctrl-C and resume, and one clear line for every setup
that cannot train (never a traceback, the dataset untouched, no model written)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_cmdgen.recipe.output import TRAIN_FILE
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from pytest_cmdgen.trainer import main
from tests.trainer.conftest import (
    FAST_TRAINING,
    copy_car_rental,
    copy_output,
    one_error_line,
    refusing,
    run_cli,
    run_pytest,
    training_env,
    tree,
)


@pytest.fixture
def out(prepared: Path, tmp_path: Path) -> Path:
    return copy_output(prepared, tmp_path / "out")


def _fails_cleanly(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    line = one_error_line(result.stderr)
    for fragment in fragments:
        assert fragment in line
    return line


def test_ctrl_c_keeps_a_checkpoint_and_resume_finishes_the_run(
    out: Path,
    tiny_model: Path,
    tmp_path: Path,
    in_process: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # In this process: the user presses Ctrl-C (a real SIGINT to this process) once step 1 is shown.
    from pytest_cmdgen.trainer.progress import ProgressView

    show_step, usual_handler = ProgressView.step, signal.getsignal(signal.SIGINT)

    def step_then_ctrl_c(view: ProgressView, step: int) -> None:
        show_step(view, step)
        if step == 1:
            assert signal.getsignal(signal.SIGINT) is not usual_handler  # training holds Ctrl-C
            os.kill(os.getpid(), signal.SIGINT)

    config = tmp_path / "long.yml"
    config.write_text(FAST_TRAINING.format(epochs=40) + "logging_steps: 1\n")
    with monkeypatch.context() as patch:
        patch.setattr(ProgressView, "step", step_then_ctrl_c)
        assert main([str(out), "--config", str(config), "--base-model", str(tiny_model)]) == 130
    assert signal.getsignal(signal.SIGINT) is usual_handler  # given back
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("stopping after this step (Ctrl-C again to abort)") == 1
    message = err.strip().splitlines()[-1]
    stopped_at = int(message.split("interrupted at step ", 1)[1].split(" ", 1)[0])
    assert 1 <= stopped_at < 200
    assert f"checkpoint kept in {out}/model/checkpoints/checkpoint-{stopped_at}" in message
    assert f"resume with: cmdgen-train {out} --resume --config {config} --base-model {tiny_model}" in message
    assert not (out / "model" / "metrics.json").exists()  # an interrupted run is not a finished model

    # Resume (in this process), asking for 1 epoch in all now (5 steps): the run continues where it stopped.
    short = tmp_path / "short.yml"
    short.write_text("num_train_epochs: 1\n")
    assert main([str(out), "--resume", "--config", str(short)]) == 0
    assert f"resuming from checkpoint-{stopped_at}" in capsys.readouterr().err
    metrics = json.loads((out / "model" / "metrics.json").read_text())
    assert (metrics["resumed_from_step"], metrics["global_step"]) == (stopped_at, 5)
    assert [p["step"] for p in metrics["train_loss"]] == list(range(1, 6))


def test_show_example_marks_what_carries_loss(
    out: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main([str(out), "--base-model", str(tiny_model), "--show-example", "0"]) == 0
    shown = capsys.readouterr().out
    first = json.loads((out / TRAIN_FILE).read_text().splitlines()[0])
    assert "(end of turn: <|im_end|>)" in shown
    assert shown.rstrip().endswith(f"<|im_start|>assistant\n[[{first['completion']}<|im_end|>]]")
    assert main([str(out), "--base-model", str(tiny_model), "--show-example", "999"]) == 1
    assert "no train example 999: the train split has 39" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config_text", "env_change", "fragments"),
    [
        (
            "",
            {"HF_HOME": "{tmp}/empty-hf-home"},
            ["base model 'meta-llama/Llama-3.1-8B-Instruct' not found", "HF_HUB_OFFLINE", "hf download"],
        ),
        ("model_name_or_path: ./no/such/model\n", {}, ["base model './no/such/model' not found: no such directory"]),
        ("lora_rank: 8\n", {}, ["train.yml:1:1: lora_rank: unknown key; valid keys are model_name_or_path"]),
        ("early_stopping_patience: 2\n", {"EMPTY_VAL": "1"}, ["early_stopping_patience needs a validation split"]),
    ],
    ids=["hub-model-offline", "missing-directory", "unknown-key", "early-stop-no-val"],
)
def test_what_cannot_train_here_is_one_line_and_touches_nothing(
    out: Path, tiny_model: Path, tmp_path: Path, config_text: str, env_change: dict[str, str], fragments: list[str]
) -> None:
    config = tmp_path / "train.yml"
    config.write_text(config_text or "seed: 1\n")
    if env_change.pop("EMPTY_VAL", None):
        (out / "4_train_test_split" / "ft_splits" / "val.jsonl").write_text("")
    before = tree(out)
    base = [] if config_text == "" or "model_name_or_path" in config_text else ["--base-model", tiny_model]
    env = training_env(**{key: value.replace("{tmp}", str(tmp_path)) for key, value in env_change.items()})
    result = run_cli(out, "--config", config, *base, cwd=tmp_path, env=env)
    _fails_cleanly(result, *fragments)
    assert tree(out) == before


def test_a_missing_extra_is_named_with_the_install_command(out: Path, tiny_model: Path, tmp_path: Path) -> None:
    before = tree(out)
    result = run_cli(out, "--base-model", tiny_model, cwd=tmp_path, env=refusing(tmp_path, "trl"))
    _fails_cleanly(result, "training needs trl, which is not installed", "pip install 'pytest-cmdgen[train]'")
    assert tree(out) == before


def test_an_empty_train_split_and_a_resume_without_checkpoint(out: Path, tiny_model: Path, tmp_path: Path) -> None:
    result = run_cli(out, "--base-model", tiny_model, "--resume", cwd=tmp_path)
    _fails_cleanly(result, "nothing to resume: no checkpoint in")
    (out / TRAIN_FILE).write_text("")
    result = run_cli(out, "--base-model", tiny_model, cwd=tmp_path)
    _fails_cleanly(result, "the train split is empty")
    assert not (out / "model").exists()


def test_pytest_stops_before_any_test_when_training_cannot_work(
    tmp_path: Path, scripted_llm: ScriptedLLMServer
) -> None:
    copy_car_rental(tmp_path / "car_rental")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pytest(tmp_path, scripted_llm, *args)

    missing = run("--cmdgen-prepare", "--cmdgen-train", "--cmdgen-base-model", "./no/such/model")
    assert missing.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--cmdgen-train: model_name_or_path: base model './no/such/model' not found" in missing.stderr
    without_prepare = run("--cmdgen-train")
    assert without_prepare.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--cmdgen-train trains on the dataset --cmdgen-prepare writes" in without_prepare.stderr
    assert "Traceback" not in missing.stderr + without_prepare.stderr
    assert "passed" not in missing.stdout + without_prepare.stdout  # no test ran, no LLM call was paid for
    assert not (tmp_path / "cmdgen_output").exists()


def test_data_parallel_training_on_two_cpu_processes_writes_once(out: Path, tiny_model: Path, tmp_path: Path) -> None:
    config = tmp_path / "train.yml"
    config.write_text(FAST_TRAINING.format(epochs=1))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "pytest_cmdgen.trainer",
            str(out),
            "--config",
            str(config),
            "--base-model",
            str(tiny_model),
        ],
        cwd=tmp_path,
        env=training_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Each step takes a batch of 8 on each of the 2 processes: 3 steps per epoch over 39 data points, not 5.
    # (At every step end the ranks also agree, by an all-reduce, on whether any of them saw a Ctrl-C.)
    assert "rank 1 of 2: 3 steps done (rank 0 writes the outputs)" in result.stderr
    assert result.stderr.count("cmdgen-train: done: 3 steps") == 1
    metrics = json.loads((out / "model" / "metrics.json").read_text())
    assert (metrics["processes"], metrics["global_step"], metrics["epochs"]) == (2, 3, 1.0)
    assert [p["step"] for p in metrics["val_loss"]] == [3]
    assert (out / "model" / "adapter_model.safetensors").is_file()
    assert sorted(p.name for p in (out / "model" / "checkpoints").glob("checkpoint-*")) == ["checkpoint-3"]
