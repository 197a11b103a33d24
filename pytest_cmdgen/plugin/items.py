"""pytest collectors and items for E2E test files: thin glue over the parser and the session runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_cmdgen.e2e.model import TestCase, TestSuiteFile
from pytest_cmdgen.e2e.parser import parse_e2e_text, read_e2e_text
from pytest_cmdgen.errors import CmdgenInputError, describe_error
from pytest_cmdgen.plugin.failures import E2EFailure, format_failure
from pytest_cmdgen.plugin.stash import SETTINGS_KEY, role_of
from pytest_cmdgen.session.discovery import display_path
from pytest_cmdgen.session.runner import CaseRef


class E2EFile(pytest.File):
    """One E2E test YAML file; each test case becomes an ``E2EItem``."""

    suite: TestSuiteFile

    def collect(self) -> Iterator[_TestCaseItem]:
        """Parse the file; a bad file (or one meant as an E2E file that is not one) is a collection error for
        this file only, with file:line:column."""
        try:
            self.suite = parse_e2e_text(read_e2e_text(self.path, self._display_path), self._display_path)
        except CmdgenInputError as exc:
            raise self.CollectError(str(exc)) from None
        settings = self.config.stash[SETTINGS_KEY]
        with_rephrasing = settings.prepare and settings.num_rephrases > 0
        for case in self.suite.test_cases:
            yield E2EItem.from_parent(self, name=case.name, test_case=case)
            if not with_rephrasing:
                continue
            # Sub-items right after their test case: one per user turn, named so -k can pick them.
            for number, step in enumerate(case.user_steps, start=1):
                yield RephraseItem.from_parent(
                    self, name=f"{case.name}[rephrase {number}]", test_case=case, step_line=step.line
                )

    @property
    def _display_path(self) -> Path:
        """The path as shown in messages: relative to the invocation directory when possible."""
        return display_path(self.path, self.config.invocation_params.dir)


class _TestCaseItem(pytest.Item):
    """An item about one test case of an E2E file (the case itself, or one of its sub-items)."""

    def __init__(self, *, test_case: TestCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test_case = test_case

    @property
    def suite(self) -> TestSuiteFile:
        """The parsed file this test case belongs to."""
        return self.parent.suite  # type: ignore[union-attr]

    @property
    def test_id(self) -> str:
        """The test case's node id, ``<file>::<test case name>`` (the conversation's id in the datasets)."""
        return f"{self.parent.nodeid}::{self.test_case.name}"  # type: ignore[union-attr]

    def case_ref(self, rephrase: bool = False) -> CaseRef:
        """The test case as the library's session runner takes it."""
        return CaseRef(self.test_id, self.path, self.suite, self.test_case, rephrase=rephrase)


class E2EItem(_TestCaseItem):
    """One E2E test case."""

    is_rephrase = False

    def runtest(self) -> None:
        """Run the conversation through the runtime and judge it like ``rasa test e2e``."""
        role_of(self.config).run_item(self)

    def reportinfo(self) -> tuple[Path, int, str]:
        """The file, the test case's 0-based line, and a description for reports."""
        return self.path, self.test_case.line - 1, f"e2e: {self.test_case.name}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        """An expected-versus-actual transcript for E2E failures; one clean line for input errors."""
        error = excinfo.value
        if isinstance(error, E2EFailure):
            return format_failure(error)
        return describe_error(error) or super().repr_failure(excinfo, style=style)


class RephraseItem(_TestCaseItem):
    """Paraphrases of one user turn of a passing test case, validated against the command LLM.

    Passes unless something errored (LLM unreachable, an unparseable rephraser answer after retries);
    skipped with the reason when the test case failed or the turn has nothing to rephrase.
    """

    is_rephrase = True

    def __init__(self, *, step_line: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step_line = step_line

    def runtest(self) -> None:
        """Ask for paraphrases of the conversation (once) and report this turn's kept and rejected ones."""
        kept, asked = role_of(self.config).run_rephrase_item(self)
        self.user_properties.append(("cmdgen_paraphrases_kept", f"{kept}/{asked}"))

    def reportinfo(self) -> tuple[Path, int, str]:
        """The file, the user step's 0-based line, and a description for reports."""
        return self.path, self.step_line - 1, f"rephrase: {self.name}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        """One clean line for rephrasing and LLM errors."""
        message = describe_error(excinfo.value)
        if message is not None:
            return f"{self.path.name}:{self.step_line}: {message}"
        return super().repr_failure(excinfo, style=style)
