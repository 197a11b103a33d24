"""The one YAML loader: YAML 1.2 scalars as Rasa's ruamel reads them, line marks, and bounds on alias bombs.

Both parsers are exercised, libyaml's and the pure-Python one, since a PyYAML without libyaml must read the
same. The bounds are checked by the counts in the error and by the memory loading takes, never by time.
"""

from __future__ import annotations

import contextlib
import math
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_cmdgen import yamlio
from pytest_cmdgen.errors import CmdgenInputError
from pytest_cmdgen.yamlio import MAX_DEPTH, MAX_NODES, MarkedDict, YamlLimitError, YamlSyntaxError, load_marked

LOADERS = {"libyaml": getattr(yamlio, "_CLoader", None), "pure": yamlio._PureLoader}


@pytest.fixture(params=sorted(LOADERS))
def loader(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with each parser (the module-level choice is restored afterwards)."""
    chosen = LOADERS[request.param]
    assert chosen is not None, "PyYAML without libyaml: the C loader test cannot run here"
    saved = yamlio._Loader
    yamlio._Loader = chosen
    try:
        yield request.param
    finally:
        yamlio._Loader = saved


# What ruamel.yaml 0.17.21 (the version rasa-pro 3.10 – 3.21 pins) returns for `k: <scalar>`, recorded with the
# settings of Rasa's create_yaml_parser (typ "safe", version (1, 2), its timestamp constructor); the same with
# and without ruamel's C extension.
RUAMEL_12 = {
    "yes": "yes",
    "Yes": "Yes",
    "YES": "YES",
    "no": "no",
    "No": "No",
    "NO": "NO",
    "on": "on",
    "On": "On",
    "ON": "ON",
    "off": "off",
    "Off": "Off",
    "OFF": "OFF",
    "y": "y",
    "Y": "Y",
    "n": "n",
    "N": "N",
    "true": True,
    "True": True,
    "TRUE": True,
    "tRUE": "tRUE",
    "false": False,
    "False": False,
    "FALSE": False,
    "010": 10,
    "0777": 777,
    "09": 9,
    "0o10": 8,
    "0o8": "0o8",
    "0x1F": 31,
    "0b101": 5,
    "1_000": 1000,
    "1__0": 10,
    "_1": "_1",
    "+1": 1,
    "-0": 0,
    "123456789012345678901234567890": 123456789012345678901234567890,
    "1_000.5": 1000.5,
    "1e3": 1000.0,
    "1.0e-3": 0.001,
    ".5": 0.5,
    "5.": 5.0,
    "-.5": -0.5,
    "1e": "1e",
    "1.2.3": "1.2.3",
    "12:30": "12:30",
    "12:30:45": "12:30:45",
    "190:20:30": "190:20:30",
    "-12:30": "-12:30",
    ".inf": math.inf,
    "-.INF": -math.inf,
    "~": None,
    "null": None,
    "Null": None,
    "NULL": None,
    "nUll": "nUll",
    "2024-01-01": "2024-01-01",
    "2024-01-01 10:00:00": "2024-01-01 10:00:00",
    "2001-12-14t21:59:43.10-05:00": "2001-12-14t21:59:43.10-05:00",
    "0x": "0x",
}


@pytest.mark.parametrize("scalar", sorted(RUAMEL_12))
def test_plain_scalars_resolve_as_rasa_reads_them(loader: str, scalar: str) -> None:
    value = load_marked(f"k: {scalar}\n", "x.yml")["k"]
    expected = RUAMEL_12[scalar]
    assert (type(value), value) == (type(expected), expected)


def test_nan_and_quoted_scalars(loader: str) -> None:
    data = load_marked("a: .NaN\nb: 'yes'\nc: \"010\"\nd: !!str 12\ne: !!int '0o17'\n", "x.yml")
    assert math.isnan(data["a"])
    assert (data["b"], data["c"], data["d"], data["e"]) == ("yes", "010", "12", 15)


def test_equals_sign_is_refused_as_by_rasa(loader: str) -> None:
    with pytest.raises(YamlSyntaxError, match=r"x\.yml:1:4: invalid YAML: could not determine a constructor"):
        load_marked("k: =\n", "x.yml")


def test_marks_merge_keys_and_safety(loader: str) -> None:
    data = load_marked("base: &b\n  size: 2\nitem:\n  <<: *b\n  name: x\n", "x.yml")
    assert isinstance(data["item"], MarkedDict)
    assert dict(data["item"]) == {"size": 2, "name": "x"}
    assert data.key_mark("item").line == 3
    assert data["item"].key_mark("name").line == 5
    with pytest.raises(YamlSyntaxError, match="could not determine a constructor"):
        load_marked("k: !!python/object/apply:os.system ['true']\n", "x.yml")


def _bomb(levels: int, width: int) -> str:
    """The "billion laughs": each anchor a list of ``width`` aliases of the one before (width**levels leaves)."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _peak_bytes(fn: Any) -> int:
    tracemalloc.start()
    with contextlib.suppress(CmdgenInputError):
        fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_an_alias_bomb_is_refused_at_the_anchor_that_grows_too_large(loader: str) -> None:
    text = _bomb(levels=10, width=9)  # 9**9 = 387 million leaves in 10 lines
    with pytest.raises(YamlLimitError) as caught:
        load_marked(text, "config.yml")
    # l5 (line 6) holds 9**6 leaves in 1 + 9 + ... + 9**5 lists: 597,871 nodes, the first anchor past 500,000
    assert sum(9**k for k in range(7)) - 1 > MAX_NODES >= sum(9**k for k in range(6)) - 1
    assert str(caught.value).startswith("config.yml:6:5: too many YAML nodes")
    assert f"more than {MAX_NODES:,} nodes through its aliases" in str(caught.value)
    assert isinstance(caught.value, CmdgenInputError)
    # bounded memory: a few hundred bytes per distinct node, not per expanded one
    assert _peak_bytes(lambda: load_marked(text, "config.yml")) < 2_000_000


def test_a_merge_key_bomb_is_refused(loader: str) -> None:
    lines = ["m0: &m0 {a: 1, b: 2}"]
    for i in range(1, 40):
        lines.append(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: {i}}}")
    with pytest.raises(YamlLimitError, match="through its aliases"):
        load_marked("\n".join(lines) + "\n", "flows.yml")


def test_a_moderate_use_of_anchors_is_kept(loader: str) -> None:
    text = _bomb(levels=5, width=9)  # 9**4 = 6561 leaves: a big but honest document
    data = load_marked(text, "domain.yml")
    assert len(data["l4"]) == 9 and data["l4"][0] is data["l3"]


def test_recursive_alias_and_depth_and_documents(loader: str) -> None:
    with pytest.raises(YamlLimitError, match=r"^x\.yml:1:4: invalid YAML: an alias refers to a collection"):
        load_marked("a: &a [1, *a]\n", "x.yml")
    deep = "k: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    with pytest.raises(YamlLimitError, match=f"nested too deeply: more than {MAX_DEPTH} levels"):
        load_marked(deep, "x.yml")
    load_marked("k: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n", "x.yml")
    with pytest.raises(YamlSyntaxError, match=r"^x\.yml:2:1: invalid YAML: .*single document"):
        load_marked("a: 1\n---\nb: 2\n", "x.yml")


def test_a_long_text_has_its_nodes_counted_before_they_are_built() -> None:
    count = MAX_NODES + 10
    text = "k:\n" + "- 1\n" * count
    assert len(text) > MAX_NODES  # long enough for the count while parsing
    with pytest.raises(YamlLimitError, match=f"too many YAML nodes: more than {MAX_NODES:,}") as caught:
        load_marked(text, "big.yml")
    # the mapping, its key and the list come first: the item on line MAX_NODES - 1 is node MAX_NODES + 1
    assert caught.value.mark is not None and caught.value.mark.line == MAX_NODES - 1
