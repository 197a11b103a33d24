"""Nothing lost, nothing wasted, never a traceback: interruptions, failing runs and bad start-up input."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from pytest_cmdgen.plugin.failures import E2EFailure, format_failure
from pytest_cmdgen.plugin.roles import concurrency_share
from pytest_cmdgen.testing import ActionServer, ScriptedLLMServer
from tests.support.outputs import files_of

pytest_plugins = ["pytester"]

PREPARE = ("car_rental/tests", "--cmdgen-assistant", "car_rental", "--cmdgen-prepare", "--cmdgen-num-rephrases", "3")


def _prepare(pytester: pytest.Pytester, *extra: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*PREPARE, "-p", "no:cacheprovider", *extra)


# --- data lost or money wasted -------------------------------------------------------------------------


def test_ctrl_c_keeps_the_previous_dataset_and_stops_calling_the_llm(
    pytester: pytest.Pytester, car_rental: Path, llm: ScriptedLLMServer
) -> None:
    _prepare(pytester, "--cmdgen-out", "out").assert_outcomes(passed=17, skipped=1)
    before = files_of(pytester.path / "out")
    llm.latency = 0.2  # calls stay in flight long enough to interrupt the run in the middle
    llm.reset_counters()
    seen = threading.Event()
    stopped_at: list[int] = []
    command = [sys.executable, "-m", "pytest", *PREPARE, "--cmdgen-out", "out", "--cmdgen-cache-mode", "off",
               "--cmdgen-concurrency", "4", "-p", "no:cacheprovider"]  # fmt: skip
    process = subprocess.Popen(command, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def interrupt_after_ten_requests() -> None:
        while process.poll() is None and not seen.is_set():
            if len(llm.requests) >= 10:
                stopped_at.append(len(llm.requests))
                process.send_signal(signal.SIGINT)
                seen.set()
            seen.wait(0.01)

    watcher = threading.Thread(target=interrupt_after_ten_requests, daemon=True)
    watcher.start()
    output, _ = process.communicate(timeout=120)
    watcher.join(5)
    assert stopped_at, f"the run ended before it could be interrupted:\n{output}"
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "interrupted: nothing was written over out" in output
    assert files_of(pytester.path / "out") == before
    # After the signal only what was already in flight (at most --cmdgen-concurrency calls) reached the server.
    assert len(llm.requests) - stopped_at[0] <= 4


def test_a_run_with_no_data_point_never_replaces_a_dataset(
    pytester: pytest.Pytester, car_rental: Path, llm: ScriptedLLMServer
) -> None:
    _prepare(pytester, "--cmdgen-out", "out").assert_outcomes(passed=17, skipped=1)
    before = files_of(pytester.path / "out")
    empty_cache = pytester.mkdir("empty_cache")
    replay = ("--cmdgen-cache", str(empty_cache), "--cmdgen-cache-mode", "replay")
    result = _prepare(pytester, "--cmdgen-out", "out", *replay)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*no data point came out of this run (0 tests passed, 4 failed*previous*kept*"])
    assert files_of(pytester.path / "out") == before
    assert "Traceback" not in result.stdout.str()


def test_a_dataset_much_smaller_than_the_one_it_replaces_is_pointed_out(
    pytester: pytest.Pytester, car_rental: Path, llm: ScriptedLLMServer
) -> None:
    _prepare(pytester, "--cmdgen-out", "out").assert_outcomes(passed=17, skipped=1)
    result = _prepare(pytester, "--cmdgen-out", "out", "-k", "change")
    result.stdout.fnmatch_lines(["*the new dataset has * data points; the one it replaced in out had 41*"])


def test_rephrase_sub_items_of_a_failed_test_are_skipped_and_its_error_is_reported_once(
    pytester: pytest.Pytester, car_rental: Path, llm: ScriptedLLMServer
) -> None:
    empty_cache = pytester.mkdir("empty_cache")
    result = _prepare(pytester, "--cmdgen-cache", str(empty_cache), "--cmdgen-cache-mode", "replay", "-rs")
    result.assert_outcomes(failed=4, skipped=14)
    assert result.stdout.str().count("no recorded chat response for cache key") == 4
    # A skip points at the user turn's YAML line, not into the plugin.
    result.stdout.fnmatch_lines(["SKIPPED [[]*] car_rental/tests/rental.yml:*: the test case did not pass*"])
    assert "pytest_cmdgen" not in "\n".join(line for line in result.stdout.lines if line.startswith("SKIPPED"))


@pytest.mark.parametrize(
    ("breakage", "exit_code"),
    [("collection error", pytest.ExitCode.INTERRUPTED), ("bad -k", pytest.ExitCode.USAGE_ERROR)],
)
def test_no_llm_call_is_made_for_a_session_that_runs_no_test(
    pytester: pytest.Pytester, car_rental: Path, llm: ScriptedLLMServer, breakage: str, exit_code: pytest.ExitCode
) -> None:
    extra: tuple[str, ...] = ("-k", "not (")
    if breakage == "collection error":
        (car_rental / "tests" / "broken.yml").write_text("test_cases:\n  - test_case: x\n    steps: 3\n")
        extra = ()
    result = _prepare(pytester, "--cmdgen-out", "out", *extra)
    assert result.ret == exit_code
    assert llm.requests == []
    assert not (pytester.path / "out").exists()


def test_concurrency_is_a_whole_session_figure_under_xdist(
    pytester: pytest.Pytester, car_rental: Path, llm: ScriptedLLMServer
) -> None:
    llm.latency = 0.05
    (car_rental / "tests" / "more.yml").write_text((car_rental / "tests" / "rental.yml").read_text())
    result = _prepare(pytester, "--cmdgen-out", "out", "-n", "2", "--cmdgen-concurrency", "2")
    result.assert_outcomes(passed=34, skipped=2)
    assert llm.max_concurrency_observed <= 2
    result.stdout.fnmatch_lines(["*concurrency*at most 2 LLM calls in flight, split across 2 workers*"])


def test_concurrency_shares_add_up_to_the_session_figure() -> None:
    assert [concurrency_share(16, 3, i) for i in range(3)] == [6, 5, 5]
    assert [concurrency_share(2, 2, i) for i in range(2)] == [1, 1]
    assert [concurrency_share(1, 2, i) for i in range(2)] == [1, 1]  # every worker needs one call in flight


# --- tracebacks and unbounded input ---------------------------------------------------------------------


def test_a_broken_project_with_prepare_fails_the_tests_cleanly_and_keeps_the_summary(
    pytester: pytest.Pytester, car_rental: Path, llm: ScriptedLLMServer
) -> None:
    (car_rental / "domain.yml").write_text("version: '3.1'\nslots: [not, a, mapping]\n")
    result = _prepare(pytester, "--cmdgen-out", "out", "--junitxml", "junit.xml")
    result.assert_outcomes(failed=4, skipped=14)
    out = result.stdout.str()
    assert "Traceback" not in out
    assert out.count("domain.yml:2") >= 4  # each test names the file and line
    result.stdout.fnmatch_lines(["cmdgen: datasets: no data point came out of this run*nothing was written*"])
    result.stdout.fnmatch_lines(["*cmdgen summary*", "E2E tests*0 passed, 4 failed*"])
    assert (pytester.path / "junit.xml").is_file()
    assert not (pytester.path / "out").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--cmdgen-command-script", "missing.yml", "--cmdgen-command-script: no such file or directory: *missing.yml"),
        ("--cmdgen-command-script", "broken.yml", "--cmdgen-command-script: *broken.yml:*: invalid YAML*"),
        ("--cmdgen-command-script", "notascript.yml", "--cmdgen-command-script: *notascript.yml: expected a mapping*"),
        ("--cmdgen-assistant", "nowhere", "--cmdgen-assistant / cmdgen_assistant: no such directory: *nowhere"),
    ],
)
def test_a_bad_start_up_path_is_one_usage_error(
    pytester: pytest.Pytester, car_rental: Path, option: str, value: str, message: str
) -> None:
    pytester.makefile(".yml", broken="conversations:\n  - [unclosed\n", notascript="- just a list\n")
    result = pytester.runpytest_subprocess("car_rental/tests", "--cmdgen-assistant", "car_rental", option, value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_a_long_value_is_cut_in_the_report() -> None:
    huge = "x" * 5_000_000
    text = format_failure(E2EFailure("t", Path("tests/a.yml"), 7, "utter: utter_ok", f"bot said {huge}", (huge,)))
    assert len(text) < 2_000
    assert "(5,000,009 characters; the whole text is in tests/a.yml:7)" in text
    assert "(5,000,000 characters; the whole text is in tests/a.yml)" in text


def test_help_lists_the_choices_of_enumerated_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    out = result.stdout.str()
    assert "--cmdgen-output-format={instruction,conversational}" in out
    assert "--cmdgen-cache-mode={use,refresh,replay,off}" in out


def test_a_custom_action_error_says_its_reason_once(pytester: pytest.Pytester, car_rental: Path) -> None:
    tests = car_rental / "tests" / "rental.yml"
    tests.write_text(tests.read_text().split("test_cases:")[0].split("stub_custom_actions:")[0] + "test_cases:"
                     + tests.read_text().split("test_cases:")[1])  # fmt: skip
    (car_rental / "endpoints.yml").write_text("action_endpoint:\n  url: http://127.0.0.1:1/webhook\n")
    result = pytester.runpytest_subprocess(
        "car_rental/tests", "--cmdgen-assistant", "car_rental", "--cmdgen-command-script", "car_rental/commands.yml",
        "-k", "book and not opening",
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    actual = [line for line in result.stdout.lines if line.lstrip().startswith("actual:")]
    assert actual  # the failure report (and, on a wide terminal, the short summary too) shows it
    for line in actual:
        assert "custom action 'action_check_availability' failed: cannot reach the action server" in line
        assert line.count("cannot reach the action server") == 1


def test_the_action_server_takes_a_burst_of_concurrent_connections() -> None:
    with ActionServer({"action_ok": lambda tracker, domain: ([], [])}) as server:
        body = json.dumps({"next_action": "action_ok", "tracker": {"sender_id": "s"}, "domain": {}}).encode()
        statuses: list[int] = []
        lock = threading.Lock()
        start = threading.Barrier(64)

        def call() -> None:
            start.wait()
            request = urllib.request.Request(server.url, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response, lock:
                statuses.append(response.status)

        threads = [threading.Thread(target=call) for _ in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert statuses == [200] * 64


def test_a_failed_validation_call_loses_only_its_own_paraphrase(
    pytester: pytest.Pytester, car_rental: Path, llm: ScriptedLLMServer
) -> None:
    llm.add_fault_rule("Make it an SUV", "500")  # every validation call of this one paraphrase fails
    result = _prepare(pytester, "--cmdgen-out", "out", "--cmdgen-max-retries", "1", "-k", "book and not opening")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        ["*rental.yml:18: 1 of 2 paraphrases could not be validated (1 kept): 'Make it an SUV.': *HTTP 500*"]
    )
    rephrasings = (pytester.path / "out" / "2_rephrasings" / "car_rental" / "tests" / "rental.yml").read_text()
    assert "I'd like an SUV." in rephrasings and "Can I rent a car in Basel?" in rephrasings  # the others stay
    summary = (pytester.path / "out" / "result_summary.yaml").read_text()
    assert "num_unvalidated_rephrased_user_messages: 1" in summary
    result.stdout.fnmatch_lines(["*paraphrases*kept*rejected, 1 not validated (the call failed)*"])


# --- reporting that misleads ------------------------------------------------------------------------------


def test_a_command_script_run_calls_no_llm_even_when_responses_are_rephrased(
    pytester: pytest.Pytester, car_rental: Path, llm: ScriptedLLMServer
) -> None:
    with (car_rental / "endpoints.yml").open("a") as endpoints:
        endpoints.write("nlg:\n  type: rephrase\n")
    script = ("--cmdgen-command-script", "car_rental/commands.yml")
    result = pytester.runpytest_subprocess("car_rental/tests", "--cmdgen-assistant", "car_rental", *script)
    result.assert_outcomes(passed=4)
    assert llm.requests == []
    assert "an LLM is still called" not in result.stdout.str()


def test_a_command_script_run_says_at_start_up_which_part_still_needs_an_llm(
    pytester: pytest.Pytester, car_rental: Path, llm: ScriptedLLMServer
) -> None:
    config = car_rental / "config.yml"
    config.write_text(config.read_text().replace("active: false", "active: true"))
    llm.fail_always("no model here", status=404)
    script = ("--cmdgen-command-script", "car_rental/commands.yml", "--cmdgen-max-retries", "0")
    result = _prepare(pytester, *script)
    result.stdout.fnmatch_lines(
        [
            "cmdgen: an LLM is still called: the dataset's prompts need the embeddings model 'text-embedding-ada-002' "
            "for flow retrieval (turn it off with flow_retrieval: active: false in *config.yml:6)",
            "cmdgen: an LLM is still called: paraphrases need the rephraser and the command LLM "
            "(turn them off with --cmdgen-num-rephrases 0)",
        ]
    )
    result.assert_outcomes(failed=4, skipped=14)
    result.stdout.fnmatch_lines(["flow retrieval needs the embeddings model: embeddings request to openai *HTTP 404*"])
    assert "utter_internal_error_rasa" not in result.stdout.str()


@pytest.mark.parametrize("spelling", ["separate", "equals"])
def test_a_path_option_outside_the_project_leaves_the_rootdir_alone(
    pytester: pytest.Pytester, car_rental: Path, spelling: str
) -> None:
    elsewhere = pytester.mkdir("elsewhere") / "commands.yml"  # a sibling of the project, as a CI checkout has
    shutil.move(car_rental / "commands.yml", elsewhere)
    option = ["--cmdgen-command-script", str(elsewhere)]
    if spelling == "equals":
        option = [f"--cmdgen-command-script={elsewhere}"]
    project = pytester.mkdir("project")
    shutil.move(car_rental, project / "car_rental")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "car_rental/tests", "--cmdgen-assistant", "car_rental", *option,
         "-p", "no:cacheprovider", "-v"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"rootdir: {project}" in result.stdout
    assert "car_rental/tests/rental.yml::book a car PASSED" in result.stdout
