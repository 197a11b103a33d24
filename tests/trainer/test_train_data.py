"""Reading the prepared split: both row formats, and one clear line for a split that cannot be trained on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_cmdgen.errors import CmdgenInputError
from pytest_cmdgen.recipe.output import TRAIN_FILE, VAL_FILE
from pytest_cmdgen.trainer import Example, TrainSetupError, command_counts, load_split


def _write(out: Path, train: list[dict], val: list[dict] | None = None) -> Path:
    for name, rows in ((TRAIN_FILE, train), (VAL_FILE, val)):
        if rows is not None:
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return out


def test_both_row_formats_become_the_same_examples(tmp_path: Path) -> None:
    instruction = _write(tmp_path / "a", [{"prompt": "P1", "completion": "StartFlow(x)"}], [])
    conversational = _write(
        tmp_path / "b",
        [{"messages": [{"role": "user", "content": "P1"}, {"role": "assistant", "content": "StartFlow(x)"}]}],
    )
    a, b = load_split(instruction), load_split(conversational)
    assert a.train == b.train == (Example("P1", "StartFlow(x)"),)
    assert (a.row_format, b.row_format) == ("instruction", "conversational")
    assert a.val == b.val == ()  # an empty or missing val file is an empty val split


def test_a_missing_or_empty_train_split_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(TrainSetupError, match=r"no prepared dataset in .*: 4_train_test_split/ft_splits/train.jsonl"):
        load_split(tmp_path)
    _write(tmp_path, [], [{"prompt": "p", "completion": "c"}])
    with pytest.raises(TrainSetupError, match="the train split is empty") as caught:
        load_split(tmp_path)
    assert "--cmdgen-train-frac" in str(caught.value)


def test_a_row_of_neither_format_names_its_line(tmp_path: Path) -> None:
    _write(tmp_path, [{"prompt": "p", "completion": "c"}, {"text": "no"}])
    with pytest.raises(CmdgenInputError) as caught:
        load_split(tmp_path)
    assert caught.value.line == 2 and caught.value.file == str(tmp_path / TRAIN_FILE)


def test_command_types_are_counted_in_every_syntax() -> None:
    examples = [
        Example("p", "StartFlow(transfer_money)\nSetSlot(amount, 10)"),
        Example("p", "start flow transfer_money\nset slot amount 10\ncancel flow"),
        Example("p", "search and reply"),
    ]
    assert command_counts(examples) == {
        "StartFlow": 1,
        "SetSlot": 1,
        "start flow": 1,
        "set slot": 1,
        "cancel flow": 1,
        "search and reply": 1,
    }
