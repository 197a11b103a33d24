"""``StubActionRunner``: answers custom actions from a test file's ``stub_custom_actions``."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_cmdgen.actions.base import ActionResult
from pytest_cmdgen.runtime.errors import ActionError


@dataclass(frozen=True)
class StubResponse:
    """A stubbed custom action: the events and responses it returns (``stub_custom_actions:``)."""

    key: str
    events: tuple[dict[str, Any], ...] = ()
    responses: tuple[dict[str, Any], ...] = ()
    line: int = 0



@dataclass
class StubActionRunner:
    """Stubbed custom actions of one test case: ``<test case>::<action>`` wins over ``<action>``.

    ``stubs`` maps stub keys (as written in the file) to their events and responses.
    """

    stubs: Mapping[str, StubResponse] = field(default_factory=dict)
    test_case: str = ""

    @classmethod
    def for_test_case(cls, stubs: Mapping[str, StubResponse], test_case: str) -> StubActionRunner:
        """A test file's ``stub_custom_actions`` as seen by ``test_case``."""
        return cls(stubs=dict(stubs), test_case=test_case)

    def stub_for(self, action_name: str) -> StubResponse | None:
        """The stub that answers ``action_name``, or None."""
        if self.test_case:
            specific = self.stubs.get(f"{self.test_case}::{action_name}")
            if specific is not None:
                return specific
        return self.stubs.get(action_name)

    def has(self, action_name: str) -> bool:
        """True if a stub answers ``action_name``."""
        return self.stub_for(action_name) is not None

    def run(self, action_name: str, tracker: Any = None, project: Any = None) -> ActionResult:
        """The stub's events and responses (deep copies, so callers may change them)."""
        stub = self.stub_for(action_name)
        if stub is None:
            raise ActionError(action_name, "no stub for this action in 'stub_custom_actions'")
        return ActionResult(
            events=[copy.deepcopy(dict(e)) for e in stub.events],
            responses=[copy.deepcopy(dict(r)) for r in stub.responses],
        )


__all__ = ["StubActionRunner", "StubResponse"]
