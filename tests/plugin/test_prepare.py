"""``--cmdgen-prepare`` end to end, against a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from tests.support.outputs import files_of
from tests.support.paths import EXAMPLES

pytest_plugins = ["pytester"]

LAYOUT = [
    "1_command_annotations/car_rental/tests/rental.yml",
    "2_rephrasings/car_rental/tests/rental.yml",
    "3_llm_finetune_data/llm_ft_data.jsonl",
    "4_train_test_split/e2e_tests/train/car_rental/tests/rental.yml",
    "4_train_test_split/e2e_tests/validation/car_rental/tests/rental.yml",
    "4_train_test_split/ft_splits/train.jsonl",
    "4_train_test_split/ft_splits/val.jsonl",
    "coverage/commands_histogram_for_data_points.png",
    "coverage/commands_histogram_for_passed_tests.png",
    "coverage/coverage.json",
    "coverage/coverage_report_for_failed_tests.csv",
    "coverage/coverage_report_for_passed_tests.csv",
    "coverage/flow_coverage_for_passed_tests.png",
    "coverage/missing_tests.yml",
    "params.yaml",
    "result_summary.yaml",
]


def _prepare(pytester: pytest.Pytester, out: str, *extra: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "car_rental/tests",
        "--cmdgen-assistant",
        "car_rental",
        "--cmdgen-prepare",
        "--cmdgen-num-rephrases",
        "3",
        "--cmdgen-out",
        out,
        "-p",
        "no:cacheprovider",
        *extra,
    )


def test_writes_the_full_layout_with_the_summary(pytester: pytest.Pytester, llm: ScriptedLLMServer) -> None:
    result = _prepare(pytester, "out")
    result.assert_outcomes(passed=17, skipped=1)
    files = files_of(pytester.path / "out")
    assert sorted(files) == LAYOUT  # no Hugging Face copy unless asked for
    summary = yaml.safe_load(files["result_summary.yaml"])
    assert summary["num_input_e2e_tests"] == 4
    assert summary["num_annotated_conversations"] == 4
    assert summary["num_user_messages_across_conversations"] == 13  # the /SetSlots payload is not annotated
    train = [json.loads(line) for line in files["4_train_test_split/ft_splits/train.jsonl"].splitlines()]
    assert train and set(train[0]) == {"prompt", "completion"}
    assert not any(b"test-key-not-a-secret" in content for content in files.values())
    result.stdout.fnmatch_lines(["*cmdgen summary*", "E2E tests*4 passed, 0 failed, 0 skipped*", "output *"])
    assert "datasets" not in result.stdout.str()


def test_the_hf_dataset_copy_is_written_when_asked_for(pytester: pytest.Pytester, llm: ScriptedLLMServer) -> None:
    import datasets  # the test extra installs it

    _prepare(pytester, "out", "--cmdgen-hf-dataset").assert_outcomes(passed=17, skipped=1)
    split = pytester.path / "out" / "4_train_test_split"
    train = [json.loads(line) for line in (split / "ft_splits" / "train.jsonl").read_text().splitlines()]
    saved = datasets.load_from_disk(str(split / "hf_dataset"))
    assert saved["train"].num_rows == len(train)
    assert saved["train"][0] == train[0]


def test_asking_for_the_hf_dataset_without_datasets_is_a_usage_error(
    pytester: pytest.Pytester, llm: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real interpreter in which `datasets` cannot be imported: a meta-path finder that refuses it.
    blocker = pytester.mkdir("no_datasets")
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'datasets' or name.startswith('datasets.'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Refuse())\n"
    )
    monkeypatch.setenv("PYTHONPATH", f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    result = _prepare(pytester, "out", "--cmdgen-hf-dataset")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--cmdgen-hf-dataset*the datasets package is not installed*"])
    assert "Traceback" not in result.stderr.str()
    assert not (pytester.path / "out").exists()


def test_a_second_run_answers_everything_from_the_cache(pytester: pytest.Pytester, llm: ScriptedLLMServer) -> None:
    _prepare(pytester, "first").assert_outcomes(passed=17, skipped=1)
    calls = sum(llm.counts.values())
    assert calls > 0
    _prepare(pytester, "second").assert_outcomes(passed=17, skipped=1)
    assert sum(llm.counts.values()) == calls  # zero requests in the second run
    assert files_of(pytester.path / "first") | {"params.yaml": b""} == files_of(pytester.path / "second") | {
        "params.yaml": b""
    }


def test_replay_mode_fails_an_item_whose_call_is_missing_with_the_key(
    pytester: pytest.Pytester, llm: ScriptedLLMServer
) -> None:
    result = _prepare(pytester, "out", "--cmdgen-cache-mode", "replay", "-k", "cars and not rephrase")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no recorded chat response for cache key *--cmdgen-cache-mode use*"])
    assert sum(llm.counts.values()) == 0


def test_xdist_gives_byte_identical_files(pytester: pytest.Pytester, llm: ScriptedLLMServer) -> None:
    _prepare(pytester, "serial", "-n", "0").assert_outcomes(passed=17, skipped=1)
    _prepare(pytester, "parallel", "-n", "2").assert_outcomes(passed=17, skipped=1)
    serial, parallel = files_of(pytester.path / "serial"), files_of(pytester.path / "parallel")
    serial.pop("params.yaml"), parallel.pop("params.yaml")  # names its own output directory
    assert serial == parallel


def test_the_dataset_does_not_depend_on_concurrency(pytester: pytest.Pytester, llm: ScriptedLLMServer) -> None:
    # longest-first starts, priority scheduling and more workers than slots change when calls are made, never
    # what is written; pytest reports the items in file order all the same
    sequential = _prepare(pytester, "sequential", "--cmdgen-concurrency", "1", "--cmdgen-cache-mode", "off", "-v")
    concurrent = _prepare(pytester, "concurrent", "--cmdgen-concurrency", "8", "--cmdgen-cache-mode", "off", "-v")
    sequential.assert_outcomes(passed=17, skipped=1)
    concurrent.assert_outcomes(passed=17, skipped=1)
    reported = [[m.group(1) for m in map(re.compile(r"(.+::.+) (PASSED|SKIPPED)").match, r.outlines) if m]
                for r in (sequential, concurrent)]  # fmt: skip
    assert reported[0] == reported[1] and len(reported[0]) == 18
    assert reported[0][0].endswith("::book a car") and reported[0][-1].endswith(
        "in the middle of a booking[rephrase 4]"
    )
    first, second = files_of(pytester.path / "sequential"), files_of(pytester.path / "concurrent")
    first.pop("params.yaml"), second.pop("params.yaml")  # names its own output directory and concurrency
    assert first == second


def test_an_unreachable_llm_fails_the_items_and_the_session_finishes(
    pytester: pytest.Pytester, car_rental: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ScriptedLLMServer() as server:
        server.fail_always("upstream exploded", status=500)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        result = _prepare(pytester, "out", "--cmdgen-max-retries", "1", "-k", "not rephrase")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*upstream exploded*"])
    assert "Traceback" not in result.stdout.str()


def test_collect_only_runs_nothing_and_writes_nothing(pytester: pytest.Pytester, llm: ScriptedLLMServer) -> None:
    result = _prepare(pytester, "out", "--collect-only")
    assert "book a car[rephrase 1]" in result.stdout.str()
    assert "cmdgen summary" not in result.stdout.str()
    assert sum(llm.counts.values()) == 0
    assert not (pytester.path / "out").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("llm:\n  model: gpt-4o-mini\nprompt: x\n", "rephrase.yml:3:1: prompt: unknown key; allowed keys are"),
        ("llm:\n  temperature: 0\n", "rephrase.yml:1:1: llm: must contain 'model' or 'model_name'"),
    ],
)
def test_a_bad_rephrase_config_is_a_usage_error(pytester: pytest.Pytester, car_rental: Path, content, message) -> None:
    (pytester.path / "rephrase.yml").write_text(content)
    result = _prepare(pytester, "out", "--cmdgen-rephrase-config", "rephrase.yml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--cmdgen-rephrase-config: *{message}*"])
    assert "Traceback" not in result.stderr.str()


def test_a_plain_script_with_the_library_writes_the_same_bytes_without_pytest(
    pytester: pytest.Pytester, llm: ScriptedLLMServer
) -> None:
    _prepare(pytester, "out").assert_outcomes(passed=17, skipped=1)
    by_pytest = files_of(pytester.path / "out")
    shutil.rmtree(pytester.path / "out")
    script = EXAMPLES / "prepare_without_pytest.py"
    # Run the example script and say at exit whether pytest was ever imported in that interpreter.
    code = (
        "import atexit, runpy, sys\n"
        "seen = lambda: 'pytest imported' if {'pytest', '_pytest'} & set(sys.modules) else 'no pytest'\n"
        "atexit.register(lambda: print(seen()))\n"
        f"sys.argv = [{str(script)!r}, 'car_rental', 'car_rental/tests', 'out', '3']\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=pytester.path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "no pytest"
    assert files_of(pytester.path / "out") == by_pytest
