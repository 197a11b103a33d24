"""Scoring a command generator's answers against the labels, the way ``rasa test du`` compares commands.

Both the label and the answer are parsed with the project's own command parser (:class:`CommandParser`:
the generator's syntax, the Rasa version, the project's flows), so an answer scores exactly as the
assistant would execute it. A data point matches when the two command *sets* are equal: same types, same
arguments, order ignored (a SetSlot's extractor, a CannotHandle's reason and the order of a Clarify's options
do not count; :mod:`pytest_cmdgen.generator.command_compare` defines it, for ``--cmdgen-compare`` too). Per
command type, a command of the answer that is in the label is a true positive, one that is not a false
positive, and a label command the answer lacks a false negative. Text that yields no command stands for
``CannotHandle``, as in Rasa (whose generator falls back to it; its parser reads no ``CannotHandle()``
either), so a label ``CannotHandle()`` is matched by any answer Rasa would treat the same way. An answer that
yields no command and is not the cannot-handle answer itself is *unparseable*.

Plain data in, plain data out: nothing here loads a model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_cmdgen.generator.command_compare import CommandKey, CommandParser, command_key
from pytest_cmdgen.generator.grammar import V2_COMMAND_WORDS, Syntax

_CANNOT_HANDLE_TEXT = frozenset({"cannothandle()", "cannot handle"})
"""The cannot-handle answer in the v1 and v2/v3 syntaxes (written by the dataset, never parsed by Rasa)."""


def command_text(key: CommandKey) -> str:
    """A compared command for reports: ``SetSlot(name=city, value=Bern)``."""
    name, arguments = key
    values = json.loads(arguments)
    inner = ", ".join(f"{k}={', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in values.items())
    return f"{name}({inner})"


@dataclass(frozen=True)
class Scored:
    """One data point: the commands expected and those answered, as compared."""

    expected: frozenset[CommandKey]
    got: frozenset[CommandKey]
    unparseable: bool = False
    """The answer yields no command and is not the cannot-handle answer (it counts as ``CannotHandle``)."""

    @property
    def exact(self) -> bool:
        """The command sets are equal."""
        return self.expected == self.got


def score(parser: CommandParser, label: str, answer: str | None) -> Scored:
    """Parse the label and the answer with the same parser and keep both command sets."""
    unparseable = not parser.parse(answer) and (answer or "").strip().lower() not in _CANNOT_HANDLE_TEXT
    return Scored(parser.keys(label), parser.keys(answer), unparseable)


@dataclass
class TypeCounts:
    """True positives, false positives and false negatives of one command type."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        """Label commands of this type."""
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        """Share of answered commands that were right; 0 when none was answered."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """Share of label commands that were answered; 0 when there were none."""
        return self.tp / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The counts and the rates, rounded for the report."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "support": self.support,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass
class CommandScores:
    """Every data point's result, and the counts per command type."""

    points: list[Scored] = field(default_factory=list)
    per_type: dict[str, TypeCounts] = field(default_factory=dict)

    def add(self, scored: Scored) -> None:
        """Count one data point."""
        self.points.append(scored)
        for key in scored.got | scored.expected:
            counts = self.per_type.setdefault(key[0], TypeCounts())
            if key in scored.got and key in scored.expected:
                counts.tp += 1
            elif key in scored.got:
                counts.fp += 1
            else:
                counts.fn += 1

    @property
    def total(self) -> TypeCounts:
        """The counts over every command type (micro average)."""
        return TypeCounts(
            sum(c.tp for c in self.per_type.values()),
            sum(c.fp for c in self.per_type.values()),
            sum(c.fn for c in self.per_type.values()),
        )

    @property
    def exact_matches(self) -> int:
        """Data points whose command sets are equal."""
        return sum(point.exact for point in self.points)

    @property
    def exact_match(self) -> float:
        """Share of data points whose command sets are equal."""
        return self.exact_matches / len(self.points) if self.points else 0.0

    @property
    def unparseable(self) -> int:
        """Answers that yield no command."""
        return sum(point.unparseable for point in self.points)

    def as_dict(self) -> dict[str, Any]:
        """Exact match, unparseable share, micro-averaged and per-type counts and rates."""
        n = len(self.points)
        return {
            "data_points": n,
            "exact_matches": self.exact_matches,
            "exact_match": round(self.exact_match, 4),
            "unparseable": self.unparseable,
            "unparseable_share": round(self.unparseable / n, 4) if n else 0.0,
            "micro": self.total.as_dict(),
            "per_command": {name: self.per_type[name].as_dict() for name in sorted(self.per_type)},
        }


def score_all(parser: CommandParser, labels: Sequence[str], answers: Sequence[str | None]) -> CommandScores:
    """Score every answer against its label."""
    scores = CommandScores()
    for label, answer in zip(labels, answers, strict=True):
        scores.add(score(parser, label, answer))
    return scores


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between the closest ranks; 0 for no value."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def infer_syntax(labels: Iterable[str]) -> Syntax:
    """The syntax the labels are written in, for an output that does not record it: v1 (``StartFlow(x)``),
    v3 (``search and reply``) or v2 (``start flow x``)."""
    lines = [line.strip() for label in labels for line in label.splitlines() if line.strip()]
    if any(line.lower().startswith("search and reply") for line in lines):
        return "v3"
    if any(line.lower().startswith(V2_COMMAND_WORDS) for line in lines):
        return "v2"
    return "v1"


def flows_in_labels(labels: Iterable[str], syntax: Syntax) -> tuple[str, ...]:
    """The flows the labels start or clarify between (for an output that does not record the project's)."""
    import re

    pattern = (
        re.compile(r"(?:StartFlow|Clarify)\(([^)]*)\)")
        if syntax == "v1"
        else re.compile(r"^(?:start flow|disambiguate flows)\s+(.+)$", re.IGNORECASE)
    )
    found: set[str] = set()
    for label in labels:
        for line in label.splitlines():
            match = pattern.search(line.strip())
            if match:
                found.update(part.strip(" '\"[]") for part in re.split(r"[,\s]+", match.group(1)) if part.strip())
    return tuple(sorted(found))


__all__ = [
    "CommandKey",
    "CommandParser",
    "CommandScores",
    "Scored",
    "TypeCounts",
    "command_key",
    "command_text",
    "flows_in_labels",
    "infer_syntax",
    "percentile",
    "score",
    "score_all",
]
