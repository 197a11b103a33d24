"""What stops a run with one line naming what to change (out of memory, a quantization or a tracker this
machine lacks), and the settings that must reach the trainer as asked (early stopping, report_to).

In this process (``main`` as the console script runs it): what these tests check happens after the
training stack is loaded, so a fresh interpreter each would cost its import many times over."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_cmdgen.errors import InputFileError
from pytest_cmdgen.trainer import TrainConfig, chat_format, encode_all, load_split, load_train_config, main
from pytest_cmdgen.trainer.environment import TRACKERS
from pytest_cmdgen.trainer.run import _is_oom
from pytest_cmdgen.trainer.sft import sft_arguments
from pytest_cmdgen.trainer.train_config import plan_schedule
from tests.trainer.conftest import FAST_TRAINING, copy_output, one_error_line, tree


@pytest.fixture
def out(prepared: Path, tmp_path: Path) -> Path:
    return copy_output(prepared, tmp_path / "out")


def _dataset(out: Path) -> dict[str, bytes]:
    """The prepare output without ``model/`` (what a failed training run must leave as it was)."""
    return {name: data for name, data in tree(out).items() if not name.startswith("model/")}


def test_out_of_memory_names_what_to_change_and_leaves_the_dataset(
    out: Path,
    tiny_model: Path,
    tmp_path: Path,
    in_process: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import torch

    from pytest_cmdgen.trainer import sft

    real_build = sft.build_trainer

    def build_trainer_that_runs_out_of_memory(*args: object, **kwargs: object) -> object:
        # The real trainer; its second forward/backward pass fails as it does on a GPU that is too small.
        trainer = real_build(*args, **kwargs)
        real_step, calls = trainer.training_step, []

        def training_step(*step_args: object, **step_kwargs: object) -> object:
            calls.append(1)
            if len(calls) == 2:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.10 GiB total)")
            return real_step(*step_args, **step_kwargs)

        trainer.training_step = training_step
        return trainer

    monkeypatch.setattr(sft, "build_trainer", build_trainer_that_runs_out_of_memory)
    config = tmp_path / "train.yml"
    config.write_text(FAST_TRAINING.format(epochs=1))
    before = _dataset(out)
    assert main([str(out), "--config", str(config), "--base-model", str(tiny_model)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "out of memory at step 1 of 5" in line
    for setting in ("per_device_train_batch_size", "max_length", "gradient_checkpointing", "quantization: 4bit"):
        assert setting in line
    assert _dataset(out) == before
    assert not (out / "model" / "metrics.json").exists()


def test_what_counts_as_out_of_memory() -> None:
    import torch

    assert _is_oom(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert _is_oom(RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB"))  # torch before 2.5
    assert _is_oom(RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"))
    assert not _is_oom(RuntimeError("Expected all tensors to be on the same device"))
    assert not _is_oom(ValueError("out of memory"))


@pytest.mark.parametrize(
    ("config_text", "fragments"),
    [
        ("quantization: 8bit\n", ["quantization: 8bit needs a CUDA GPU", "use quantization: 4bit or none"]),
        ("quantization: 4bit\n", ["quantization: 4bit needs bitsandbytes, which is not installed", "pip install"]),
        ("backend: unsloth\n", ["backend: unsloth needs a CUDA GPU, and this machine has none"]),
        ("report_to: [none, wandb]\n", ["report_to: wandb is not installed", "pip install wandb, or leave it out"]),
        ("report_to: wandbb\n", ["report_to: unknown tracker 'wandbb'", "use none, all or one of azure_ml"]),
    ],
    ids=[
        "8bit-without-cuda",
        "4bit-without-bitsandbytes",
        "unsloth-without-cuda",
        "tracker-not-installed",
        "tracker-unknown",
    ],
)
def test_what_this_machine_cannot_do_is_one_line_and_touches_nothing(
    out: Path,
    tiny_model: Path,
    tmp_path: Path,
    in_process: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    config_text: str,
    fragments: list[str],
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a machine without CUDA, even on a GPU runner
    monkeypatch.setattr(
        sys, "meta_path", [_Refuse("wandb", "unsloth", "bitsandbytes"), *sys.meta_path]
    )  # even where installed
    config = tmp_path / "train.yml"
    config.write_text(config_text)
    before = tree(out)
    assert main([str(out), "--config", str(config), "--base-model", str(tiny_model)]) == 1
    line = one_error_line(capsys.readouterr().err)
    for fragment in fragments:
        assert fragment in line
    assert tree(out) == before


class _Refuse:
    """A meta-path finder that makes ``modules`` impossible to find, as on a machine without them."""

    def __init__(self, *modules: str) -> None:
        self.modules = modules

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in self.modules:
            raise ModuleNotFoundError(name)


def test_early_stopping_is_wired_to_the_val_loss(tiny_model: Path, prepared: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, EarlyStoppingCallback

    from pytest_cmdgen.trainer.progress import StopRequest, trainer_callbacks
    from pytest_cmdgen.trainer.sft import build_trainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    fmt = chat_format(tokenizer)
    split = load_split(prepared)
    train, val = (encode_all(tokenizer, fmt, rows, 1024) for rows in (split.train, split.val))
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    for changes, save_steps in (({}, None), ({"eval_strategy": "steps", "eval_steps": 3}, 3)):
        config = TrainConfig(early_stopping_patience=2, gradient_checkpointing=False, max_length=1024, **changes)
        trainer = build_trainer(
            model,
            tokenizer,
            config,
            plan_schedule(config, len(train.rows)),
            tmp_path / "checkpoints",
            train,
            val,
            cuda=False,
            callbacks=trainer_callbacks(None, StopRequest()),
        )
        stoppers = [c for c in trainer.callback_handler.callbacks if isinstance(c, EarlyStoppingCallback)]
        assert [c.early_stopping_patience for c in stoppers] == [2]
        args = trainer.args
        assert (args.metric_for_best_model, args.greater_is_better, args.load_best_model_at_end) == (
            "eval_loss",
            False,
            True,
        )
        # The best checkpoint is reloaded at the end: checkpoints are written when the val loss is computed.
        assert args.eval_strategy == args.save_strategy == config.eval_strategy
        if save_steps is not None:
            assert args.eval_steps == args.save_steps == save_steps
        assert args.report_to == []  # report_to: none, passed through


def test_early_stopping_without_evaluation_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "train.yml"
    path.write_text("early_stopping_patience: 2\neval_strategy: 'no'\n")
    with pytest.raises(InputFileError) as caught:
        load_train_config(path)
    assert (caught.value.key, caught.value.line) == ("eval_strategy", 2)
    assert "early_stopping_patience compares val losses, so it needs eval_strategy epoch or steps" in str(caught.value)


def test_report_to_is_passed_through_as_named() -> None:
    config = TrainConfig(report_to=("tensorboard", "mlflow"))
    arguments = sft_arguments(config, plan_schedule(config, 100), Path("/c"), cuda=False, has_eval=True)
    assert arguments["report_to"] == ["tensorboard", "mlflow"]
    assert set(TRACKERS) >= {"tensorboard", "wandb", "mlflow"}


def test_our_tracker_names_are_those_transformers_knows() -> None:
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    assert set(TRACKERS) == set(INTEGRATION_TO_CALLBACK)
