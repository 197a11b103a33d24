"""Rasa's E2E test format: parse test files, run a test case through the runtime, judge it like ``rasa test e2e``.

:func:`parse_e2e_text` reads a test file (both formats: steps and assertions) into a
:class:`TestSuiteFile` with YAML line marks; :func:`build_agent` and :func:`run_test_case` run one
:class:`TestCase` and judge it (:class:`TestRun`, with an expected-versus-actual transcript);
:class:`CommandScript` / :class:`ScriptedCommandSource` answer user turns from recorded commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_cmdgen._lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_cmdgen.e2e.judge import JudgeResult, judge
    from pytest_cmdgen.e2e.model import TestCase, TestSuiteFile
    from pytest_cmdgen.e2e.parser import looks_like_e2e_file, parse_e2e_text
    from pytest_cmdgen.e2e.runner import TestRun, build_agent, run_test_case
    from pytest_cmdgen.e2e.scripted_commands import CommandScript, ScriptedCommandSource
    from pytest_cmdgen.e2e.turns import Turn

__getattr__ = lazy_exports(
    __name__,
    {
        "build_agent": "runner",
        "CommandScript": "scripted_commands",
        "judge": "judge",
        "JudgeResult": "judge",
        "looks_like_e2e_file": "parser",
        "parse_e2e_text": "parser",
        "run_test_case": "runner",
        "ScriptedCommandSource": "scripted_commands",
        "TestCase": "model",
        "TestRun": "runner",
        "TestSuiteFile": "model",
        "Turn": "turns",
    },
)

__all__ = [
    "CommandScript",
    "JudgeResult",
    "ScriptedCommandSource",
    "TestCase",
    "TestRun",
    "TestSuiteFile",
    "Turn",
    "build_agent",
    "judge",
    "looks_like_e2e_file",
    "parse_e2e_text",
    "run_test_case",
]
