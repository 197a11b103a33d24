"""``--cmdgen-coverage`` and the coverage gates end to end, on the pizza shop with recorded commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.outputs import files_of
from tests.support.pizza import write_pizza_shop

pytest_plugins = ["pytester"]

GATE_EXIT = 6


@pytest.fixture
def shop(pytester: pytest.Pytester) -> Path:
    return write_pizza_shop(pytester.path)


def _run(pytester: pytest.Pytester, *args: str, paths: tuple[str, ...] = ("pizza/tests",)) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        *paths,
        "--cmdgen-assistant",
        "pizza",
        "--cmdgen-command-script",
        "pizza/commands.yml",
        "--cmdgen-num-rephrases",
        "0",
        "--cmdgen-out",
        "out",
        "-p",
        "no:cacheprovider",
        *args,
    )


def test_a_missing_command_type_fails_the_gate_with_exit_code_6_and_the_data_is_still_written(
    pytester: pytest.Pytester, shop: Path
) -> None:
    result = _run(pytester, "--cmdgen-prepare", "--cmdgen-require-commands", "start flow,SetSlot,cancel flow")
    result.assert_outcomes(passed=2)
    assert result.ret == GATE_EXIT
    result.stdout.fnmatch_lines(
        [
            "cmdgen: 1 of 3 coverage gates failed (exit code 6; the datasets were written; training does not start):",
            "cmdgen:   command type 'cancel flow': 0 found in the train split's data points, 1 required",
        ]
    )
    out = pytester.path / "out"
    assert (out / "4_train_test_split" / "ft_splits" / "train.jsonl").read_text()
    gates = yaml.safe_load((out / "result_summary.yaml").read_text())["coverage_gates"]
    assert [(g["subject"], g["found"], g["required"], g["passed"]) for g in gates] == [
        ("start flow", 1, 1, True),
        ("set slot", 2, 1, True),
        ("cancel flow", 0, 1, False),
    ]
    assert (out / "coverage" / "coverage_report_for_passed_tests.csv").is_file()


def test_the_flow_gate_names_the_missing_steps_with_their_lines_on_a_plain_run(
    pytester: pytest.Pytester, shop: Path
) -> None:
    result = _run(pytester, "--cmdgen-min-flow-coverage", "80")
    assert result.ret == GATE_EXIT
    result.stdout.fnmatch_lines(
        [
            "cmdgen: 1 of 1 coverage gates failed (exit code 6; training does not start):",
            "cmdgen:   flow coverage of the passed tests is 71.43 %, below the required 80 % (5 of 7 steps visited)",
            "cmdgen:   flow order_pizza: step 2_collect_address (collect) at data/flows.yml:13-14 was never visited",
            "cmdgen:   flow order_pizza: step 3_utter_delivery_confirmed (action) at data/flows.yml:15-16 was never "
            "visited",
            "*cmdgen coverage*",
            "flows below 100 % (passed tests)*",
            "order_pizza * 60.0 % *2_collect_address (data/flows.yml:13-14)*",
            "command histogram*",
            "start flow * 2*",
        ]
    )
    assert not (pytester.path / "out" / "result_summary.yaml").exists()  # no datasets without --cmdgen-prepare
    assert (pytester.path / "out" / "coverage" / "missing_tests.yml").is_file()


def test_gates_that_hold_exit_0_and_quiet_hides_the_tables(pytester: pytest.Pytester, shop: Path) -> None:
    pytester.makeini("[pytest]\ncmdgen_require_commands = start flow, set slot\ncmdgen_min_flow_coverage = 70\n")
    result = _run(pytester, "-q")
    assert result.ret == pytest.ExitCode.OK
    assert "cmdgen coverage" not in result.stdout.str()
    assert "gates failed" not in result.stdout.str()


def test_quiet_still_names_a_failed_gate(pytester: pytest.Pytester, shop: Path) -> None:
    result = _run(pytester, "-q", "--cmdgen-require-commands", "clarify")
    assert result.ret == GATE_EXIT
    assert "cmdgen coverage" not in result.stdout.str()
    result.stdout.fnmatch_lines(["cmdgen:   command type 'clarify': 0 found in the passed tests' LLM-annotated turns, "
                                 "1 required"])


def test_test_failures_keep_their_exit_code_and_the_failed_tests_get_their_own_report(
    pytester: pytest.Pytester, shop: Path
) -> None:
    result = _run(pytester, "--cmdgen-coverage", "--cmdgen-min-flow-coverage", "100",
                  paths=("pizza/tests", "pizza/failing"))
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    failed = (pytester.path / "out" / "coverage" / "coverage_report_for_failed_tests.csv").read_text()
    assert failed.splitlines()[1] == 'data/flows.yml::order pizza,40.0,5,3,"[13-14, 15-16, 18-19]"'


def test_an_unknown_command_name_is_a_usage_error_listing_the_valid_ones(pytester: pytest.Pytester, shop: Path) -> None:
    result = _run(pytester, "--cmdgen-require-commands", "start flow,start flwo")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--cmdgen-require-commands / cmdgen_require_commands: unknown command type 'start flwo'; valid: cancel flow, "
         "cannot handle, chitchat, clarify, human handoff, knowledge, repeat, set slot, skip question, start flow*"]
    )
    assert "Traceback" not in result.stderr.str()


def test_the_skeleton_tests_are_collected_and_reported_as_placeholders(pytester: pytest.Pytester, shop: Path) -> None:
    _run(pytester, "--cmdgen-coverage").assert_outcomes(passed=2)
    result = _run(pytester, "-rs", paths=("out/coverage/missing_tests.yml",))
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] out/coverage/missing_tests.yml:8: placeholder test: replace the user turns marked "
            "'TODO(cmdgen):' (line 11, 13, 15) with what the user says",
            "SKIPPED [[]1[]] out/coverage/missing_tests.yml:*: placeholder test: *",
        ]
    )


def test_a_conftest_gate_fails_the_session(pytester: pytest.Pytester, shop: Path) -> None:
    pytester.makeconftest(
        """
        def pytest_cmdgen_coverage_gate(report):
            order = next(flow for flow in report.passed.flows if flow.flow_id == "order_pizza")
            return [f"order_pizza must be fully tested: {step.step_id} is not" for step in order.missing]
        """
    )
    result = _run(pytester, "--cmdgen-coverage")
    assert result.ret == GATE_EXIT
    result.stdout.fnmatch_lines(
        [
            "cmdgen: 1 of 1 coverage gates failed*",
            "cmdgen:   order_pizza must be fully tested: 2_collect_address is not",
            "cmdgen:   order_pizza must be fully tested: 3_utter_delivery_confirmed is not",
        ]
    )


def test_xdist_gives_a_byte_identical_report(pytester: pytest.Pytester, shop: Path) -> None:
    both = ("pizza/tests", "pizza/failing")
    _run(pytester, "--cmdgen-coverage", "--cmdgen-out", "serial", "-n", "0", paths=both).assert_outcomes(
        passed=2, failed=1
    )
    _run(pytester, "--cmdgen-coverage", "--cmdgen-out", "parallel", "-n", "2", paths=both).assert_outcomes(
        passed=2, failed=1
    )
    serial, parallel = files_of(pytester.path / "serial"), files_of(pytester.path / "parallel")
    assert "coverage/flow_coverage_for_failed_tests.png" in serial
    assert serial == parallel
