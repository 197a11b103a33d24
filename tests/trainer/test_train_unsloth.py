"""The unsloth back-end (``FastLanguageModel``), chosen by ``backend: auto`` on a CUDA machine with unsloth.

It runs only where CUDA and unsloth are present; elsewhere it is skipped with that reason (the machine
cannot run it; the transformers back-end is tested everywhere)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.trainer.conftest import FAST_TRAINING, copy_output, run_cli


def _cuda() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


MACHINE_LACKS = (
    "the unsloth back-end needs a CUDA GPU and the unsloth package (pytest-cmdgen[gpu]); this machine lacks one"
)


def test_auto_picks_unsloth_on_a_gpu_and_trains_merges_and_reloads(
    prepared: Path, tiny_model: Path, tmp_path: Path
) -> None:
    if not (importlib.util.find_spec("unsloth") is not None and _cuda()):
        pytest.skip(MACHINE_LACKS)
    out = copy_output(prepared, tmp_path / "out")
    config = tmp_path / "train.yml"
    config.write_text(FAST_TRAINING.format(epochs=3) + "merge: true\n")
    result = run_cli(out, "--config", config, "--base-model", tiny_model, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "model" / "metrics.json").read_text())
    assert metrics["backend"] == "unsloth" and metrics["peak_gpu_memory_gb"] > 0
    losses = [p["loss"] for p in metrics["train_loss"]]
    assert losses[-1] < losses[0]
    assert (out / "model" / "adapter_model.safetensors").is_file()
    assert (out / "model" / "merged" / "config.json").is_file()
