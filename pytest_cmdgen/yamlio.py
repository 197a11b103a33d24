"""Safe YAML loading that remembers where every mapping key and list item stood.

Errors about user files must name ``file:line:column``; this loader gives every mapping and list the
positions of its entries (and its own first and last line), so a schema check can point at the offending
key. Loading is always safe: no Python object tags. The E2E parser, the recipe and the runtime's project
loader all read YAML through this module; :func:`line_of` is the runtime's best-effort line lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pytest_cmdgen.errors import CmdgenInputError


@dataclass(frozen=True)
class Mark:
    """A 1-based line and column in a file."""

    line: int
    column: int


class MarkedDict(dict):
    """A dict that knows its own position and the position of each key."""

    mark: Mark
    end_mark: Mark
    """Where the mapping's node ends (for a block mapping: the start of whatever follows it)."""
    key_marks: dict[Any, Mark]
    value_marks: dict[Any, Mark]

    def key_mark(self, key: Any) -> Mark:
        """Where ``key`` stands (the mapping's own position if unknown)."""
        return self.key_marks.get(key, self.mark)


class MarkedList(list):
    """A list that knows its own position and the position of each item."""

    mark: Mark
    end_mark: Mark
    """Where the list's node ends (for a block sequence: the start of whatever follows it)."""
    item_marks: list[Mark]

    def item_mark(self, index: int) -> Mark:
        """Where item ``index`` stands (the list's own position if unknown)."""
        return self.item_marks[index] if index < len(self.item_marks) else self.mark


def line_of(node: Any, key: Any = None, default: int = 0) -> int:
    """Best-effort 1-based line of ``node[key]``, or of ``node`` itself when ``key`` is None.

    An unknown key or index gives the container's own line; anything that is not a
    :class:`MarkedDict`/:class:`MarkedList` gives ``default``.
    """
    if isinstance(node, MarkedDict):
        return node.mark.line if key is None else node.key_mark(key).line
    if isinstance(node, MarkedList):
        if key is None or not isinstance(key, int) or isinstance(key, bool) or key < 0:
            return node.mark.line
        return node.item_mark(key).line
    return default


class YamlSyntaxError(CmdgenInputError, ValueError):
    """A file is not valid YAML; the message is ``file:line:column: invalid YAML: problem``."""

    def __init__(self, path: Path | str, mark: Mark | None, problem: str) -> None:
        self.path = path
        self.mark = mark
        self.problem = problem
        super().__init__(problem, file=path, line=mark.line if mark else None, column=mark.column if mark else None)


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _end_mark(node: yaml.Node) -> Mark:
    return Mark(node.end_mark.line + 1, node.end_mark.column + 1)


class _MarkingLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences carry their positions."""


def _construct_mapping(loader: _MarkingLoader, node: yaml.MappingNode) -> MarkedDict:
    loader.flatten_mapping(node)
    result = MarkedDict()
    result.mark = _mark(node)
    result.end_mark = _end_mark(node)
    result.key_marks = {}
    result.value_marks = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from exc
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_marks[key] = _mark(key_node)
        result.value_marks[key] = _mark(value_node)
    return result


def _construct_sequence(loader: _MarkingLoader, node: yaml.SequenceNode) -> MarkedList:
    result = MarkedList(loader.construct_object(child, deep=True) for child in node.value)
    result.mark = _mark(node)
    result.end_mark = _end_mark(node)
    result.item_marks = [_mark(child) for child in node.value]
    return result


_MarkingLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_MarkingLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_marked(text: str, path: Path | str) -> Any:
    """Parse YAML text safely, returning ``MarkedDict``/``MarkedList`` containers.

    Raises ``YamlSyntaxError`` with ``path:line:column: problem`` for malformed YAML or unsafe tags.
    """
    try:
        return yaml.load(text, Loader=_MarkingLoader)  # noqa: S506 - _MarkingLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        raw = exc.problem_mark or exc.context_mark
        mark = Mark(raw.line + 1, raw.column + 1) if raw else None
        problem = exc.problem or exc.context or "malformed"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        raise YamlSyntaxError(path, mark, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(path, None, f"invalid YAML: {exc}") from None


def load_marked_file(path: Path) -> Any:
    """Read and parse a YAML file with ``load_marked``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return load_marked(text, path)
