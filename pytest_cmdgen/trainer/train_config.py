"""The training configuration: one flat YAML file whose keys are the Hugging Face / PEFT arguments they set.

Every key is optional; the defaults are those of Rasa's current fine-tuning notebook (July 2025): base
``meta-llama/Llama-3.1-8B-Instruct``, LoRA r=16, alpha=16, dropout 0.05 on the seven projections, 3 epochs,
learning rate 1e-4 linear with 20 warm-up steps, per-device batch 2 × gradient accumulation 4, max length
4096, weight decay 0.01, no packing, seed 42, evaluation on val each epoch, bf16 where supported.

:func:`load_train_config` reads a file through :mod:`pytest_cmdgen.yamlio`, so an unknown key or a wrong
value is a :class:`~pytest_cmdgen.errors.InputFileError` naming ``file:line:column`` (an unknown key also
lists the valid ones). :func:`plan_schedule` derives what depends on the split's size: warm-up capped at
10 % of the optimizer steps, and logging often enough that every run logs its loss at least 10 times.
:func:`config_yaml` is the resolved configuration as saved next to the adapter. No heavy import here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

from pytest_cmdgen.errors import CmdgenInputError, InputFileError
from pytest_cmdgen.yamlio import MarkedDict, YamlSyntaxError, load_marked_file

DEFAULT_BASE_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
"""The base model of Rasa's current notebook."""

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""The projections LoRA adapts by default (Llama-style names)."""

BACKENDS = ("auto", "unsloth", "transformers")
QUANTIZATIONS = ("none", "8bit", "4bit")
STRATEGIES = ("no", "epoch", "steps")


@dataclass(frozen=True)
class TrainConfig:
    """Every training setting; names are those of the argument each sets (``from_pretrained``, ``LoraConfig``,
    ``TrainingArguments`` / ``SFTConfig``), plus ``backend``, ``quantization``, ``merge`` and
    ``early_stopping_patience``."""

    model_name_or_path: str = DEFAULT_BASE_MODEL
    """Base model: a Hugging Face id (from the local cache when offline) or a local directory."""
    backend: str = "auto"
    """auto (unsloth when CUDA and unsloth are present, else transformers), unsloth or transformers."""
    quantization: str = "none"
    """none, 8bit or 4bit (bitsandbytes; QLoRA)."""
    r: int = 16
    """LoRA rank."""
    lora_alpha: int = 16
    """LoRA scaling numerator."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA path."""
    target_modules: tuple[str, ...] = LORA_TARGETS
    """Modules LoRA adapts."""
    bias: str = "none"
    """Which biases train: none, all or lora_only."""
    num_train_epochs: float = 3.0
    """Passes over the train split."""
    max_steps: int = -1
    """Optimizer steps to run; -1: as many as ``num_train_epochs`` take."""
    learning_rate: float = 1e-4
    """Peak learning rate."""
    lr_scheduler_type: str = "linear"
    """Learning-rate schedule after warm-up (linear, cosine, constant, ...)."""
    warmup_steps: int = 20
    """Warm-up steps; never more than 10 % of the run's optimizer steps."""
    per_device_train_batch_size: int = 2
    """Sequences per device per forward pass."""
    per_device_eval_batch_size: int = 2
    """Sequences per device per evaluation pass."""
    gradient_accumulation_steps: int = 4
    """Forward passes per optimizer step."""
    max_length: int = 4096
    """Longest sequence (prompt + completion) in tokens; longer data points are left out, with a warning."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    optim: str = "adamw_torch"
    """Optimizer name as ``TrainingArguments`` knows it."""
    packing: bool = False
    """Pack several data points into one sequence."""
    seed: int = 42
    """Seed of the LoRA initialisation and the data order."""
    bf16: bool | None = None
    """bf16 mixed precision; null (``auto`` in YAML): where the device supports it."""
    gradient_checkpointing: bool = True
    """Recompute activations in the backward pass to save memory."""
    eval_strategy: str = "epoch"
    """When to compute the val loss: no, epoch or steps (then every ``eval_steps``)."""
    eval_steps: int | None = None
    """Steps between evaluations with ``eval_strategy: steps``."""
    save_strategy: str = "epoch"
    """When to write a checkpoint (what ``--resume`` continues from): no, epoch or steps."""
    save_steps: int | None = None
    """Steps between checkpoints with ``save_strategy: steps``."""
    save_total_limit: int | None = None
    """Most checkpoints kept (oldest removed first); null keeps all."""
    logging_steps: int = 20
    """Steps between loss logs; lowered so that a run logs its loss at least 10 times."""
    early_stopping_patience: int | None = None
    """Stop after this many evaluations without a better val loss; null: off."""
    report_to: tuple[str, ...] = ("none",)
    """Experiment trackers (tensorboard, wandb, mlflow, ...), passed through to ``TrainingArguments``."""
    merge: bool = False
    """Also save the base model with the adapter merged in (16-bit), under ``model/merged/``."""
    evaluate_base: bool = False
    """The evaluation after training also runs the base model without the adapter, so the gain shows."""

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes``."""
        return replace(self, **changes)


@dataclass(frozen=True)
class _Key:
    """How one key's YAML value is read: what it must be, and how to turn it into the field's value."""

    expected: str
    convert: Callable[[Any], Any]


def _integer(low: int | None = None) -> _Key:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
            raise ValueError
        return value

    return _Key("an integer" + (f" >= {low}" if low is not None else ""), convert)


def _optional_integer(low: int) -> _Key:
    inner = _integer(low)
    return _Key(f"null or {inner.expected}", lambda v: None if v is None else inner.convert(v))


def _number(low: float, high: float | None = None, *, strict: bool = False) -> _Key:
    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError
        number = float(value)
        if number < low or (strict and number == low) or (high is not None and number > high):
            raise ValueError
        return number

    bound = f"> {low}" if strict else f">= {low}"
    if high is not None:
        bound += f" and <= {high}"
    return _Key(f"a number {bound}", convert)


def _text(choices: tuple[str, ...] = ()) -> _Key:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or (choices and value not in choices):
            raise ValueError
        return value.strip()

    return _Key(f"one of {', '.join(choices)}" if choices else "a non-empty string", convert)


def _flag() -> _Key:
    def convert(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError
        return value

    return _Key("true or false", convert)


def _auto_flag() -> _Key:
    def convert(value: Any) -> bool | None:
        if value is None or value == "auto":
            return None
        return _flag().convert(value)

    return _Key("true, false or auto", convert)


def _names() -> _Key:
    def convert(value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) and i.strip() for i in items):
            raise ValueError
        return tuple(i.strip() for i in items)

    return _Key("a name or a non-empty list of names", convert)


_KEYS: dict[str, _Key] = {
    "model_name_or_path": _text(),
    "backend": _text(BACKENDS),
    "quantization": _text(QUANTIZATIONS),
    "r": _integer(1),
    "lora_alpha": _integer(1),
    "lora_dropout": _number(0.0, 1.0),
    "target_modules": _names(),
    "bias": _text(("none", "all", "lora_only")),
    "num_train_epochs": _number(0.0, strict=True),
    "max_steps": _integer(-1),
    "learning_rate": _number(0.0, strict=True),
    "lr_scheduler_type": _text(),
    "warmup_steps": _integer(0),
    "per_device_train_batch_size": _integer(1),
    "per_device_eval_batch_size": _integer(1),
    "gradient_accumulation_steps": _integer(1),
    "max_length": _integer(8),
    "weight_decay": _number(0.0),
    "optim": _text(),
    "packing": _flag(),
    "seed": _integer(0),
    "bf16": _auto_flag(),
    "gradient_checkpointing": _flag(),
    "eval_strategy": _text(STRATEGIES),
    "eval_steps": _optional_integer(1),
    "save_strategy": _text(STRATEGIES),
    "save_steps": _optional_integer(1),
    "save_total_limit": _optional_integer(1),
    "logging_steps": _integer(1),
    "early_stopping_patience": _optional_integer(1),
    "report_to": _names(),
    "merge": _flag(),
    "evaluate_base": _flag(),
}

VALID_KEYS: tuple[str, ...] = tuple(f.name for f in fields(TrainConfig))
"""Every key a training config file may have, in the order of :class:`TrainConfig`."""

assert set(_KEYS) == set(VALID_KEYS), "every TrainConfig field needs a reader"


def load_train_config(path: Path | None, base: TrainConfig | None = None) -> TrainConfig:
    """``base`` (default: :class:`TrainConfig`'s defaults) with the keys of the YAML file ``path`` applied.

    An empty file changes nothing. Raises :class:`~pytest_cmdgen.errors.CmdgenInputError` for a file that
    cannot be read, and :class:`~pytest_cmdgen.errors.InputFileError` (``file:line:column: key: problem``)
    for invalid YAML, a document that is not a mapping, an unknown key or a value of the wrong kind.
    """
    config = base or TrainConfig()
    if path is None:
        return config
    source = Path(path)
    if not source.is_file():
        raise CmdgenInputError(f"no such training config file: {source}")
    try:
        data = load_marked_file(source)
    except YamlSyntaxError as exc:
        raise InputFileError(source, exc.mark, None, exc.problem) from None
    except OSError as exc:
        raise CmdgenInputError(f"{source}: cannot read the training config: {exc.strerror or exc}") from None
    if data is None:
        return config
    if not isinstance(data, MarkedDict):
        raise InputFileError(source, getattr(data, "mark", None), None, "the training config must be a mapping")
    changes: dict[str, Any] = {}
    for key, value in data.items():
        reader = _KEYS.get(key) if isinstance(key, str) else None
        if reader is None:
            raise InputFileError(
                source, data.key_mark(key), str(key), f"unknown key; valid keys are {', '.join(VALID_KEYS)}"
            )
        try:
            changes[key] = reader.convert(value)
        except (TypeError, ValueError):
            mark = data.value_marks.get(key, data.key_mark(key))
            raise InputFileError(source, mark, key, f"expected {reader.expected}, got {value!r}") from None
    _check_combination(changes, source, data)
    result = replace(config, **changes)
    if result.early_stopping_patience is not None and result.eval_strategy == "no":
        key = "eval_strategy" if "eval_strategy" in changes else "early_stopping_patience"
        raise InputFileError(
            source,
            data.key_mark(key),
            key,
            "early_stopping_patience compares val losses, so it needs eval_strategy epoch or steps",
        )
    return result


def _check_combination(changes: Mapping[str, Any], source: Path, data: MarkedDict) -> None:
    for strategy, steps in (("eval_strategy", "eval_steps"), ("save_strategy", "save_steps")):
        if changes.get(strategy) == "steps" and changes.get(steps) is None:
            raise InputFileError(source, data.key_mark(strategy), strategy, f"'steps' needs {steps}")


def resolve_train_config(
    path: Path | None = None, base_model: str | None = None, base: TrainConfig | None = None
) -> TrainConfig:
    """The configuration a run uses: ``base`` (or the defaults), then the file ``path``, then ``base_model``
    (``--cmdgen-base-model`` / ``--base-model``), which wins over the file's ``model_name_or_path``."""
    config = load_train_config(path, base)
    if base_model is not None and base_model.strip():
        config = config.replace(model_name_or_path=base_model.strip())
    return config


@dataclass(frozen=True)
class Schedule:
    """What depends on the split's size: optimizer steps, warm-up, logging and evaluation cadence."""

    train_examples: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    """``warmup_steps`` capped at 10 % of ``total_steps``."""
    logging_steps: int
    """``logging_steps`` lowered so that the loss is logged at least 10 times (every step in short runs)."""


def plan_schedule(config: TrainConfig, train_examples: int, world_size: int = 1) -> Schedule:
    """Derive the schedule the way ``transformers.Trainer`` counts steps (no dropped last batch)."""
    batches = math.ceil(train_examples / (config.per_device_train_batch_size * max(world_size, 1)))
    steps_per_epoch = max(math.ceil(batches / config.gradient_accumulation_steps), 1)
    by_epochs = max(math.ceil(config.num_train_epochs * steps_per_epoch), 1)
    total = config.max_steps if config.max_steps > 0 else by_epochs
    return Schedule(
        train_examples=train_examples,
        steps_per_epoch=steps_per_epoch,
        total_steps=total,
        warmup_steps=min(config.warmup_steps, total // 10),
        logging_steps=max(1, min(config.logging_steps, total // 10)),
    )


def config_yaml(config: TrainConfig, schedule: Schedule | None = None) -> str:
    """The resolved configuration as YAML, in :class:`TrainConfig`'s key order; with ``schedule``, the
    warm-up and logging steps actually used. Loading it with :func:`load_train_config` gives it back."""
    data = asdict(config)
    if schedule is not None:
        data["warmup_steps"] = schedule.warmup_steps
        data["logging_steps"] = schedule.logging_steps
    if data["bf16"] is None:
        data["bf16"] = "auto"
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
    header = "# The resolved training configuration of this model (pytest-cmdgen); every key as the run used it.\n"
    return header + yaml.safe_dump(plain, sort_keys=False, allow_unicode=True)


__all__ = [
    "BACKENDS",
    "DEFAULT_BASE_MODEL",
    "LORA_TARGETS",
    "QUANTIZATIONS",
    "VALID_KEYS",
    "Schedule",
    "TrainConfig",
    "config_yaml",
    "load_train_config",
    "plan_schedule",
    "resolve_train_config",
]
