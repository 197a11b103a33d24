"""trl's ``SFTTrainer`` set up from a :class:`~pytest_cmdgen.trainer.train_config.TrainConfig`.

:func:`sft_arguments` maps the configuration and the planned :class:`~.train_config.Schedule` onto
``SFTConfig`` keyword arguments (plain data, so it is testable without the stack); :func:`lora_config`
builds peft's ``LoraConfig``; :func:`build_trainer` puts model, tokenizer, the pre-tokenized examples
(``input_ids`` + ``labels``: our label mask is used as is) and the callbacks together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_cmdgen.trainer.chat import EncodedSplit
from pytest_cmdgen.trainer.train_config import Schedule, TrainConfig


def sft_arguments(
    config: TrainConfig,
    schedule: Schedule,
    output_dir: Path,
    *,
    cuda: bool,
    has_eval: bool,
    checkpointing_field: str = "gradient_checkpointing",
) -> dict[str, Any]:
    """The ``SFTConfig`` keyword arguments of a run (``checkpointing_field``: the name this transformers
    version gives gradient checkpointing)."""
    eval_strategy = config.eval_strategy if has_eval else "no"
    save_strategy, save_steps = config.save_strategy, config.save_steps
    arguments: dict[str, Any] = {
        "output_dir": str(output_dir),
        "num_train_epochs": config.num_train_epochs,
        "max_steps": config.max_steps,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler_type,
        "warmup_steps": schedule.warmup_steps,
        "per_device_train_batch_size": config.per_device_train_batch_size,
        "per_device_eval_batch_size": config.per_device_eval_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "weight_decay": config.weight_decay,
        "optim": config.optim,
        "seed": config.seed,
        "max_length": config.max_length,
        "packing": config.packing,
        "bf16": bool(config.bf16),
        "fp16": cuda and not config.bf16,
        "use_cpu": not cuda,
        "logging_steps": schedule.logging_steps,
        "eval_strategy": eval_strategy,
        "report_to": list(config.report_to),
        "disable_tqdm": True,
        "dataloader_pin_memory": cuda,
        "ddp_find_unused_parameters": False,  # LoRA uses every adapter weight in each forward pass
        checkpointing_field: config.gradient_checkpointing,
    }
    if config.gradient_checkpointing:
        arguments["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    if eval_strategy == "steps":
        arguments["eval_steps"] = config.eval_steps
    if config.early_stopping_patience is not None:
        # The best checkpoint is reloaded at the end, so checkpoints must be written when evaluations happen.
        save_strategy, save_steps = eval_strategy, config.eval_steps
        arguments.update(load_best_model_at_end=True, metric_for_best_model="eval_loss", greater_is_better=False)
    arguments["save_strategy"] = save_strategy
    if save_strategy == "steps":
        arguments["save_steps"] = save_steps
    if config.save_total_limit is not None:
        arguments["save_total_limit"] = config.save_total_limit
    return arguments


def checkpointing_field() -> str:
    """``gradient_checkpointing`` or, in transformers versions that renamed it, ``activation_checkpointing``."""
    from trl import SFTConfig

    fields = SFTConfig.__dataclass_fields__
    return "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"


def lora_config(config: TrainConfig) -> Any:
    """peft's ``LoraConfig`` for a causal language model."""
    from peft import LoraConfig

    return LoraConfig(
        r=config.r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        bias=config.bias,  # type: ignore[arg-type]  # one of peft's literals: load_train_config checked it
        task_type="CAUSAL_LM",
    )


def build_trainer(
    model: Any,
    tokenizer: Any,
    config: TrainConfig,
    schedule: Schedule,
    output_dir: Path,
    train: EncodedSplit,
    val: EncodedSplit,
    *,
    cuda: bool,
    callbacks: list[Any],
) -> Any:
    """An ``SFTTrainer`` on the pre-tokenized examples; its own printing is replaced by ``callbacks``."""
    from datasets import Dataset
    from transformers import EarlyStoppingCallback, PrinterCallback, ProgressCallback
    from trl import SFTConfig, SFTTrainer

    has_eval = bool(val.rows) and config.eval_strategy != "no"
    arguments = sft_arguments(
        config, schedule, output_dir, cuda=cuda, has_eval=has_eval, checkpointing_field=checkpointing_field()
    )
    if config.early_stopping_patience is not None:
        callbacks = [*callbacks, EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience)]
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(**arguments),
        train_dataset=Dataset.from_list(train.records()),
        eval_dataset=Dataset.from_list(val.records()) if has_eval else None,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    for noisy in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(noisy)
    return trainer


__all__ = ["build_trainer", "checkpointing_field", "lora_config", "sft_arguments"]
