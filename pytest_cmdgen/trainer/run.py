"""One training run on a prepare output: :func:`train` (the library call the pipeline and the CLI make).

Order matters for the "clear failures, dataset untouched" promise: everything that can be checked without
loading weights is checked first (the ``train`` extra, the split, the base model's whereabouts, the
back-end and quantization against this machine); ``<out>/model/`` is only replaced once the model and
the examples are ready. Only the main process (rank 0 under ``accelerate launch``/``torchrun``) writes.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_cmdgen.trainer import outputs
from pytest_cmdgen.trainer.base_model import load_model, load_tokenizer, locate_base_model, set_stop_tokens
from pytest_cmdgen.trainer.chat import ChatFormat, EncodedSplit, chat_format, encode_all
from pytest_cmdgen.trainer.data import Split, command_counts, load_split
from pytest_cmdgen.trainer.environment import (
    check_quantization,
    check_report_to,
    check_training_stack,
    choose_backend,
    cuda_available,
)
from pytest_cmdgen.trainer.errors import TrainError, TrainInterrupted, TrainSetupError
from pytest_cmdgen.trainer.progress import REPEAT_WINDOW_S, ProgressView, StopRequest, trainer_callbacks, under_launcher
from pytest_cmdgen.trainer.serve import write_serve_files
from pytest_cmdgen.trainer.train_config import TrainConfig, config_yaml, plan_schedule, resolve_train_config

Log = Callable[[str], None]


def _stderr(text: str) -> None:
    print(f"cmdgen-train: {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class TrainResult:
    """What a finished run produced."""

    model_dir: Path
    """The adapter and its tokenizer, ``train_config.yaml``, ``metrics.json``, ``loss.png``, ``README.md``."""
    merged_dir: Path | None
    backend: str
    metrics: dict[str, Any]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def train_losses(self) -> list[float]:
        """The logged train losses, in step order."""
        return [point["loss"] for point in self.metrics["train_loss"]]


def model_dir_of(out_dir: Path) -> Path:
    """Where a prepare output's model lives."""
    return Path(out_dir) / outputs.MODEL_DIR


def last_checkpoint(model_dir: Path) -> Path | None:
    """The newest ``checkpoints/checkpoint-N`` with a trainer state (what a resume continues from)."""
    root = model_dir / outputs.CHECKPOINTS_DIR
    found = [
        (int(path.name.split("-", 1)[1]), path)
        for path in root.glob("checkpoint-*")
        if path.name.split("-", 1)[1].isdigit() and (path / "trainer_state.json").is_file()
    ]
    return max(found)[1] if found else None


def config_for_run(
    out_dir: Path, config_file: Path | None = None, base_model: str | None = None, resume: bool = False
) -> TrainConfig:
    """The configuration of a run: on resume, the one saved when the run started (then ``config_file`` and
    ``base_model`` on top); otherwise the defaults, ``config_file``, then ``base_model``."""
    saved = model_dir_of(out_dir) / outputs.CONFIG_FILE
    base = resolve_train_config(saved) if resume and saved.is_file() else None
    return resolve_train_config(config_file, base_model, base)


def resume_command(out_dir: Path, config_file: Path | None = None, base_model: str | None = None) -> str:
    """The shell command that resumes a run on ``out_dir``."""
    parts = ["cmdgen-train", str(out_dir), "--resume"]
    if config_file is not None:
        parts += ["--config", str(config_file)]
    if base_model:
        parts += ["--base-model", base_model]
    return shlex.join(parts)


def _rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def is_main_process() -> bool:
    """Whether this process writes the outputs (rank 0, or the only process)."""
    return _rank() == 0


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def quiet_libraries() -> None:
    """No progress bars or info logs from datasets/transformers: our own display says what happens."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _device(cuda: bool) -> str:
    import torch

    if cuda:
        return f"cuda ({torch.cuda.get_device_name(0)})"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads != 1 else ''})"


def _peak_memory(cuda: bool) -> tuple[float | None, float | None]:
    import torch

    gpu = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    try:
        import resource

        rss: float | None = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except (ImportError, OSError):
        rss = None
    return (round(gpu, 3) if gpu is not None else None), (round(rss, 1) if rss is not None else None)


def _is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _load(backend: str, name: str, config: TrainConfig, cuda: bool) -> tuple[Any, Any]:
    """Model (LoRA attached) and tokenizer for ``backend``."""
    if backend == "unsloth":
        from pytest_cmdgen.trainer.unsloth_backend import load_unsloth

        return load_unsloth(name, config)
    from peft import get_peft_model

    from pytest_cmdgen.trainer.sft import lora_config

    tokenizer = load_tokenizer(name)
    model = load_model(name, config, cuda, device_index=int(os.environ.get("LOCAL_RANK", "0") or 0))
    if config.gradient_checkpointing:
        model.enable_input_require_grads()
    return get_peft_model(model, lora_config(config)), tokenizer


def _encode(tokenizer: Any, fmt: ChatFormat, config: TrainConfig, split: Split) -> tuple[EncodedSplit, EncodedSplit]:
    train_rows = encode_all(tokenizer, fmt, split.train, config.max_length)
    val_rows = encode_all(tokenizer, fmt, split.val, config.max_length)
    if not train_rows.rows:
        raise TrainSetupError(
            f"every train data point is longer than max_length ({config.max_length} tokens)",
            key="max_length",
            hint="raise max_length in the training config",
        )
    return train_rows, val_rows


def train(
    out_dir: Path,
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    resume_hint: str | None = None,
    log: Log | None = None,
    rich: bool | None = None,
) -> TrainResult:
    """Fine-tune a LoRA adapter on the split of the prepare output ``out_dir``; write ``<out_dir>/model/``.

    ``resume`` continues from the newest checkpoint (an error when there is none). ``resume_hint`` is the
    command an interrupted run tells the user to resume with. ``log`` receives one line per message
    (default: stderr); ``rich`` forces the progress bar on or off (default: on a terminal).

    Raises :class:`~pytest_cmdgen.trainer.errors.TrainSetupError` for what cannot run here (nothing is
    written then), :class:`~pytest_cmdgen.trainer.errors.TrainInterrupted` after Ctrl-C (a checkpoint is
    kept) and :class:`~pytest_cmdgen.trainer.errors.TrainError` for out-of-memory.
    """
    out_dir = Path(out_dir)
    config = config or TrainConfig()
    say = log or _stderr
    main_process = _rank() == 0
    model_dir = model_dir_of(out_dir)
    checkpoints = model_dir / outputs.CHECKPOINTS_DIR

    check_training_stack()
    split = load_split(out_dir)
    name = locate_base_model(config.model_name_or_path)
    checkpoint = last_checkpoint(model_dir) if resume else None
    if resume and checkpoint is None:
        raise TrainSetupError(f"nothing to resume: no checkpoint in {checkpoints}", hint="train without resuming")
    if config.early_stopping_patience is not None and not split.val:
        raise TrainSetupError(
            "early_stopping_patience needs a validation split, and this one is empty",
            key="early_stopping_patience",
            hint="lower --cmdgen-train-frac, or leave early stopping off",
        )
    check_report_to(config)
    cuda = cuda_available()
    backend = choose_backend(config, cuda)
    check_quantization(config, cuda)
    if config.bf16 is None:
        import torch

        config = config.replace(bf16=bool(cuda and torch.cuda.is_bf16_supported()))

    quiet_libraries()
    model, tokenizer = _load(backend, name, config, cuda)
    fmt = chat_format(tokenizer)
    for warning in fmt.warnings:
        say(f"warning: {warning}")
    set_stop_tokens(tokenizer, model, fmt)
    train_rows, val_rows = _encode(tokenizer, fmt, config, split)
    if train_rows.too_long or val_rows.too_long:
        say(
            f"warning: left out {train_rows.too_long} train and {val_rows.too_long} val data points longer than "
            f"max_length ({config.max_length} tokens)"
        )
    schedule = plan_schedule(config, len(train_rows.rows), _world_size())
    config = config.replace(warmup_steps=schedule.warmup_steps, logging_steps=schedule.logging_steps)

    if main_process:
        if not resume and model_dir.exists():
            shutil.rmtree(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        (model_dir / outputs.CONFIG_FILE).write_text(config_yaml(config, schedule), encoding="utf-8")
        say(
            f"{backend} back-end, base {config.model_name_or_path}, {len(train_rows.rows)} train / "
            f"{len(val_rows.rows)} val data points, {schedule.total_steps} steps"
            + (f", resuming from {checkpoint.name}" if checkpoint else "")
        )

    view = ProgressView(schedule.total_steps, rich=rich) if main_process else None
    stop = StopRequest(
        on_request=(lambda: say("stopping after this step (Ctrl-C again to abort)")) if main_process else None,
        repeat_window_s=REPEAT_WINDOW_S if under_launcher() else 0.0,
    )
    from pytest_cmdgen.trainer.sft import build_trainer

    trainer = build_trainer(
        model,
        tokenizer,
        config,
        schedule,
        checkpoints,
        train_rows,
        val_rows,
        cuda=cuda,
        callbacks=trainer_callbacks(view, stop),
    )
    start_step, start_epoch = _checkpoint_position(checkpoint)
    stop.install()
    started = time.monotonic()
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except Exception as exc:
        if _is_oom(exc):
            raise TrainError(
                f"out of memory at step {trainer.state.global_step} of {schedule.total_steps}",
                hint="lower per_device_train_batch_size (raise gradient_accumulation_steps to keep the batch), "
                "lower max_length, set gradient_checkpointing: true, or use quantization: 4bit",
            ) from None
        raise
    finally:
        stop.restore()
        if view is not None:
            view.stop()
    runtime = time.monotonic() - started
    state = trainer.state
    if stop.requested:
        saved = last_checkpoint(model_dir)
        raise TrainInterrupted(
            state.global_step,
            schedule.total_steps,
            str(saved or checkpoints),
            resume_hint or resume_command(out_dir),
            rank=_rank(),
            world_size=_world_size(),
        )

    gpu, rss = _peak_memory(cuda)
    figures = outputs.RunFigures(
        backend=backend,
        device=_device(cuda),
        processes=_world_size(),
        train_examples=len(train_rows.rows),
        val_examples=len(val_rows.rows),
        too_long=train_rows.too_long + val_rows.too_long,
        train_tokens=train_rows.tokens,
        runtime_s=runtime,
        start_step=start_step,
        end_step=state.global_step,
        start_epoch=start_epoch,
        end_epoch=float(state.epoch or 0.0),
        peak_gpu_memory_gb=gpu,
        peak_rss_mb=rss,
    )
    document = outputs.metrics_document(state.log_history, figures, schedule.total_steps)
    merged_dir: Path | None = None
    if trainer.is_world_process_zero():
        trainer.save_model(str(model_dir))  # the adapter and the tokenizer (end-of-turn as EOS)
        if config.merge:
            merged_dir = _save_merged(backend, trainer, tokenizer, fmt, name, model_dir, cuda)
        outputs.write_metrics(model_dir, document)
        outputs.plot_losses(model_dir, document)
        counts = {"train": dict(command_counts(split.train)), "val": dict(command_counts(split.val))}
        card = outputs.model_card(config, model_dir, figures, document, counts, merged=merged_dir is not None)
        (model_dir / outputs.CARD_FILE).write_text(card, encoding="utf-8")
        write_serve_files(out_dir, config)
        losses = document["train_loss"]
        loss_text = f"loss {losses[0]['loss']:.4f} → {losses[-1]['loss']:.4f}, " if losses else ""
        say(
            f"done: {state.global_step} steps, {loss_text}{figures.examples_per_s:.2f} examples/s, "
            f"{figures.tokens_per_s:,.0f} tokens/s; model in {model_dir}"
        )
    else:
        say(f"rank {_rank()} of {_world_size()}: {state.global_step} steps done (rank 0 writes the outputs)")
    return TrainResult(model_dir, merged_dir, backend, document, fmt.warnings)


def _checkpoint_position(checkpoint: Path | None) -> tuple[int, float]:
    if checkpoint is None:
        return 0, 0.0
    import json

    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state.get("global_step", 0)), float(state.get("epoch") or 0.0)


def _save_merged(
    backend: str, trainer: Any, tokenizer: Any, fmt: ChatFormat, name: str, model_dir: Path, cuda: bool
) -> Path:
    """The base model with the adapter merged in, saved in the base model's own (16-bit) dtype."""
    target = model_dir / outputs.MERGED_DIR
    if backend == "unsloth":
        from pytest_cmdgen.trainer.unsloth_backend import save_merged_unsloth

        save_merged_unsloth(trainer.model, tokenizer, str(target))
        return target
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(name, dtype="auto", **({"device_map": "auto"} if cuda else {}))
    merged = PeftModel.from_pretrained(base, str(model_dir)).merge_and_unload()
    set_stop_tokens(tokenizer, merged, fmt)
    merged.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    return target


__all__ = [
    "TrainResult",
    "config_for_run",
    "last_checkpoint",
    "is_main_process",
    "model_dir_of",
    "quiet_libraries",
    "resume_command",
    "train",
]
