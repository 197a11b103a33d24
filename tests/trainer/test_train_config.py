"""The training config: Rasa's defaults, YAML keys with line marks, the derived schedule, the saved copy."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_cmdgen.errors import CmdgenInputError, InputFileError
from pytest_cmdgen.trainer import (
    TrainConfig,
    config_yaml,
    load_train_config,
    plan_schedule,
    resolve_train_config,
)
from pytest_cmdgen.trainer.train_config import VALID_KEYS


def test_defaults_are_those_of_rasas_current_notebook() -> None:
    config = TrainConfig()
    assert config.model_name_or_path == "meta-llama/Llama-3.1-8B-Instruct"
    assert (config.r, config.lora_alpha, config.lora_dropout) == (16, 16, 0.05)
    assert config.target_modules == ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    assert (config.num_train_epochs, config.learning_rate, config.lr_scheduler_type) == (3.0, 1e-4, "linear")
    assert (config.warmup_steps, config.per_device_train_batch_size, config.gradient_accumulation_steps) == (20, 2, 4)
    assert (config.max_length, config.weight_decay, config.packing, config.seed) == (4096, 0.01, False, 42)
    assert (config.eval_strategy, config.bf16, config.quantization, config.backend) == ("epoch", None, "none", "auto")
    assert config.early_stopping_patience is None
    assert config.merge is False


def test_keys_from_yaml_override_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "train.yml"
    path.write_text(
        "r: 32\nlora_alpha: 64\nlearning_rate: 2.0e-4\ntarget_modules: [q_proj, v_proj]\nbf16: auto\n"
        "report_to: tensorboard\nmerge: true\nnum_train_epochs: 1\n"
    )
    config = load_train_config(path)
    assert (config.r, config.lora_alpha, config.learning_rate) == (32, 64, 2e-4)
    assert config.target_modules == ("q_proj", "v_proj")
    assert config.bf16 is None and config.merge is True and config.num_train_epochs == 1.0
    assert config.report_to == ("tensorboard",)
    assert config.per_device_train_batch_size == 2  # untouched keys keep their default


def test_an_unknown_key_names_file_line_and_the_valid_keys(tmp_path: Path) -> None:
    path = tmp_path / "train.yml"
    path.write_text("r: 8\nlora_rank: 8\n")
    with pytest.raises(InputFileError) as caught:
        load_train_config(path)
    error = caught.value
    assert (error.file, error.line, error.key) == (str(path), 2, "lora_rank")
    assert str(error).startswith(f"{path}:2:1: lora_rank: unknown key; valid keys are model_name_or_path, ")
    assert all(key in str(error) for key in VALID_KEYS)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("r: sixteen\n", "r", "expected an integer >= 1, got 'sixteen'"),
        ("learning_rate: 0\n", "learning_rate", "expected a number > 0.0"),
        ("quantization: 3bit\n", "quantization", "expected one of none, 8bit, 4bit"),
        ("backend: jax\n", "backend", "expected one of auto, unsloth, transformers"),
        ("packing: yes please\n", "packing", "expected true or false"),
        ("target_modules: []\n", "target_modules", "expected a name or a non-empty list of names"),
        ("eval_strategy: steps\n", "eval_strategy", "'steps' needs eval_steps"),
    ],
)
def test_a_wrong_value_names_its_key_and_what_was_expected(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = tmp_path / "train.yml"
    path.write_text("seed: 1\n" + text)
    with pytest.raises(InputFileError) as caught:
        load_train_config(path)
    assert caught.value.key == key and caught.value.line == 2
    assert expected in str(caught.value)


def test_empty_missing_and_malformed_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yml"
    empty.write_text("")
    assert load_train_config(empty) == TrainConfig()
    with pytest.raises(CmdgenInputError, match="no such training config file"):
        load_train_config(tmp_path / "absent.yml")
    listed = tmp_path / "list.yml"
    listed.write_text("- r: 8\n")
    with pytest.raises(InputFileError, match="must be a mapping"):
        load_train_config(listed)
    broken = tmp_path / "broken.yml"
    broken.write_text("r: [8\n")
    with pytest.raises(InputFileError, match="invalid YAML"):
        load_train_config(broken)


def test_the_base_model_option_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "train.yml"
    path.write_text("model_name_or_path: Qwen/Qwen2.5-1.5B-Instruct\n")
    assert resolve_train_config(path).model_name_or_path == "Qwen/Qwen2.5-1.5B-Instruct"
    assert resolve_train_config(path, "/models/mine").model_name_or_path == "/models/mine"
    assert resolve_train_config(None, None).model_name_or_path == TrainConfig().model_name_or_path


def test_a_small_split_gets_a_capped_warm_up_and_ten_loss_logs() -> None:
    # Rasa's defaults on 60 data points: 30 batches of 2, 8 optimizer steps per epoch, 24 steps in 3 epochs.
    schedule = plan_schedule(TrainConfig(), 60)
    assert (schedule.steps_per_epoch, schedule.total_steps) == (8, 24)
    assert schedule.warmup_steps == 2  # not 20: at most 10 % of the steps
    assert schedule.logging_steps == 2  # not 20: 12 loss values, not 1
    big = plan_schedule(TrainConfig(), 20_000)
    assert (big.warmup_steps, big.logging_steps) == (20, 20)  # large runs keep the configured values


@given(
    examples=st.integers(1, 5000),
    batch=st.integers(1, 16),
    accumulation=st.integers(1, 16),
    epochs=st.floats(0.1, 10),
    world=st.integers(1, 8),
    max_steps=st.one_of(st.just(-1), st.integers(1, 3000)),
)
def test_every_run_logs_its_loss_at_least_ten_times_and_warms_up_at_most_a_tenth(
    examples: int, batch: int, accumulation: int, epochs: float, world: int, max_steps: int
) -> None:
    config = TrainConfig(
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=accumulation,
        num_train_epochs=epochs,
        max_steps=max_steps,
    )
    schedule = plan_schedule(config, examples, world)
    assert schedule.total_steps >= 1
    assert schedule.total_steps // schedule.logging_steps >= min(10, schedule.total_steps)
    assert schedule.warmup_steps <= schedule.total_steps / 10


def test_the_saved_config_reads_back_as_the_one_used(tmp_path: Path) -> None:
    config = TrainConfig(model_name_or_path="/m", r=8, report_to=("none",), bf16=False, eval_steps=None)
    schedule = plan_schedule(config, 100)
    path = tmp_path / "train_config.yaml"
    path.write_text(config_yaml(config, schedule))
    loaded = load_train_config(path)
    assert loaded == config.replace(warmup_steps=schedule.warmup_steps, logging_steps=schedule.logging_steps)
    assert list(asdict(loaded)) == list(VALID_KEYS)
