"""Coverage gates in the library pipeline: what a failed gate says, where it is recorded, and that the
pipeline goes on with ``gates_passed`` False (the signal that stops training)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_cmdgen.coverage import CoverageReport, CustomGate, GateSettings, evaluate_gates
from tests.coverage_report.conftest import ShopRun, run_shop


def test_gates_that_hold_pass(shop: ShopRun) -> None:
    report = shop.context.coverage
    assert report is not None
    gates = evaluate_gates(report, GateSettings(min_flow_coverage=70, require_commands=("StartFlow", "set slot")))
    assert [(g.name, g.subject, g.passed) for g in gates] == [
        ("min_flow_coverage", None, True),
        ("require_command", "start flow", True),
        ("require_command", "set slot", True),
    ]


def test_a_failed_flow_gate_names_every_missing_step_with_its_lines(shop: ShopRun) -> None:
    report = shop.context.coverage
    assert report is not None
    (gate,) = evaluate_gates(report, GateSettings(min_flow_coverage=75))
    assert not gate.passed
    assert (gate.found, gate.required) == (71.43, 75)
    assert gate.failures == (
        "flow coverage of the passed tests is 71.43 %, below the required 75 % (5 of 7 steps visited)",
        "flow order_pizza: step 2_collect_address (collect) at data/flows.yml:13-14 was never visited",
        "flow order_pizza: step 3_utter_delivery_confirmed (action) at data/flows.yml:15-16 was never visited",
    )


def test_command_gates_count_in_the_train_split_when_data_was_prepared(shop: ShopRun) -> None:
    report = shop.context.coverage
    assert report is not None
    settings = GateSettings(require_commands=("SetSlot", "start flow", "cancel flow"), min_command_examples=2)
    gates = evaluate_gates(report, settings)
    assert [(g.subject, g.found, g.passed) for g in gates] == [
        ("set slot", 2, True),
        ("start flow", 1, False),  # 2 in the passed tests, but only 1 in the train split
        ("cancel flow", 0, False),
    ]
    assert gates[2].failures == ("command type 'cancel flow': 0 found in the train split's data points, 2 required",)


def test_a_custom_gate_reports_what_it_returns(shop: ShopRun) -> None:
    report = shop.context.coverage
    assert report is not None

    def greet_fully_tested(report: CoverageReport) -> list[str]:
        return [f"{f.flow_id} below 100 %" for f in report.passed.flows if f.num_missing]

    (gate,) = evaluate_gates(report, GateSettings(), [CustomGate("mine", greet_fully_tested)])
    assert (gate.name, gate.passed, gate.failures) == ("mine", False, ("order_pizza below 100 %",))


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> ShopRun:
    return run_shop(
        tmp_path_factory.mktemp("gated"),
        prepare=True,
        min_flow_coverage=90.0,
        require_commands=("start flow", "cancel flow"),
    )


def test_a_failed_gate_keeps_the_datasets_records_every_gate_and_stops_training(gated: ShopRun) -> None:
    context = gated.context
    assert context.errors == []  # a failed gate is no pipeline error: the later steps run and read it
    assert context.steps_run[:4] == ["merge", "datasets", "coverage", "gates"]
    assert context.gates_passed is False  # what the train step checks before it starts
    out: Path = gated.config.out
    assert (out / "4_train_test_split" / "ft_splits" / "train.jsonl").read_text()
    summary = yaml.safe_load((out / "result_summary.yaml").read_text())
    assert summary["num_ft_data_points"] == 3
    assert summary["coverage_gates"] == [
        {
            "gate": "min_flow_coverage",
            "found": 71.43,
            "required": 90,
            "passed": False,
            "failures": [
                "flow coverage of the passed tests is 71.43 %, below the required 90 % (5 of 7 steps visited)",
                "flow order_pizza: step 2_collect_address (collect) at data/flows.yml:13-14 was never visited",
                "flow order_pizza: step 3_utter_delivery_confirmed (action) at data/flows.yml:15-16 was never visited",
            ],
        },
        {"gate": "require_command", "subject": "start flow", "found": 1, "required": 1, "passed": True},
        {
            "gate": "require_command",
            "subject": "cancel flow",
            "found": 0,
            "required": 1,
            "passed": False,
            "failures": ["command type 'cancel flow': 0 found in the train split's data points, 1 required"],
        },
    ]


def test_without_gates_the_summary_stays_rasas(shop: ShopRun) -> None:
    summary = yaml.safe_load((shop.config.out / "result_summary.yaml").read_text())
    assert "coverage_gates" not in summary
    assert shop.context.gates == [] and shop.context.gates_passed


def test_an_unknown_command_name_fails_the_gates_step_with_the_valid_names(tmp_path: Path) -> None:
    run = run_shop(tmp_path, require_commands=("start flwo",))
    assert run.context.steps_run == ["merge", "datasets", "coverage"]
    (error,) = run.context.errors
    assert error.startswith("gates: require_commands: unknown command type 'start flwo'; valid: cancel flow,")
