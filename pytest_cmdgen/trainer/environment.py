"""What this machine can do, checked before anything heavy is imported or any file is touched.

:func:`check_training_stack` (the ``train`` extra is installed), :func:`choose_backend` (unsloth when CUDA
and unsloth are present, else transformers + peft + trl), :func:`check_quantization` (bitsandbytes) and
:func:`check_report_to` each fail with one :class:`~pytest_cmdgen.trainer.errors.TrainSetupError` line
naming what to change. Module presence is read with ``importlib.util.find_spec`` (no import); only
:func:`cuda_available` imports torch, and only when the stack is there.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

from pytest_cmdgen.trainer.errors import TrainSetupError
from pytest_cmdgen.trainer.train_config import TrainConfig

TRAINING_STACK = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")
"""What the ``train`` extra installs and the trainer imports."""

TRACKERS: dict[str, tuple[str, ...]] = {
    "azure_ml": ("azureml",),
    "clearml": ("clearml",),
    "codecarbon": ("codecarbon",),
    "comet_ml": ("comet_ml",),
    "dagshub": ("dagshub",),
    "dvclive": ("dvclive",),
    "flyte": ("flytekit",),
    "kubeflow": (),
    "mlflow": ("mlflow",),
    "neptune": ("neptune",),
    "swanlab": ("swanlab",),
    "tensorboard": ("tensorboard", "tensorboardX"),
    "trackio": ("trackio",),
    "wandb": ("wandb",),
}
"""The trackers ``report_to`` may name (transformers' integrations), each with the modules of which one must
be installed (none: nothing to install). ``none`` and ``all`` are also accepted."""


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing(modules: Iterable[str]) -> list[str]:
    """The modules of ``modules`` that cannot be imported."""
    return [module for module in modules if not installed(module)]


def check_training_stack() -> None:
    """Fail when a package of the ``train`` extra is missing."""
    absent = missing(TRAINING_STACK)
    if absent:
        raise TrainSetupError(
            f"training needs {', '.join(absent)}, which {'is' if len(absent) == 1 else 'are'} not installed",
            hint="pip install 'pytest-cmdgen[train]'",
        )


def cuda_available() -> bool:
    """Whether torch sees a CUDA device."""
    import torch

    return bool(torch.cuda.is_available())


def choose_backend(config: TrainConfig, cuda: bool) -> str:
    """``unsloth`` or ``transformers``: what ``backend`` asks for, as far as this machine can do it."""
    has_unsloth = installed("unsloth")
    if config.backend == "transformers":
        return "transformers"
    if config.backend == "unsloth":
        if not cuda:
            raise TrainSetupError(
                "unsloth needs a CUDA GPU, and this machine has none",
                key="backend",
                hint="use backend: auto or transformers (trains with transformers + peft + trl here)",
            )
        if not has_unsloth:
            raise TrainSetupError(
                "unsloth needs the unsloth package, which is not installed",
                key="backend",
                hint="pip install 'pytest-cmdgen[gpu]', or use backend: auto",
            )
        return "unsloth"
    return "unsloth" if cuda and has_unsloth else "transformers"


def check_quantization(config: TrainConfig, cuda: bool) -> None:
    """Fail when ``quantization`` asks for what this machine cannot do: 8bit without a CUDA GPU (said first:
    installing bitsandbytes would not help), 4bit or 8bit without bitsandbytes."""
    if config.quantization == "none":
        return
    if not cuda and config.quantization == "8bit":
        raise TrainSetupError(
            "8bit needs a CUDA GPU (bitsandbytes' 8-bit training has no CPU kernels)",
            key="quantization",
            hint="use quantization: 4bit or none on this machine",
        )
    if not installed("bitsandbytes"):
        raise TrainSetupError(
            f"{config.quantization} needs bitsandbytes, which is not installed",
            key="quantization",
            hint="pip install 'pytest-cmdgen[gpu]' (bitsandbytes), or use quantization: none",
        )


def check_report_to(config: TrainConfig) -> None:
    """Fail when ``report_to`` names a tracker transformers does not know, or one that is not installed
    (``none`` and ``all`` pass through)."""
    for tracker in config.report_to:
        if tracker in ("none", "all"):
            continue
        if tracker not in TRACKERS:
            raise TrainSetupError(
                f"unknown tracker {tracker!r}",
                key="report_to",
                hint=f"use none, all or one of {', '.join(TRACKERS)}",
            )
        modules = TRACKERS[tracker]
        if modules and not any(installed(module) for module in modules):
            raise TrainSetupError(
                f"{tracker} is not installed", key="report_to", hint=f"pip install {modules[0]}, or leave it out"
            )


__all__ = [
    "TRACKERS",
    "TRAINING_STACK",
    "check_quantization",
    "check_report_to",
    "check_training_stack",
    "choose_backend",
    "cuda_available",
    "installed",
    "missing",
]
