"""The checks a session makes on ``--cmdgen-train`` before any test runs, so a mistake costs seconds, not a
whole prepare run: the extra is installed, data is being prepared, the config file is valid and the base
model can be found. Nothing heavy is imported."""

from __future__ import annotations

from pathlib import Path

from pytest_cmdgen.trainer.base_model import locate_base_model
from pytest_cmdgen.trainer.environment import check_training_stack
from pytest_cmdgen.trainer.errors import TrainSetupError
from pytest_cmdgen.trainer.run import config_for_run
from pytest_cmdgen.trainer.train_config import TrainConfig


def check_train_request(
    out_dir: Path, *, prepare: bool, config_file: Path | None, base_model: str | None, resume: bool
) -> TrainConfig:
    """The configuration the session will train with; raises a one-line error for what cannot work."""
    check_training_stack()
    if not prepare:
        raise TrainSetupError(
            "--cmdgen-train trains on the dataset --cmdgen-prepare writes",
            hint="add --cmdgen-prepare, or train on an existing output with: cmdgen-train OUT_DIR",
        )
    config = config_for_run(out_dir, config_file, base_model, resume)
    locate_base_model(config.model_name_or_path)
    return config


__all__ = ["check_train_request"]
