"""The plugin changes nothing in a test suite that does not use it, and imports nothing heavy."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

_VARIABLE = re.compile(r"(in \d+\.\d+s.*|^plugins: .*|^rootdir: .*|^platform .*)")


def _normalise(text: str) -> list[str]:
    return [_VARIABLE.sub("<variable>", line) for line in text.splitlines()]


def test_unrelated_suite_output_is_unchanged(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_math="""
import pytest

def test_add():
    assert 1 + 1 == 2

def test_fail():
    assert 2 * 2 == 5

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""
    )
    pytester.makefile(".yaml", config="name: not a test\n")
    with_plugin = pytester.runpytest_subprocess("-rA")
    without_plugin = pytester.runpytest_subprocess("-rA", "-p", "no:cmdgen")
    assert with_plugin.ret == without_plugin.ret == 1
    assert _normalise(with_plugin.stdout.str()) == _normalise(without_plugin.stdout.str())
    assert with_plugin.stderr.str() == without_plugin.stderr.str()


def test_plugin_import_pulls_in_no_heavy_dependency() -> None:
    heavy = ["torch", "transformers", "trl", "peft", "datasets", "unsloth", "openai", "jinja2", "rich", "pypred",
             "matplotlib"]
    code = f"import sys, pytest_cmdgen.plugin; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == ""
