"""The coverage report over a real session of the pizza shop: the numbers, Rasa's CSV worked out by hand,
coverage.json, the skeleton tests, and the merge of workers' records."""

from __future__ import annotations

import json

import yaml

from pytest_cmdgen.coverage import TestCoverage, build_report, coverage_csv
from pytest_cmdgen.coverage.skeletons import MISSING_TESTS_FILE
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.session import SessionResults
from tests.coverage_report.conftest import ShopRun

PASSED_CSV = """\
Flow Name,Coverage,Num Steps,Missing Steps,Line Numbers
data/flows.yml::order pizza,60.0,5,2,"[13-14, 15-16]"
data/flows.yml::check hours,100.0,1,0,[]
data/flows.yml::greet politely,100.0,1,0,[]
Total,71.43%,7,2,
"""

FAILED_CSV = """\
Flow Name,Coverage,Num Steps,Missing Steps,Line Numbers
data/flows.yml::order pizza,40.0,5,3,"[13-14, 15-16, 18-19]"
data/flows.yml::check hours,0.0,1,1,[24-24]
data/flows.yml::greet politely,0.0,1,1,[29-29]
Total,28.57%,7,5,
"""


def test_flow_coverage_counts_testable_visited_and_missing_steps_per_outcome(shop: ShopRun) -> None:
    report = shop.context.coverage
    assert report is not None
    passed, failed = report.passed, report.failed
    assert (passed.num_tests, failed.num_tests) == (2, 1)
    order, hours, greet = passed.flows
    assert [s.step_id for s in order.missing] == ["2_collect_address", "3_utter_delivery_confirmed"]
    assert [s.location for s in order.missing] == ["data/flows.yml:13-14", "data/flows.yml:15-16"]
    assert order.coverage == 60.0
    assert hours.coverage == 100.0
    assert greet.coverage == 100.0  # its step was reached through check_hours' call, and counts for greet_politely
    assert (passed.num_steps, passed.num_missing) == (7, 2)
    assert round(passed.coverage or 0, 2) == 71.43
    assert [f.flow_id for f in passed.incomplete_flows] == ["order_pizza"]
    assert [(f.flow_id, f.num_missing) for f in failed.flows] == [("order_pizza", 3), ("check_hours", 1),
                                                                  ("greet_politely", 1)]


def test_command_histograms_show_rasas_commands_and_the_train_val_data_points(shop: ShopRun) -> None:
    report = shop.context.coverage
    assert report is not None
    zero = dict.fromkeys(
        ["cancel flow", "chitchat", "clarify", "human handoff", "knowledge", "set slot", "skip question", "start flow"],
        0,
    )
    assert report.passed.commands == zero | {"set slot": 2, "start flow": 2}
    assert report.failed.commands == zero | {"set slot": 1, "start flow": 1}
    assert report.data_points == {
        "train": zero | {"set slot": 2, "start flow": 1},  # the split keeps every command type in train
        "val": zero | {"start flow": 1},
    }


def test_the_csv_files_match_rasas_columns_worked_out_by_hand(shop: ShopRun) -> None:
    directory = shop.config.out / "coverage"
    assert (directory / "coverage_report_for_passed_tests.csv").read_text() == PASSED_CSV
    assert (directory / "coverage_report_for_failed_tests.csv").read_text() == FAILED_CSV


def test_an_outcome_without_tests_is_rasas_empty_report(shop: ShopRun) -> None:
    project = Project.load(shop.config.assistant)
    report = build_report(project.flows, {"a::b": TestCoverage("passed", (("order_pizza", "1_collect_delivery"),))})
    assert coverage_csv(report.failed) == "Flow Name,Coverage,Num Steps,Missing Steps,Line Numbers\n"
    assert coverage_csv(report.passed).splitlines()[-1] == "Total,14.29%,7,6,"


def test_coverage_json_holds_every_figure(shop: ShopRun) -> None:
    data = json.loads((shop.config.out / "coverage" / "coverage.json").read_text())
    order = data["passed"]["flows"][0]
    assert order == {
        "flow": "order_pizza",
        "name": "data/flows.yml::order pizza",
        "coverage": 60.0,
        "num_steps": 5,
        "num_missing": 2,
        "tested_steps": ["0_collect_pizza_type", "1_collect_delivery", "4_utter_pickup_confirmed"],
        "missing_steps": [
            {"step": "2_collect_address", "kind": "collect", "lines": "13-14", "location": "data/flows.yml:13-14"},
            {
                "step": "3_utter_delivery_confirmed",
                "kind": "action",
                "lines": "15-16",
                "location": "data/flows.yml:15-16",
            },
        ],
    }
    assert data["passed"]["total"] == {"coverage": 71.43, "num_steps": 7, "num_missing": 2}
    assert data["failed"]["tests"] == 1
    assert data["data_points"]["val"]["start flow"] == 1
    assert data["charts"] == [
        "commands_histogram_for_data_points.png",
        "commands_histogram_for_failed_tests.png",
        "commands_histogram_for_passed_tests.png",
        "flow_coverage_for_failed_tests.png",
        "flow_coverage_for_passed_tests.png",
    ]


def test_skeleton_tests_follow_the_shortest_path_with_placeholder_user_turns(shop: ShopRun) -> None:
    document = yaml.safe_load((shop.config.out / "coverage" / MISSING_TESTS_FILE).read_text())
    cases = {case["test_case"]: case["steps"] for case in document["test_cases"]}
    assert list(cases) == ["order_pizza reaches 2_collect_address", "order_pizza reaches 3_utter_delivery_confirmed"]
    steps = cases["order_pizza reaches 3_utter_delivery_confirmed"]
    assert [next(iter(step)) for step in steps] == ["user", "utter", "user", "utter", "user", "utter", "user", "utter"]
    assert [step["utter"] for step in steps if "utter" in step] == [
        "utter_ask_pizza_type",
        "utter_ask_delivery",
        "utter_ask_address",
        "utter_delivery_confirmed",
    ]
    users = [step["user"] for step in steps if "user" in step]
    assert all(text.startswith("TODO(cmdgen): ") for text in users)
    assert "starts the flow 'order pizza'" in users[0]
    assert "give the slot delivery" in users[2] and "the branch where `slots.delivery` holds" in users[2]
    assert cases["order_pizza reaches 2_collect_address"][-1] == {"utter": "utter_ask_address"}


def test_workers_records_merge_into_the_same_report(shop: ShopRun) -> None:
    results = shop.context.results
    merged = SessionResults()
    for test_id in sorted(results.coverage, reverse=True):  # as if each test ran on another worker
        part = SessionResults()
        part.coverage[test_id] = results.coverage[test_id]
        merged.merge(part.to_payload())
    project = Project.load(shop.config.assistant)
    records = {k: TestCoverage.from_dict(v) for k, v in merged.coverage.items()}
    again = build_report(project.flows, records, shown_file=lambda f: "data/flows.yml")
    report = shop.context.coverage
    assert report is not None
    assert again.passed == report.passed and again.failed == report.failed
