"""A flow as a graph of steps: which steps a test can reach, and the shortest way to each.

Rasa's coverage report counts, per user flow, the distinct ``action`` and ``collect`` steps reachable from
the flow's first step along its ``next`` links (every branch followed, loops cut, ``call`` steps not
entered: a called flow's steps count for that flow). :func:`testable_steps` gives those steps;
:func:`shortest_path` the fewest steps from the start to one of them, with the link taken at each step,
for the skeleton tests of :mod:`.skeletons`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from pytest_cmdgen.runtime.flows import CONTINUE_PREFIX, Flow, FlowStep, NextLink

TESTABLE_KINDS = ("action", "collect")
"""The step kinds a coverage report counts (Rasa's)."""


@dataclass(frozen=True)
class PathStep:
    """One step on a path through a flow, and the link that leads on to the next step (None at the end)."""

    step: FlowStep
    link: NextLink | None = None


def _target(link: NextLink) -> str:
    return link.target.removeprefix(CONTINUE_PREFIX)


def reachable_steps(flow: Flow) -> list[FlowStep]:
    """Every step reachable from the flow's first step, in the flow's (pre-)order."""
    if not flow.steps:
        return []
    seen = {flow.first_step.id}
    queue = deque([flow.first_step])
    while queue:
        step = queue.popleft()
        for link in step.next:
            target = flow.step(_target(link))
            if target is not None and target.id not in seen:  # END is no step; a step seen twice is a loop
                seen.add(target.id)
                queue.append(target)
    return [step for step in flow.steps if step.id in seen]


def testable_steps(flow: Flow) -> list[FlowStep]:
    """The reachable ``action`` and ``collect`` steps of the flow, in the flow's order."""
    return [step for step in reachable_steps(flow) if step.kind in TESTABLE_KINDS]


def shortest_path(flow: Flow, step_id: str) -> list[PathStep]:
    """The fewest steps from the flow's first step to ``step_id`` (both included), each with the link it
    leaves by; ties go to the earlier link. Empty when the step cannot be reached."""
    if not flow.steps:
        return []
    first = flow.first_step
    came_from: dict[str, tuple[str, NextLink] | None] = {first.id: None}
    queue = deque([first])
    while queue:
        step = queue.popleft()
        if step.id == step_id:
            break
        for link in step.next:
            target = flow.step(_target(link))
            if target is not None and target.id not in came_from:
                came_from[target.id] = (step.id, link)
                queue.append(target)
    if step_id not in came_from:
        return []
    path: list[PathStep] = []
    current, leaving = step_id, None
    while True:
        found = flow.step(current)
        assert found is not None
        path.append(PathStep(found, leaving))
        previous = came_from[current]
        if previous is None:
            break
        current, leaving = previous
    return list(reversed(path))


def step_lines(step: FlowStep) -> str:
    """The step's YAML line range ``"start-end"`` (empty when unknown)."""
    return str(step.metadata.get("line_numbers") or "")


def branch_conditions(step: FlowStep, link: NextLink) -> tuple[str | bool | None, tuple[str | bool, ...]]:
    """For a link leaving ``step``: its own condition (None for an unconditional or ``else`` link) and the
    conditions of the links before it, which must all be false for it to be taken."""
    earlier: list[str | bool] = []
    for candidate in step.next:
        if candidate is link:
            break
        if candidate.condition is not None:
            earlier.append(candidate.condition)
    return link.condition, tuple(earlier)


__all__ = [
    "TESTABLE_KINDS",
    "PathStep",
    "branch_conditions",
    "reachable_steps",
    "shortest_path",
    "step_lines",
    "testable_steps",
]
