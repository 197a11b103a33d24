"""Skeleton E2E tests for the flow steps no passing test visited: ``coverage/missing_tests.yml``.

One test case per missing step, in the step format: the bot turns along the shortest path from the flow's
start to the step are filled in (``utter:`` of every question and response on the way), the user turns
are placeholders (:data:`~pytest_cmdgen.e2e.placeholders.PLACEHOLDER_PREFIX`) that say what the user must
achieve there: start the flow, give a slot, and which branch the flow must then take. A custom action on
the way is a comment (its effect can be stubbed under ``stub_custom_actions``). The file loads as an E2E
test file; until its placeholders are replaced, its test cases are reported as placeholders, never run.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field

from pytest_cmdgen.coverage.flowgraph import PathStep, branch_conditions, shortest_path
from pytest_cmdgen.coverage.report import StatusCoverage, StepRef
from pytest_cmdgen.e2e.placeholders import PLACEHOLDER_PREFIX
from pytest_cmdgen.runtime.flows import Flow, FlowsList

MISSING_TESTS_FILE = "missing_tests.yml"
"""File name of the skeletons, in ``<out>/coverage/``."""

_HEADER = f"""\
# Skeleton E2E tests for the flow steps that no passing test visited (written by pytest-cmdgen's coverage
# report). Each test case follows the shortest path from the flow's start to one missing step: the bot
# turns are filled in, each user turn is a placeholder starting with "{PLACEHOLDER_PREFIX}" that says what
# the user must achieve there. Replace every placeholder with what a user would say (and stub custom
# actions where a comment says so), then move the test into your E2E tests. Until then pytest-cmdgen
# reports these test cases as placeholders and never runs them.
"""


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


@dataclass
class _UserTurn:
    """A placeholder user turn being written; branch hints are added as the path goes on."""

    goal: str
    hints: list[str] = field(default_factory=list)

    def text(self) -> str:
        then = "".join(f"; then {hint}" for hint in self.hints)
        return f"{PLACEHOLDER_PREFIX} {self.goal}{then}"


@dataclass
class _Comment:
    text: str


@dataclass
class _Utter:
    name: str


def _condition_text(condition: str | bool) -> str:
    return f"`{condition}`" if isinstance(condition, str) else f"`{str(condition).lower()}`"


def _branch_hint(path_step: PathStep) -> str | None:
    """What must hold for the path to leave ``path_step`` by its link (None for an unconditional one)."""
    link = path_step.link
    step = path_step.step
    if link is None or step.is_static_next:
        return None
    own, earlier = branch_conditions(step, link)
    if own is not None:
        return f"the flow must take the branch where {_condition_text(own)} holds"
    if earlier:
        listed = ", ".join(_condition_text(c) for c in earlier)
        return f"the flow must take the else branch (where none of {listed} holds)"
    return None


def _turns(flow: Flow, path: list[PathStep], responses: Collection[str]) -> list[_UserTurn | _Comment | _Utter]:
    """The steps of one skeleton test along ``path``."""
    description = f" ({flow.description.strip()})" if flow.description.strip() else ""
    turns: list[_UserTurn | _Comment | _Utter] = [
        _UserTurn(f"a message that starts the flow {flow.readable_name!r}{description}")
    ]
    last_user = turns[0]
    assert isinstance(last_user, _UserTurn)
    for index, path_step in enumerate(path):
        step = path_step.step
        is_target = index == len(path) - 1
        if step.kind == "collect":
            if step.utter in responses:
                turns.append(_Utter(str(step.utter)))
            else:
                turns.append(_Comment(f"the assistant asks for the slot {step.collect} ({step.collect_action()})"))
            if not is_target:
                about = f" ({step.description.strip()})" if step.description else ""
                last_user = _UserTurn(f"give the slot {step.collect}{about}")
                turns.append(last_user)
        elif step.kind == "action" and step.action in responses:
            turns.append(_Utter(str(step.action)))
        elif step.kind == "action":
            turns.append(_Comment(f"the action {step.action} runs here (stub it under stub_custom_actions if needed)"))
        elif step.kind == "call":
            turns.append(_Comment(f"the flow {step.call} is called here and runs to its end"))
        hint = _branch_hint(path_step)
        if hint is not None:
            last_user.hints.append(hint)
    return turns


def skeleton_test(flow: Flow, missing: StepRef, responses: Collection[str]) -> str | None:
    """The YAML of one skeleton test case reaching ``missing`` (an item of ``test_cases:``), or None when
    the step cannot be reached from the flow's start."""
    path = shortest_path(flow, missing.step_id)
    if not path:
        return None
    lines = [
        f"  - test_case: {_quoted(f'{flow.id} reaches {missing.step_id}')}",
        f"    # missing step {missing.step_id} ({missing.kind}) at {missing.location}",
        "    steps:",
    ]
    for turn in _turns(flow, path, responses):
        if isinstance(turn, _UserTurn):
            lines.append(f"      - user: {_quoted(turn.text())}")
        elif isinstance(turn, _Utter):
            lines.append(f"      - utter: {turn.name}")
        else:
            lines.append(f"      # {turn.text}")
    return "\n".join(lines) + "\n"


def missing_tests_yaml(status: StatusCoverage, flows: FlowsList, responses: Collection[str]) -> str | None:
    """The skeleton tests for every missing step of ``status`` (the passed tests' coverage), as one E2E
    test file, or None when nothing is missing."""
    cases: list[str] = []
    for coverage in status.flows:
        flow = flows.get(coverage.flow_id)
        if flow is None:
            continue
        for missing in coverage.missing:
            case = skeleton_test(flow, missing, responses)
            if case is not None:
                cases.append(case)
    if not cases:
        return None
    return _HEADER + "test_cases:\n" + "".join(cases)


__all__ = ["MISSING_TESTS_FILE", "missing_tests_yaml", "skeleton_test"]
