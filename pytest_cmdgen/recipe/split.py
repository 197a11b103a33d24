"""Module 4 of the recipe: train/validation split and the JSONL row formats (reference §7).

Data points are grouped by test case (an original test and all its rephrasings stay on one side). A
greedy set cover puts, first, the fewest groups needed for every command type to appear in train (Rasa's
rule: repeatedly the group adding the strictly largest number of uncovered command types, ties to the
earliest). The other groups are shuffled with a **seeded** ``random.Random`` (Rasa's was unseeded, §15
quirk 5) and the first ``floor(groups × train_frac) - len(cover)`` of them join train; the rest is
validation. The cover is never reduced, so train can hold more than the fraction; ``SplitResult``
reports it. Command types are the kinds of the data points' commands (Rasa 3.12+), not substrings of
the completion (§15 quirk 8).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_cmdgen.recipe.conversation import split_test_id
from pytest_cmdgen.recipe.datapoints import DataPoint

OutputFormat = Literal["instruction", "conversational"]
"""The JSONL schema of ``ft_splits/*.jsonl``."""

OUTPUT_FORMATS: tuple[str, ...] = ("instruction", "conversational")
"""Every accepted output format."""

DEFAULT_SEED = 42
"""The split's default shuffle seed."""


@dataclass(frozen=True)
class Group:
    """All data points of one test case, in data-point order."""

    test_id: str
    points: tuple[DataPoint, ...]

    @property
    def command_types(self) -> frozenset[str]:
        """Union of the command kinds of the group's data points."""
        kinds: set[str] = set()
        for point in self.points:
            kinds |= point.command_types
        return frozenset(kinds)


@dataclass(frozen=True)
class SplitResult:
    """The outcome of :func:`split_data_points`.

    Attributes:
        train: train groups (the cover in original order, then shuffled extras).
        validation: validation groups (shuffled order).
        cover: test ids of the groups chosen to cover every command type.
        warnings: Rasa's warnings (command types missing from validation, empty validation set, train
            larger than the fraction because of the cover).
    """

    train: tuple[Group, ...]
    validation: tuple[Group, ...]
    cover: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def train_points(self) -> list[DataPoint]:
        """Train data points: groups in split order, points in group order."""
        return [p for g in self.train for p in g.points]

    @property
    def validation_points(self) -> list[DataPoint]:
        """Validation data points: groups in split order, points in group order."""
        return [p for g in self.validation for p in g.points]

    @property
    def train_test_ids(self) -> list[str]:
        """Test ids of the train groups."""
        return [g.test_id for g in self.train]

    @property
    def validation_test_ids(self) -> list[str]:
        """Test ids of the validation groups."""
        return [g.test_id for g in self.validation]


def group_data_points(points: Iterable[DataPoint]) -> list[Group]:
    """Data points grouped by test id, groups in order of first appearance."""
    groups: dict[str, list[DataPoint]] = {}
    for point in points:
        groups.setdefault(point.test_id, []).append(point)
    return [Group(test_id, tuple(members)) for test_id, members in groups.items()]


def greedy_cover(groups: Sequence[Group]) -> list[int]:
    """Indices of the groups chosen so every command type of ``groups`` is covered (§7.2 step 2)."""
    uncovered = set().union(*(g.command_types for g in groups)) if groups else set()
    chosen: list[int] = []
    while uncovered:
        best, best_gain = -1, 0
        for index, group in enumerate(groups):
            if index in chosen:
                continue
            gain = len(group.command_types & uncovered)
            if gain > best_gain:
                best, best_gain = index, gain
        if best < 0:
            break
        chosen.append(best)
        uncovered -= groups[best].command_types
    return chosen


def train_group_count(total_groups: int, train_frac: float) -> int:
    """``floor(total_groups × train_frac)``, immune to float noise (``0.29 × 100`` gives 29)."""
    return math.floor(round(total_groups * train_frac, 9))


def check_train_frac(train_frac: float) -> float:
    """``train_frac`` if ``0 < train_frac <= 1``, else ``ValueError`` (as ``--train-frac``)."""
    if not (isinstance(train_frac, (int, float)) and 0.0 < float(train_frac) <= 1.0):
        raise ValueError(f"train_frac must be in (0, 1], got {train_frac!r}")
    return float(train_frac)


def split_data_points(points: Sequence[DataPoint], train_frac: float = 0.8, seed: int = DEFAULT_SEED) -> SplitResult:
    """Split data points by test case into train and validation (see the module docstring)."""
    train_frac = check_train_frac(train_frac)
    groups = group_data_points(points)
    cover = sorted(greedy_cover(groups))
    rest = [g for i, g in enumerate(groups) if i not in set(cover)]
    random.Random(seed).shuffle(rest)
    wanted = train_group_count(len(groups), train_frac)
    extra = max(0, wanted - len(cover))
    train = [groups[i] for i in cover] + rest[:extra]
    validation = rest[extra:]
    warnings: list[str] = []
    if len(cover) > wanted:
        warnings.append(
            f"covering every command type needs {len(cover)} test cases in train, more than "
            f"floor({len(groups)} x {train_frac}) = {wanted}"
        )
    all_types = set().union(*(g.command_types for g in groups)) if groups else set()
    validation_types = set().union(*(g.command_types for g in validation)) if validation else set()
    if not validation:
        warnings.append("the validation set is empty")
    elif all_types - validation_types:
        warnings.append(
            f"command types missing from the validation set: {', '.join(sorted(all_types - validation_types))}"
        )
    return SplitResult(
        train=tuple(train),
        validation=tuple(validation),
        cover=tuple(groups[i].test_id for i in cover),
        warnings=tuple(warnings),
    )


def format_row(point: DataPoint, output_format: str) -> dict[str, Any]:
    """The ``ft_splits`` row of a data point (§7.3); an unknown format is a ``ValueError``."""
    if output_format == "instruction":
        return {"prompt": point.prompt, "completion": point.completion}
    if output_format == "conversational":
        return {
            "messages": [
                {"role": "user", "content": point.prompt},
                {"role": "assistant", "content": point.completion},
            ]
        }
    raise ValueError(f"unknown output format {output_format!r}; expected one of {', '.join(OUTPUT_FORMATS)}")


# --- E2E test split (§7.4) -------------------------------------------------------------------------------


def split_test_suite(
    document: dict[str, Any], file: str, train_ids: Iterable[str], validation_ids: Iterable[str]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The train and validation versions of one E2E test file's YAML document (``None``: no test there).

    ``document`` is the file as loaded (``test_cases``, ``fixtures``, ``metadata``, ``stub_custom_actions``);
    ``file`` is the file part of its tests' ids. Each version keeps every top-level key of the input and
    only the test cases of its side, in file order; tests in neither side (failed, not annotated) are
    left out.
    """
    train_names = {split_test_id(t)[1] for t in train_ids if split_test_id(t)[0] == file}
    validation_names = {split_test_id(t)[1] for t in validation_ids if split_test_id(t)[0] == file}

    def pick(names: set[str]) -> dict[str, Any] | None:
        cases = [c for c in document.get("test_cases") or [] if isinstance(c, dict) and c.get("test_case") in names]
        if not cases:
            return None
        return {key: (cases if key == "test_cases" else value) for key, value in document.items()}

    return pick(train_names), pick(validation_names)
