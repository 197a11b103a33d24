"""The prepared split as the trainer reads it: ``4_train_test_split/ft_splits/{train,val}.jsonl``.

Both row formats of ``--cmdgen-output-format`` come in: instruction rows ``{"prompt", "completion"}`` and
conversational rows ``{"messages": [user, assistant]}``; each becomes one :class:`Example` (the prompt the
command generator sends, the commands it should answer). Nothing here writes: the dataset stays untouched.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pytest_cmdgen.errors import CmdgenInputError
from pytest_cmdgen.generator.grammar import V2_COMMAND_WORDS
from pytest_cmdgen.recipe.output import TRAIN_FILE, VAL_FILE
from pytest_cmdgen.trainer.errors import TrainSetupError


@dataclass(frozen=True)
class Example:
    """One data point: the command generator's prompt and the commands it should answer with."""

    prompt: str
    completion: str


@dataclass(frozen=True)
class Split:
    """The train and validation examples of a prepared output directory."""

    train: tuple[Example, ...]
    val: tuple[Example, ...]
    row_format: str
    """instruction or conversational (the train file's first row)."""


def read_numbered_rows(path: Path) -> tuple[list[tuple[int, Example]], str | None]:
    """The examples of one JSONL file, each with its line number (1-based, as ``file:line`` names it), and the
    file's row format (None when the file has no row). Lines are the file's lines: a U+2028 or U+0085 written
    raw in a row (JSON with ``ensure_ascii=False``) stays inside its row, unlike ``str.splitlines``.

    A row that is neither format is a :class:`~pytest_cmdgen.errors.CmdgenInputError` naming ``file:line``.
    """
    numbered: list[tuple[int, Example]] = []
    row_format: str | None = None
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CmdgenInputError(f"not a JSON object: {exc.msg}", file=path, line=number) from None
            example, kind = _example(row)
            if example is None:
                raise CmdgenInputError(
                    "expected {prompt, completion} or {messages: [user, assistant]}", file=path, line=number
                )
            row_format = row_format or kind
            numbered.append((number, example))
    return numbered, row_format


def read_rows(path: Path) -> tuple[list[Example], str | None]:
    """The examples of one JSONL file and its row format (None when the file has no row); see
    :func:`read_numbered_rows`."""
    numbered, row_format = read_numbered_rows(path)
    return [example for _, example in numbered], row_format


def _example(row: object) -> tuple[Example | None, str]:
    if isinstance(row, dict) and isinstance(row.get("prompt"), str) and isinstance(row.get("completion"), str):
        return Example(row["prompt"], row["completion"]), "instruction"
    messages = row.get("messages") if isinstance(row, dict) else None
    if isinstance(messages, list) and len(messages) >= 2:
        user, assistant = messages[-2], messages[-1]
        if (
            isinstance(user, dict)
            and isinstance(assistant, dict)
            and user.get("role") == "user"
            and assistant.get("role") == "assistant"
            and isinstance(user.get("content"), str)
            and isinstance(assistant.get("content"), str)
        ):
            return Example(user["content"], assistant["content"]), "conversational"
    return None, ""


def load_split(out_dir: Path) -> Split:
    """Read the split of a prepare output; a missing or empty train file is a
    :class:`~pytest_cmdgen.trainer.errors.TrainSetupError` (a missing val file is an empty val split)."""
    train_path, val_path = out_dir / TRAIN_FILE, out_dir / VAL_FILE
    if not train_path.is_file():
        raise TrainSetupError(
            f"no prepared dataset in {out_dir}: {TRAIN_FILE} is missing",
            hint="run pytest --cmdgen-prepare --cmdgen-out DIR first, and train on that DIR",
        )
    train, row_format = read_rows(train_path)
    if not train:
        raise TrainSetupError(
            f"the train split is empty: {train_path} has no data point",
            hint="more passing E2E tests, or a higher --cmdgen-train-frac",
        )
    val = read_rows(val_path)[0] if val_path.is_file() else []
    return Split(tuple(train), tuple(val), row_format or "instruction")


def command_type(line: str) -> str:
    """The command type of one completion line: ``SetSlot(a, b)`` → ``SetSlot``, ``set slot a b`` → ``set slot``."""
    text = line.strip()
    if "(" in text:
        return text.split("(", 1)[0].strip()
    lowered = text.lower()
    return next((words for words in V2_COMMAND_WORDS if lowered.startswith(words)), text.split(" ", 1)[0])


def command_counts(examples: Iterable[Example]) -> Counter[str]:
    """How often each command type appears in the completions."""
    counts: Counter[str] = Counter()
    for example in examples:
        for line in example.completion.splitlines():
            if line.strip():
                counts[command_type(line)] += 1
    return counts


__all__ = ["Example", "Split", "command_counts", "command_type", "load_split", "read_numbered_rows", "read_rows"]
