"""Fine-tuning the command generator on a prepared split: LoRA with unsloth on a GPU, transformers + peft +
trl elsewhere (CPU included). A library, usable without pytest.

:func:`train` runs on a prepare output directory and writes ``<out>/model/`` (adapter and tokenizer,
``train_config.yaml``, ``metrics.json``, ``loss.png``, model card, optionally ``merged/``);
:class:`TrainConfig` holds every setting (keys named as the Hugging Face / PEFT arguments they set) and
:func:`resolve_train_config` reads one from YAML; :func:`chat_format` / :func:`encode` build the training
sequences through the base model's chat template with the loss on the completion only;
:func:`load_generation_model` loads a trained adapter (or any model directory) and generates answers the
way the model is served; :func:`evaluate` scores a model's answers on a split as ``rasa test du`` does
(``cmdgen-evaluate``), :func:`write_serve_files` writes what serves the adapter with vLLM, and
:class:`LocalBackend` answers the command generator's calls in-process (``--cmdgen-llm local:PATH``). The
console script ``cmdgen-train`` is :func:`main`.

Importing this package (or any module of it) imports no part of the training stack: torch, transformers,
peft, trl, datasets, accelerate and unsloth are imported inside the functions that use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_cmdgen._lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_cmdgen.trainer.chat import ChatFormat, Encoded, chat_format, encode, encode_all, prompt_ids
    from pytest_cmdgen.trainer.cli import main
    from pytest_cmdgen.trainer.data import Example, Split, command_counts, load_split
    from pytest_cmdgen.trainer.errors import TrainError, TrainInterrupted, TrainSetupError
    from pytest_cmdgen.trainer.evaluate import EvaluationResult, evaluate, evaluate_after_training, render
    from pytest_cmdgen.trainer.inference import Generation, GenerationModel, load_generation_model
    from pytest_cmdgen.trainer.local_backend import LocalBackend
    from pytest_cmdgen.trainer.request import check_train_request
    from pytest_cmdgen.trainer.run import TrainResult, config_for_run, last_checkpoint, resume_command, train
    from pytest_cmdgen.trainer.serve import write_serve_files
    from pytest_cmdgen.trainer.train_config import (
        Schedule,
        TrainConfig,
        config_yaml,
        load_train_config,
        plan_schedule,
        resolve_train_config,
    )

__getattr__ = lazy_exports(
    __name__,
    {
        "ChatFormat": "chat",
        "chat_format": "chat",
        "check_train_request": "request",
        "command_counts": "data",
        "config_for_run": "run",
        "config_yaml": "train_config",
        "encode": "chat",
        "Encoded": "chat",
        "encode_all": "chat",
        "Example": "data",
        "Generation": "inference",
        "GenerationModel": "inference",
        "last_checkpoint": "run",
        "load_generation_model": "inference",
        "load_split": "data",
        "load_train_config": "train_config",
        "main": "cli",
        "plan_schedule": "train_config",
        "prompt_ids": "chat",
        "resolve_train_config": "train_config",
        "resume_command": "run",
        "Schedule": "train_config",
        "Split": "data",
        "train": "run",
        "TrainConfig": "train_config",
        "TrainError": "errors",
        "TrainInterrupted": "errors",
        "TrainResult": "run",
        "TrainSetupError": "errors",
        "evaluate": "evaluate",
        "EvaluationResult": "evaluate",
        "render": "evaluate",
        "evaluate_after_training": "evaluate",
        "LocalBackend": "local_backend",
        "write_serve_files": "serve",
    },
)

__all__ = [
    "ChatFormat",
    "Encoded",
    "EvaluationResult",
    "Example",
    "Generation",
    "GenerationModel",
    "LocalBackend",
    "Schedule",
    "Split",
    "TrainConfig",
    "TrainError",
    "TrainInterrupted",
    "TrainResult",
    "TrainSetupError",
    "chat_format",
    "check_train_request",
    "command_counts",
    "config_for_run",
    "config_yaml",
    "encode",
    "encode_all",
    "evaluate",
    "evaluate_after_training",
    "last_checkpoint",
    "load_generation_model",
    "load_split",
    "load_train_config",
    "main",
    "plan_schedule",
    "prompt_ids",
    "render",
    "resolve_train_config",
    "resume_command",
    "train",
    "write_serve_files",
]
