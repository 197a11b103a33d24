"""Safe, bounded YAML loading with YAML 1.2 scalars, remembering where every mapping key and list item stood.

Errors about user files must name ``file:line:column``; this loader gives every mapping and list the
positions of its entries (and its own first and last line), so a schema check can point at the offending
key. Every YAML file the package reads goes through :func:`load_marked` / :func:`load_marked_file`: the
runtime's project loader, the E2E parser, command scripts, the rephrase and training configs.

* **YAML 1.2, as Rasa reads it.** Rasa loads project and test files with ruamel.yaml in YAML 1.2 mode
  (``rasa/shared/utils/yaml.py``, ruamel.yaml 0.17.21), so plain scalars resolve by ruamel's 1.2 rules,
  reproduced here over PyYAML: only ``true``/``false`` (and their ``True``/``TRUE`` forms) are booleans
  (``yes``, ``No``, ``on``, ``OFF``, ``y`` stay strings); ``010`` is the decimal 10 and ``0o10`` the octal 8;
  ``12:30`` is a string (no sexagesimal numbers); underscores still group digits (``1_000``); ``1e3`` is a
  float; dates and timestamps stay strings, as Rasa's own timestamp constructor returns them.
* **Safe**: no Python object tags.
* **Bounded**: a document may hold at most :data:`MAX_NODES` nodes *after alias expansion* and nest at most
  :data:`MAX_DEPTH` collections deep; a recursive alias and a second document are refused. An alias bomb
  ("billion laughs") is refused in time and memory proportional to the file, before anything is built from
  it, with ``file:line:column`` of the anchor that grows too large. A text longer than :data:`MAX_NODES`
  characters has its nodes counted while parsing, before they are built.
* **Fast**: PyYAML's libyaml parser is used when PyYAML was built with it (:data:`LOADER_NAME`).

:func:`line_of` is the runtime's best-effort line lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from pytest_cmdgen.errors import CmdgenInputError

try:  # libyaml: the same events, several times faster
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    HAS_LIBYAML = False
else:
    HAS_LIBYAML = True

MAX_NODES = 500_000
"""Most nodes one YAML document may hold, counting every alias as a copy of what it refers to. Real Rasa
projects and test files hold a few thousand; each node costs a few hundred bytes while loading."""

MAX_DEPTH = 100
"""Deepest nesting of mappings and lists in one document (Rasa files nest a dozen levels at most)."""


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


class YamlLimitError(YamlSyntaxError):
    """A YAML file exceeds :data:`MAX_NODES` (after alias expansion) or :data:`MAX_DEPTH`, or an alias refers
    to the collection it stands in; ``mark`` is where that collection starts."""


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _event_mark(event: yaml.Event) -> Mark | None:
    return Mark(event.start_mark.line + 1, event.start_mark.column + 1) if event.start_mark else None


def _end_mark(node: yaml.Node) -> Mark:
    return Mark(node.end_mark.line + 1, node.end_mark.column + 1)


# --- YAML 1.2 scalars: ruamel.yaml 0.17.21's VersionedResolver for (1, 2), the version Rasa pins ---------

YAML12_IMPLICIT_RESOLVERS: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), tuple("tTfF")),
    (
        "tag:yaml.org,2002:float",
        re.compile(
            r"""^(?:
             [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
            |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
            re.X,
        ),
        tuple("-+0123456789."),
    ),
    (
        "tag:yaml.org,2002:int",
        re.compile(
            r"""^(?:[-+]?0b[0-1_]+
            |[-+]?0o?[0-7_]+
            |[-+]?[0-9_]+
            |[-+]?0x[0-9a-fA-F_]+)$""",
            re.X,
        ),
        tuple("-+0123456789"),
    ),
    ("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ("<",)),
    ("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ("~", "n", "N", "")),
    # ``=`` resolves to the "value" tag, which no safe constructor builds: an error in Rasa too
    ("tag:yaml.org,2002:value", re.compile(r"^(?:=)$"), ("=",)),
)
"""The implicit resolvers of YAML 1.2 as ruamel applies them: (tag, pattern, first characters). No timestamp
resolver: Rasa turns timestamps back into their text, so they are plain strings here."""


class _Yaml12Resolver(BaseResolver):
    """Plain scalars resolved by :data:`YAML12_IMPLICIT_RESOLVERS`."""


for _tag, _regexp, _first in YAML12_IMPLICIT_RESOLVERS:
    _Yaml12Resolver.add_implicit_resolver(_tag, _regexp, list(_first))


class _MarkingConstructor(SafeConstructor):
    """SafeConstructor whose mappings and sequences carry their positions; ints and timestamps as ruamel 1.2."""


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    """ruamel's 1.2 ``construct_yaml_int``: ``0b``/``0x``/``0o`` prefixes, otherwise decimal (``010`` = 10)."""
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text[:1] == "-" else 1
    text = text[1:] if text[:1] in "+-" else text
    for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8)):
        if text.startswith(prefix):
            return sign * int(text[2:], base)
    return sign * int(text)


def _construct_timestamp(loader: Any, node: yaml.ScalarNode) -> str:
    """Rasa's timestamp constructor: the text as written (``2024-05-01`` stays a string)."""
    return str(loader.construct_scalar(node))


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> MarkedDict:
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
            raise ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from exc
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_marks[key] = _mark(key_node)
        result.value_marks[key] = _mark(value_node)
    return result


def _construct_sequence(loader: Any, node: yaml.SequenceNode) -> MarkedList:
    result = MarkedList(loader.construct_object(child, deep=True) for child in node.value)
    result.mark = _mark(node)
    result.end_mark = _end_mark(node)
    result.item_marks = [_mark(child) for child in node.value]
    return result


_MarkingConstructor.add_constructor("tag:yaml.org,2002:int", _construct_int)
_MarkingConstructor.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_MarkingConstructor.add_constructor(BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_MarkingConstructor.add_constructor(BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class _PureLoader(Reader, Scanner, Parser, Composer, _MarkingConstructor, _Yaml12Resolver):
    """The pure-Python loader (PyYAML without libyaml)."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _MarkingConstructor.__init__(self)
        _Yaml12Resolver.__init__(self)


_Loader: type = _PureLoader
LOADER_NAME = "PyYAML pure Python"
"""Which parser loads YAML here: libyaml (C) when PyYAML has it, else PyYAML's pure-Python one."""

if HAS_LIBYAML:

    class _CLoader(CParser, _MarkingConstructor, _Yaml12Resolver):
        """The libyaml-backed loader: C scanner, parser and composer; the same resolver and constructors."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _MarkingConstructor.__init__(self)
            _Yaml12Resolver.__init__(self)

    _Loader = _CLoader
    LOADER_NAME = "PyYAML with libyaml (C)"


# --- bounds ------------------------------------------------------------------------------------------------


def _count_events(text: str, path: Path | str) -> None:
    """Count node events before any node is built (long texts only): at most :data:`MAX_NODES`, one document."""
    loader = _Loader(text)
    nodes = documents = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise YamlLimitError(
                        path, _event_mark(event), "invalid YAML: expected a single document in the stream"
                    )
            elif isinstance(event, (yaml.NodeEvent, yaml.CollectionStartEvent)):
                nodes += 1
                if nodes > MAX_NODES:
                    raise YamlLimitError(path, _event_mark(event), f"too many YAML nodes: more than {MAX_NODES:,}")
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_bounds(root: yaml.Node, path: Path | str) -> None:
    """Refuse a document that expands to more than :data:`MAX_NODES` nodes through its aliases, nests deeper
    than :data:`MAX_DEPTH`, or holds an alias to a collection it is inside of (iterative, memoised per node:
    time and memory proportional to the distinct nodes, never to the expansion)."""
    sizes: dict[int, int] = {}
    on_path = {id(root)}
    stack = [(root, iter(_children(root)))]
    while stack:
        node, pending = stack[-1]
        child = next(pending, None)
        if child is None:
            stack.pop()
            on_path.discard(id(node))
            size = 1 + sum(sizes[id(c)] for c in _children(node))
            if size > MAX_NODES:
                raise YamlLimitError(
                    path,
                    _mark(node),
                    f"too many YAML nodes: this collection expands to more than {MAX_NODES:,} nodes through its "
                    "aliases (an alias bomb?)",
                )
            sizes[id(node)] = size
            continue
        key = id(child)
        if key in sizes:
            continue
        if key in on_path:
            raise YamlLimitError(path, _mark(child), "invalid YAML: an alias refers to a collection it is part of")
        if isinstance(child, yaml.ScalarNode):
            sizes[key] = 1
            continue
        if len(stack) >= MAX_DEPTH:
            raise YamlLimitError(path, _mark(child), f"YAML nested too deeply: more than {MAX_DEPTH} levels")
        on_path.add(key)
        stack.append((child, iter(_children(child))))


def load_marked(text: str, path: Path | str) -> Any:
    """Parse YAML text safely with YAML 1.2 scalars, returning ``MarkedDict``/``MarkedList`` containers.

    Raises ``YamlSyntaxError`` with ``path:line:column: problem`` for malformed YAML, unsafe tags or more
    than one document, and its subclass ``YamlLimitError`` for a document beyond the bounds (module docs).
    """
    try:
        if len(text) > MAX_NODES:
            _count_events(text, path)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_bounds(node, path)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raw = exc.problem_mark or exc.context_mark
        mark = Mark(raw.line + 1, raw.column + 1) if raw else None
        problem = exc.problem or exc.context or "malformed"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        raise YamlSyntaxError(path, mark, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(path, None, f"invalid YAML: {exc}") from None
    except RecursionError:  # the pure-Python composer recurses per nesting level
        raise YamlLimitError(path, None, f"YAML nested too deeply: more than {MAX_DEPTH} levels") from None


def load_marked_file(path: Path) -> Any:
    """Read and parse a YAML file with ``load_marked``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return load_marked(text, path)
