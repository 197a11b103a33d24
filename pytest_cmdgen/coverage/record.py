"""What one test run contributes to the coverage report: the flow steps it visited and the commands its
LLM-annotated user turns produced, as plain data an xdist worker can ship.

Visited steps are read from the run's tracker events: every ``DialogueStackUpdated`` is replayed and each
user-flow frame's step is noted, so a step counts for the flow it belongs to, also when that flow was
reached through a ``call``. Commands are the ``llm_commands`` of the user messages that went to the
command generator (what the fine-tuned model will be asked to produce), counted per command type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_cmdgen.runtime.events import DialogueStackUpdated, Event, Restarted, SessionStarted, UserUttered
from pytest_cmdgen.runtime.flows import CONTINUE_PREFIX, END, START
from pytest_cmdgen.runtime.stack import USER_FLOW, apply_patch

Status = Literal["passed", "failed"]
"""The outcome a coverage record belongs to."""

STATUSES: tuple[Status, ...] = ("passed", "failed")
"""Both outcomes, in report order."""


@dataclass(frozen=True)
class TestCoverage:
    """One test run's part of the report: its outcome, the ``(flow id, step id)`` pairs it visited and the
    command types of its LLM-annotated user turns with their counts."""

    __test__ = False

    status: Status
    visited: tuple[tuple[str, str], ...] = ()
    commands: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Builtins only (sorted, so equal records give equal bytes), for ``SessionResults``."""
        return {
            "status": self.status,
            "visited": [list(pair) for pair in sorted(self.visited)],
            "commands": dict(sorted(self.commands.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TestCoverage:
        """The record :meth:`to_dict` gave."""
        status: Status = "passed" if data.get("status") == "passed" else "failed"
        visited = tuple(sorted((str(f), str(s)) for f, s in data.get("visited") or ()))
        commands = {str(k): int(v) for k, v in (data.get("commands") or {}).items()}
        return cls(status, visited, commands)


def visited_steps(events: Iterable[Event]) -> set[tuple[str, str]]:
    """``(flow id, step id)`` of every step a user-flow frame stood at, replaying the stack updates."""
    stack: list[dict[str, Any]] = []
    visited: set[tuple[str, str]] = set()
    for event in events:
        if isinstance(event, (SessionStarted, Restarted)):
            stack = []
        elif isinstance(event, DialogueStackUpdated):
            stack = apply_patch(stack, event.update)
            for frame in stack:
                flow_id, step_id = frame.get("flow_id"), frame.get("step_id")
                if frame.get("type") != USER_FLOW or not flow_id or not isinstance(step_id, str):
                    continue
                step_id = step_id.removeprefix(CONTINUE_PREFIX)
                if step_id not in (START, END):
                    visited.add((str(flow_id), step_id))
    return visited


def llm_command_counts(events: Iterable[Event]) -> Counter[str]:
    """Command types (and how often) in the ``llm_commands`` of the user messages among ``events``."""
    counts: Counter[str] = Counter()
    for event in events:
        if not isinstance(event, UserUttered):
            continue
        commands = (event.parse_data or {}).get("llm_commands")
        if isinstance(commands, list):
            counts.update(str(c.get("command")) for c in commands if isinstance(c, Mapping) and c.get("command"))
    return counts


def record_test(events: Iterable[Event], passed: bool) -> TestCoverage:
    """The coverage record of a finished test run from its tracker events."""
    events = list(events)
    return TestCoverage(
        status="passed" if passed else "failed",
        visited=tuple(sorted(visited_steps(events))),
        commands=dict(sorted(llm_command_counts(events).items())),
    )


__all__ = ["STATUSES", "Status", "TestCoverage", "llm_command_counts", "record_test", "visited_steps"]
