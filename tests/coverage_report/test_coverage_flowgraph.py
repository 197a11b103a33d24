"""Testable steps and shortest paths over real flows: the pizza shop's, and a flow with a loop."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_cmdgen.coverage import flowgraph
from pytest_cmdgen.coverage.flowgraph import reachable_steps, shortest_path, step_lines
from pytest_cmdgen.runtime.flows import FlowsList, parse_flows_document
from pytest_cmdgen.runtime.project import Project
from tests.support.pizza import write_pizza_shop

LOOPING = """\
flows:
  survey:
    description: A survey that asks again until the answer is clear.
    steps:
      - id: ask
        collect: answer
        next:
          - if: slots.answer = "again"
            then: ask
          - else: done
      - id: done
        action: utter_thanks
        next: END
      - id: never
        action: utter_never_said
"""


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> FlowsList:
    return Project.load(write_pizza_shop(tmp_path_factory.mktemp("shop"))).flows


def test_testable_steps_are_the_reachable_actions_and_collects_of_every_branch(flows: FlowsList) -> None:
    order = flows.get("order_pizza")
    assert order is not None
    assert [s.id for s in flowgraph.testable_steps(order)] == [
        "0_collect_pizza_type",
        "1_collect_delivery",
        "2_collect_address",
        "3_utter_delivery_confirmed",
        "4_utter_pickup_confirmed",
    ]
    assert [step_lines(s) for s in flowgraph.testable_steps(order)] == ["6-7", "8-19", "13-14", "15-16", "18-19"]


def test_a_call_is_not_followed_and_is_no_testable_step(flows: FlowsList) -> None:
    hours = flows.get("check_hours")
    assert hours is not None
    assert [s.id for s in reachable_steps(hours)] == ["0_call_greet_politely", "1_utter_hours"]
    assert [s.id for s in flowgraph.testable_steps(hours)] == ["1_utter_hours"]  # utter_hello counts for greet_politely


def test_loops_are_cut_and_unreachable_steps_are_not_testable() -> None:
    (survey,) = parse_flows_document(yaml.safe_load(LOOPING), "flows.yml")
    assert [s.id for s in flowgraph.testable_steps(survey)] == ["ask", "done"]
    path = shortest_path(survey, "done")
    assert [(p.step.id, p.link.target if p.link else None) for p in path] == [("ask", "done"), ("done", None)]
    assert shortest_path(survey, "never") == []


def test_the_shortest_path_takes_the_branch_that_leads_to_the_step(flows: FlowsList) -> None:
    order = flows.get("order_pizza")
    assert order is not None
    path = shortest_path(order, "3_utter_delivery_confirmed")
    assert [p.step.id for p in path] == [
        "0_collect_pizza_type",
        "1_collect_delivery",
        "2_collect_address",
        "3_utter_delivery_confirmed",
    ]
    assert path[1].link is not None and path[1].link.condition == "slots.delivery"
    else_path = shortest_path(order, "4_utter_pickup_confirmed")
    assert else_path[1].link is not None and else_path[1].link.condition is None  # the else branch
    assert Path(order.file or "").name == "flows.yml"
