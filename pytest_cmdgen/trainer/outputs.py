"""What a finished run leaves under ``<out>/model/`` besides the adapter: ``metrics.json``, ``loss.png``
(when matplotlib is installed) and the model card ``README.md``; and how the model is served.

Everything here works on plain data (the trainer's ``log_history``, counts, the configuration), so it
imports nothing heavy except matplotlib, and that only to draw the curves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_cmdgen.trainer.train_config import TrainConfig, config_yaml

MODEL_DIR = "model"
"""The model's directory inside a prepare output."""
CHECKPOINTS_DIR = "checkpoints"
"""Checkpoints (what ``--resume`` continues from), inside :data:`MODEL_DIR`."""
MERGED_DIR = "merged"
"""The merged 16-bit model (``merge: true``), inside :data:`MODEL_DIR`."""
CONFIG_FILE = "train_config.yaml"
METRICS_FILE = "metrics.json"
PLOT_FILE = "loss.png"
CARD_FILE = "README.md"

VLLM_DEFAULT_MAX_LORA_RANK = 16
"""vLLM refuses a LoRA adapter of a higher rank unless ``--max-lora-rank`` says otherwise."""
VLLM_MAX_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
"""The values vLLM's ``--max-lora-rank`` accepts (``vllm.config.lora.MaxLoRARanks``)."""
ADAPTER_NAME = "cmdgen"
"""The name vLLM serves the adapter under (``--lora-modules cmdgen=...``): the model a client asks for."""


@dataclass(frozen=True)
class RunFigures:
    """What a run measured, beyond its loss curves."""

    backend: str
    device: str
    processes: int
    """Data-parallel processes (``accelerate launch`` / ``torchrun``); 1 without."""
    train_examples: int
    val_examples: int
    too_long: int
    train_tokens: int
    runtime_s: float
    start_step: int
    end_step: int
    start_epoch: float
    end_epoch: float
    peak_gpu_memory_gb: float | None
    peak_rss_mb: float | None

    @property
    def epochs_run(self) -> float:
        """Epochs this run covered (less than the total after a resume)."""
        return max(self.end_epoch - self.start_epoch, 0.0)

    @property
    def examples_per_s(self) -> float:
        """Train examples per second, this run."""
        return self.epochs_run * self.train_examples / self.runtime_s if self.runtime_s > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        """Train tokens (prompt + completion, no padding) per second, this run."""
        return self.epochs_run * self.train_tokens / self.runtime_s if self.runtime_s > 0 else 0.0


def loss_curves(log_history: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Train and val loss per logged step, from ``trainer.state.log_history``."""
    train, val = [], []
    for entry in log_history:
        point = {"step": int(entry.get("step", 0)), "epoch": float(entry.get("epoch") or 0.0)}
        if "loss" in entry:
            train.append({**point, "loss": float(entry["loss"])})
        if "eval_loss" in entry:
            val.append({**point, "loss": float(entry["eval_loss"])})
    return train, val


def metrics_document(
    log_history: Sequence[Mapping[str, Any]], figures: RunFigures, total_steps: int, interrupted: bool = False
) -> dict[str, Any]:
    """The content of ``metrics.json``."""
    train, val = loss_curves(log_history)
    return {
        "train_loss": train,
        "val_loss": val,
        "epochs": round(figures.end_epoch, 4),
        "global_step": figures.end_step,
        "total_steps": total_steps,
        "resumed_from_step": figures.start_step or None,
        "runtime_s": round(figures.runtime_s, 3),
        "train_examples_per_s": round(figures.examples_per_s, 4),
        "train_tokens_per_s": round(figures.tokens_per_s, 2),
        "train_examples": figures.train_examples,
        "val_examples": figures.val_examples,
        "left_out_too_long": figures.too_long,
        "train_tokens": figures.train_tokens,
        "peak_gpu_memory_gb": figures.peak_gpu_memory_gb,
        "peak_rss_mb": figures.peak_rss_mb,
        "backend": figures.backend,
        "device": figures.device,
        "processes": figures.processes,
        "interrupted": interrupted,
    }


def write_metrics(model_dir: Path, document: Mapping[str, Any]) -> Path:
    """Write ``metrics.json``."""
    path = model_dir / METRICS_FILE
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def plot_losses(model_dir: Path, document: Mapping[str, Any]) -> Path | None:
    """Draw ``loss.png`` (train and val loss against the step); None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(figsize=(7, 4))
    for key, label, style in (("train_loss", "train", "-"), ("val_loss", "val", "o--")):
        points = document.get(key) or []
        if points:
            axes.plot([p["step"] for p in points], [p["loss"] for p in points], style, label=label)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title("command generator fine-tuning")
    axes.legend()
    axes.grid(alpha=0.3)
    path = model_dir / PLOT_FILE
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def vllm_max_lora_rank(r: int) -> int | None:
    """The ``--max-lora-rank`` that serves an adapter of rank ``r``: the smallest value vLLM accepts that is at
    least ``r``; None when vLLM's default (16) does."""
    if r <= VLLM_DEFAULT_MAX_LORA_RANK:
        return None
    return next((value for value in VLLM_MAX_LORA_RANKS if value >= r), r)


def serve_command(config: TrainConfig, model_dir: Path | str, base: str | None = None) -> str:
    """The vLLM command that serves the base model with this adapter (the adapter's rank carried over);
    ``base`` replaces the configured base model's name (say, its absolute path)."""
    parts = [
        f"vllm serve {base or config.model_name_or_path}",
        "--enable-lora",
        f"--lora-modules {ADAPTER_NAME}={model_dir}",
        f"--max-model-len {config.max_length}",
    ]
    rank = vllm_max_lora_rank(config.r)
    if rank is not None:
        parts.append(f"--max-lora-rank {rank}")
    return " ".join(parts)


def model_card(
    config: TrainConfig,
    model_dir: Path,
    figures: RunFigures,
    document: Mapping[str, Any],
    command_counts: Mapping[str, Mapping[str, int]],
    merged: bool,
) -> str:
    """The model card ``README.md``: base model, data, configuration, figures, how to serve it."""
    train, val = document.get("train_loss") or [], document.get("val_loss") or []
    lines = [
        "---",
        f"base_model: {config.model_name_or_path}",
        "library_name: peft",
        "tags: [rasa, calm, command-generator, lora, pytest-cmdgen]",
        "---",
        "",
        "# Command generator for a Rasa CALM assistant",
        "",
        f"A LoRA adapter (rank {config.r}) on `{config.model_name_or_path}`, fine-tuned by pytest-cmdgen on the "
        "prompts of the assistant's command generator and the commands its passing E2E tests produced.",
        "",
        "## Data",
        "",
        f"- train: {figures.train_examples} data points ({figures.train_tokens:,} tokens)",
        f"- val: {figures.val_examples} data points",
    ]
    if figures.too_long:
        lines.append(f"- left out: {figures.too_long} data points longer than max_length {config.max_length}")
    lines += ["", "| command | train | val |", "|---|---|---|"]
    train_counts, val_counts = command_counts.get("train", {}), command_counts.get("val", {})
    for name in sorted(set(train_counts) | set(val_counts)):
        lines.append(f"| `{name}` | {train_counts.get(name, 0)} | {val_counts.get(name, 0)} |")
    lines += [
        "",
        "## Results",
        "",
        f"- back-end: {figures.backend} on {figures.device}"
        + (f" × {figures.processes} processes" if figures.processes > 1 else ""),
        f"- steps: {figures.end_step} ({figures.end_epoch:.2f} epochs)",
    ]
    if train:
        lines.append(f"- train loss: {train[0]['loss']:.4f} at step {train[0]['step']} → {train[-1]['loss']:.4f}")
    if val:
        lines.append(f"- val loss: {val[0]['loss']:.4f} → {val[-1]['loss']:.4f}")
    lines.append(
        f"- this run: {figures.runtime_s:.1f} s, {figures.examples_per_s:.2f} examples/s, "
        f"{figures.tokens_per_s:,.0f} tokens/s"
    )
    if figures.peak_gpu_memory_gb is not None:
        lines.append(f"- peak GPU memory: {figures.peak_gpu_memory_gb:.2f} GB")
    lines += [
        "",
        "## Serving",
        "",
        "```",
        serve_command(config, model_dir),
        "```",
        "",
    ]
    if merged:
        lines += [f"The merged 16-bit model is in `{MERGED_DIR}/` (serve it without `--enable-lora`).", ""]
    lines += [
        "`serve/vllm.sh` runs this command. In the assistant's `config.yml`, point the command generator at it "
        "(`serve/config.yml`, and `serve/endpoints.yml` for a model group, are ready to paste):",
        "",
        "```yaml",
        "llm:",
        "  provider: self-hosted",
        f"  model: {ADAPTER_NAME}",
        "  api_base: http://localhost:8000/v1",
        "```",
        "",
        "## Configuration",
        "",
        "```yaml",
        config_yaml(config).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


__all__ = [
    "CARD_FILE",
    "CHECKPOINTS_DIR",
    "CONFIG_FILE",
    "MERGED_DIR",
    "METRICS_FILE",
    "MODEL_DIR",
    "PLOT_FILE",
    "ADAPTER_NAME",
    "VLLM_MAX_LORA_RANKS",
    "RunFigures",
    "loss_curves",
    "metrics_document",
    "model_card",
    "plot_losses",
    "serve_command",
    "vllm_max_lora_rank",
    "write_metrics",
]
