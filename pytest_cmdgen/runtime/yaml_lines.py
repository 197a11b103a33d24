"""A safe YAML loader that remembers where every mapping key and list item came from.

Mappings load as :class:`LineDict` and sequences as :class:`LineList`; both are plain ``dict``/``list``
subclasses with a ``pos`` table (key or index → 1-based ``(line, column)``) and the node's own
``start_line``/``end_line``, so loaders can point error messages at the exact spot in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pytest_cmdgen.runtime.errors import ProjectError


class LineDict(dict):
    """A mapping loaded from YAML; ``pos[key]`` is the key's 1-based (line, column)."""

    pos: dict[Any, tuple[int, int]]
    start_line: int
    end_line: int

    def line_of(self, key: Any) -> int:
        """Line of ``key`` if known, else the mapping's own first line."""
        return self.pos.get(key, (self.start_line, 0))[0]


class LineList(list):
    """A sequence loaded from YAML; ``pos[i]`` is item ``i``'s 1-based (line, column)."""

    pos: dict[int, tuple[int, int]]
    start_line: int
    end_line: int

    def line_of(self, index: int) -> int:
        """Line of item ``index`` if known, else the sequence's own first line."""
        return self.pos.get(index, (self.start_line, 0))[0]


class _Loader(yaml.SafeLoader):
    """SafeLoader building :class:`LineDict` / :class:`LineList` with positions."""


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.pos = {}
    result.start_line = node.start_mark.line + 1
    result.end_line = node.end_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
            ) from exc
        result[key] = loader.construct_object(value_node, deep=True)
        result.pos[key] = _mark(key_node)
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.pos = {i: _mark(child) for i, child in enumerate(node.value)}
    result.start_line = node.start_mark.line + 1
    result.end_line = node.end_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml_text(text: str, source: str = "<string>") -> Any:
    """Parse YAML text with positions; a syntax error becomes a :class:`ProjectError` naming ``source``."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ProjectError(source, line, "", f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ProjectError(source, 0, "", f"invalid YAML: {exc}") from None


def load_yaml_file(path: Path) -> Any:
    """Read and parse one YAML file with positions."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProjectError(str(path), 0, "", f"cannot read file: {exc.strerror}") from None
    return load_yaml_text(text, str(path))


def line_of(node: Any, key: Any = None, default: int = 0) -> int:
    """Best-effort line of ``node[key]`` (or of ``node`` itself when ``key`` is None)."""
    if isinstance(node, (LineDict, LineList)):
        if key is None:
            return node.start_line
        return node.line_of(key)
    return default
