"""What a run reports and leaves behind, from plain data: curves, figures, the serving command, progress."""

from __future__ import annotations

import io
from pathlib import Path

from pytest_cmdgen.trainer import TrainConfig
from pytest_cmdgen.trainer.outputs import RunFigures, loss_curves, metrics_document, model_card, serve_command
from pytest_cmdgen.trainer.progress import ProgressView

HISTORY = [
    {"loss": 3.0, "step": 1, "epoch": 0.5},
    {"loss": 2.0, "step": 2, "epoch": 1.0},
    {"eval_loss": 2.5, "step": 2, "epoch": 1.0},
    {"train_runtime": 4.0, "step": 2, "epoch": 1.0},
]


def _figures(**changes: object) -> RunFigures:
    values: dict[str, object] = dict(
        backend="transformers", device="cpu (1 thread)", processes=1, train_examples=10, val_examples=2,
        too_long=1, train_tokens=3000, runtime_s=4.0, start_step=0, end_step=2, start_epoch=0.0, end_epoch=1.0,
        peak_gpu_memory_gb=None, peak_rss_mb=512.0,
    )  # fmt: skip
    values.update(changes)
    return RunFigures(**values)  # type: ignore[arg-type]


def test_the_curves_and_the_rates_come_from_the_log_history() -> None:
    train, val = loss_curves(HISTORY)
    assert train == [{"step": 1, "epoch": 0.5, "loss": 3.0}, {"step": 2, "epoch": 1.0, "loss": 2.0}]
    assert val == [{"step": 2, "epoch": 1.0, "loss": 2.5}]
    document = metrics_document(HISTORY, _figures(), total_steps=2)
    assert (document["train_examples_per_s"], document["train_tokens_per_s"]) == (2.5, 750.0)
    # After a resume, the rates count only the epochs this run covered.
    resumed = metrics_document(HISTORY, _figures(start_step=1, start_epoch=0.5), total_steps=2)
    assert (resumed["train_examples_per_s"], resumed["resumed_from_step"]) == (1.25, 1)


def test_a_lora_rank_above_vllms_default_is_carried_into_the_serving_command() -> None:
    assert "--max-lora-rank" not in serve_command(TrainConfig(r=16), Path("/m"))
    command = serve_command(TrainConfig(r=64, max_length=2048), Path("/out/model"))
    assert command == (
        "vllm serve meta-llama/Llama-3.1-8B-Instruct --enable-lora --lora-modules cmdgen=/out/model "
        "--max-model-len 2048 --max-lora-rank 64"
    )


def test_the_model_card_names_base_data_figures_and_configuration() -> None:
    document = metrics_document(HISTORY, _figures(), total_steps=2)
    counts = {"train": {"SetSlot": 7, "StartFlow": 3}, "val": {"SetSlot": 2}}
    card = model_card(TrainConfig(r=32), Path("/out/model"), _figures(), document, counts, merged=True)
    assert card.startswith("---\nbase_model: meta-llama/Llama-3.1-8B-Instruct\nlibrary_name: peft\n")
    for expected in (
        "- train: 10 data points (3,000 tokens)",
        "- left out: 1 data points longer than max_length 4096",
        "| `SetSlot` | 7 | 2 |",
        "| `StartFlow` | 3 | 0 |",
        "- train loss: 3.0000 at step 1 → 2.0000",
        "--max-lora-rank 32",
        "The merged 16-bit model is in `merged/`",
        "r: 32",
    ):
        assert expected in card


def test_progress_is_a_line_per_log_in_a_pipe_and_a_bar_on_a_terminal() -> None:
    plain = io.StringIO()
    view = ProgressView(10, stream=plain)
    view.start(0)
    view.log(5, 1.0, {"loss": 1.23456})
    view.log(5, 1.0, {"eval_loss": 2.5})
    view.stop()
    lines = plain.getvalue().splitlines()
    assert lines[0] == "cmdgen-train: training: 10 steps"
    assert lines[1].startswith("cmdgen-train: step 5/10 epoch 1.00 loss 1.2346 (") and lines[1].endswith(" left)")
    assert lines[2] == "cmdgen-train: step 5/10 epoch 1.00 val loss 2.5000"

    terminal = io.StringIO()
    bar = ProgressView(10, stream=terminal, rich=True)
    bar.start(4)
    bar.step(5)
    bar.log(5, 1.0, {"loss": 0.5})
    bar.stop()
    shown = terminal.getvalue()
    assert "train" in shown and "5/10" in shown and "loss 0.5000" in shown
