"""Every file the plugin reads refuses an alias bomb at once with its file:line: a project file, an E2E file's
``metadata:``, a command script, a rephrase config; an LLM cache record (JSON) nested without end is a miss.
What the plugin writes reads back as written under YAML 1.2.

The bombs below would expand to hundreds of millions of nodes; each is refused by counting nodes (the
error names the limit) before anything is built from it.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import yaml

from pytest_cmdgen.e2e.scripted_commands import CommandScript, ScriptError
from pytest_cmdgen.errors import InputFileError
from pytest_cmdgen.llm.cache import CacheRecord, ResponseCache
from pytest_cmdgen.recipe.conversation_yaml import dump_yaml
from pytest_cmdgen.recipe.rephrase import load_rephrase_config
from pytest_cmdgen.runtime.errors import ProjectError
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.yamlio import MAX_NODES, load_marked
from tests.support.paths import EXAMPLES

pytest_plugins = ["pytester"]

LIMIT = f"more than {MAX_NODES:,} nodes through its aliases"


def bomb(indent: str = "", levels: int = 9) -> str:
    """``levels`` lines of anchors, each a list of nine aliases of the one before (9**levels leaves)."""
    lines = [f"{indent}l0: &l0 [ha, ha, ha, ha, ha, ha, ha, ha, ha]"]
    lines += [f"{indent}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def car_rental(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES / "car_rental", tmp_path / "car_rental"))


def test_a_project_file(car_rental: Path) -> None:
    config = car_rental / "config.yml"
    config.write_text(config.read_text() + "x_anchors:\n" + bomb("  "))  # the bomb starts on line 1 + lines
    first = len(config.read_text().splitlines()) - 9 + 1
    with pytest.raises(ProjectError) as caught:
        Project.load(car_rental)
    assert str(caught.value).startswith(f"{config}:{first + 5}:")  # l5, the first anchor past the limit
    assert LIMIT in str(caught.value)


def test_e2e_metadata_is_a_one_line_collection_error(pytester: pytest.Pytester, car_rental: Path) -> None:
    shutil.copytree(car_rental, pytester.path / "car_rental")
    test_file = pytester.path / "car_rental" / "tests" / "bomb.yml"
    test_file.write_text(
        "metadata:\n  - device:\n"
        + bomb("      ")
        + "test_cases:\n  - test_case: bombed\n    metadata: device\n    steps:\n      - user: hi\n"
    )
    result = pytester.runpytest("car_rental/tests/bomb.yml", "--cmdgen-assistant", "car_rental", "--collect-only")
    out = result.stdout.str()
    assert "car_rental/tests/bomb.yml:8:" in out  # line 8: l5 (metadata + device + 6 anchor lines)
    assert LIMIT in out
    assert "Traceback" not in out and "MemoryError" not in out


def test_a_command_script(tmp_path: Path) -> None:
    script = tmp_path / "commands.yml"
    script.write_text("conversations:\n  - original_test_case: a.yml::a\n    anchors:\n" + bomb("      "))
    with pytest.raises(ScriptError) as caught:
        CommandScript.load(script)
    assert str(caught.value).startswith(f"{script}:9:")
    assert LIMIT in str(caught.value)


def test_a_rephrase_config(tmp_path: Path) -> None:
    config = tmp_path / "rephrase.yml"
    config.write_text("llm:\n  model: gpt-4o-mini\n  extra:\n" + bomb("    "))
    with pytest.raises(InputFileError) as caught:
        load_rephrase_config(config)
    assert str(caught.value).startswith(f"{config}:9:")
    assert LIMIT in str(caught.value)


def test_a_cache_record_nested_without_end_is_a_miss_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = ResponseCache(tmp_path / "cache")
    good = CacheRecord(key="ab" + "0" * 62, kind="chat", model="m", text="start flow x")
    cache.put(good)
    bombed = CacheRecord(key="cd" + "0" * 62, kind="chat", model="m", text="x")
    path = cache.put(bombed)
    record = json.loads(path.read_text())
    depth = 200_000  # far deeper than the JSON decoder recurses
    path.write_text(json.dumps(record)[:-1] + ', "usage": ' + "[" * depth + "]" * depth + "}")
    with caplog.at_level(logging.WARNING, logger="pytest_cmdgen.llm"):
        assert cache.get(bombed.key) is None
    assert f"LLM cache record {path} not read: JSON nested too deeply; a miss" in caplog.text
    assert cache.get(good.key) == good


def test_what_we_write_reads_back_as_written_under_yaml_12_and_11() -> None:
    """Strings YAML 1.1 leaves alone but YAML 1.2 reads as numbers (a post code ``08001``, ``1e3``, ``0o17``)
    are quoted in our output files, which Rasa and the command-script reader read with YAML 1.2."""
    texts = ["08001", "1e3", "0o17", "09", "yes", "010", "12:30", "2024-05-01", "1_000", "Yes, 10:30", "plain"]
    data = {"steps": [{"user": text} for text in texts], "marked": load_marked("a: [1, b]\n", "x.yml")}
    written = dump_yaml(data)
    assert load_marked(written, "out.yml") == data
    assert yaml.safe_load(written) == data
    assert "user: plain\n" in written and "user: Yes, 10:30\n" in written  # quoted only where needed
