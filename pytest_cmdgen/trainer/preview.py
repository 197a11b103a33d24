"""A look at what the model trains on: one example with the part that carries loss marked."""

from __future__ import annotations

from pathlib import Path

from pytest_cmdgen.trainer.base_model import load_tokenizer, locate_base_model
from pytest_cmdgen.trainer.chat import chat_format, encode, loss_preview
from pytest_cmdgen.trainer.data import load_split
from pytest_cmdgen.trainer.environment import check_training_stack
from pytest_cmdgen.trainer.errors import TrainSetupError
from pytest_cmdgen.trainer.train_config import TrainConfig


def show_example(out_dir: Path, config: TrainConfig, index: int = 0) -> str:
    """Train example ``index`` of ``out_dir`` through the base model's tokenizer: the end of the prompt, then
    the loss-carrying tokens in ``[[...]]`` (they should be exactly the commands and the end-of-turn token)."""
    check_training_stack()
    split = load_split(out_dir)
    if not 0 <= index < len(split.train):
        raise TrainSetupError(f"no train example {index}: the train split has {len(split.train)}")
    tokenizer = load_tokenizer(locate_base_model(config.model_name_or_path))
    fmt = chat_format(tokenizer)
    row = encode(tokenizer, fmt, split.train[index])
    notes = "".join(f"warning: {warning}\n" for warning in fmt.warnings)
    return (
        f"{notes}example {index}: {row.prompt_length} prompt tokens, {len(row.completion_ids)} with loss "
        f"(end of turn: {fmt.end_of_turn})\n{loss_preview(tokenizer, row)}"
    )


__all__ = ["show_example"]
