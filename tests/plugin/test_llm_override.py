"""``--cmdgen-llm openai:MODEL@URL`` and ``--cmdgen-compare OUT_DIR`` end to end, against the scripted
OpenAI-compatible server on loopback (the in-process ``local:`` model is in tests/trainer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# pytester's in-process runs drop the modules they imported; the back-end registry (imported before) would then
# keep an ``openai`` back-end class built on the dropped ``openai`` package. Import both once, up front.
import pytest_cmdgen.llm.backends.openai_backend  # noqa: F401
from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer

pytest_plugins = ["pytester"]


def _run(pytester: pytest.Pytester, *extra: str) -> pytest.RunResult:
    return pytester.runpytest("--cmdgen-assistant", "car_rental", "-p", "no:cacheprovider", *extra)


def _prepare(pytester: pytest.Pytester, out: str, *extra: str) -> pytest.RunResult:
    return _run(pytester, "car_rental/tests", "--cmdgen-prepare", "--cmdgen-num-rephrases", "0", "--cmdgen-out", out,
                *extra)  # fmt: skip


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gpt-4o", "--cmdgen-llm / cmdgen_llm: expected openai:MODEL[@URL] or local:PATH, got 'gpt-4o'"),
        ("vllm:qwen", "--cmdgen-llm / cmdgen_llm: expected openai:MODEL[@URL] or local:PATH, got 'vllm:qwen'"),
        ("openai:@http://x", "--cmdgen-llm / cmdgen_llm: openai: needs a model name (openai:MODEL[@URL]), got*"),
        ("openai:m@localhost:8000", "--cmdgen-llm / cmdgen_llm: openai:MODEL@URL: expected an http(s) URL after*"),
        ("local:no/such/model", "--cmdgen-llm / cmdgen_llm: local:PATH: no such directory: */no/such/model"),
        ("local:car_rental", "--cmdgen-llm / cmdgen_llm: local:PATH: */car_rental is not a model directory*"),
    ],
)
def test_a_bad_spec_is_one_usage_error(pytester: pytest.Pytester, car_rental: Path, spec: str, message: str) -> None:
    result = _run(pytester, "car_rental/tests", f"--cmdgen-llm={spec}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}".replace("[", "?").replace("]", "?")])  # fnmatch's [...]
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_the_ini_key_is_read_and_the_cli_wins(pytester: pytest.Pytester, car_rental: Path) -> None:
    pytester.makeini("[pytest]\ncmdgen_llm = bogus\n")
    assert _run(pytester, "car_rental/tests", "--collect-only").ret == pytest.ExitCode.USAGE_ERROR
    result = _run(pytester, "car_rental/tests", "--collect-only", "--cmdgen-llm", "openai:m@http://127.0.0.1:9/v1")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["cmdgen: *commands from SingleStepLLMCommandGenerator, model openai:m@http://127.0.0.1:9/v1 (--cmdgen-llm)*"]
    )


def test_a_served_model_gives_what_the_environment_route_gives(
    pytester: pytest.Pytester, llm: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_env = _prepare(pytester, "by_env")
    by_env.assert_outcomes(passed=4)
    by_env.stdout.fnmatch_lines(
        ["cmdgen: *commands from SingleStepLLMCommandGenerator, model gpt-4o-2024-11-20 (config.yml)*"]
    )
    asked = len(llm.chat_prompts())

    monkeypatch.delenv("OPENAI_BASE_URL")  # only the spec says where the server is
    monkeypatch.delenv("OPENAI_API_KEY")
    by_spec = _prepare(pytester, "by_spec", "--cmdgen-llm", f"openai:cmdgen-student@{llm.base_url}")
    by_spec.assert_outcomes(passed=4)
    by_spec.stdout.fnmatch_lines([f"cmdgen: *, model openai:cmdgen-student@{llm.base_url} (--cmdgen-llm)*"])
    # the same cache directory, another model: nothing is answered from the first run's records
    new = [r for r in llm.requests if r.endpoint == "chat"][asked:]
    assert new and {r.body["model"] for r in new} == {"cmdgen-student"}
    assert len(new) == asked
    assert {r.body["temperature"] for r in new} == {0.0}

    env_files, spec_files = _files(pytester.path / "by_env"), _files(pytester.path / "by_spec")
    annotations = [name for name in env_files if name.startswith(("1_command_annotations/", "3_llm_finetune_data/"))]
    assert annotations
    for name in annotations:
        assert env_files[name] == spec_files[name], name


def test_the_comparison_names_the_first_diverging_turn(pytester: pytest.Pytester, llm: ScriptedLLMServer) -> None:
    _prepare(pytester, "out").assert_outcomes(passed=4)  # the teacher
    llm.add_rule('"""an SUV please"""', "SetSlot(car_type, compact)")  # the student gets one turn wrong

    spec = f"openai:student@{llm.base_url}"
    args = ("car_rental/tests", "--cmdgen-llm", spec, "--cmdgen-compare", "out")
    result = _run(pytester, *args)
    result.assert_outcomes(passed=4)  # the utterances do not show the wrong car type
    report = json.loads((pytester.path / "out" / "model" / "e2e_comparison.json").read_text())
    assert report["model"] == {"llm": f"{spec} (--cmdgen-llm)", "tests": 4, "passed": 4, "pass_rate": 1.0}
    assert report["teacher"]["passed"] == 4 and report["teacher"]["pass_rate"] == 1.0
    turns = report["turns"]
    assert turns["compared"] > 5 and turns["exact_match"] == turns["compared"] - 1
    tests = {test["test_id"].rpartition("::")[2]: test for test in report["tests"]}
    booked = tests["book a car"]
    assert booked["teacher_test_id"] == "car_rental/tests/rental.yml::book a car"
    assert booked["turns_matching"] == booked["turns_compared"] - 1
    assert booked["first_divergence"] == {
        "line": 18,
        "user": "an SUV please",
        "expected": ["SetSlot(car_type, suv)"],
        "produced": ["SetSlot(car_type, compact)"],
        "match": False,
        "status": "differ",
        "answer": None,
    }
    assert all(test["first_divergence"] is None for name, test in tests.items() if name != "book a car")
    out = result.stdout.str()
    assert "cmdgen comparison with the teacher" in out
    result.stdout.fnmatch_lines(
        [
            f"*command exact match  {turns['exact_match']}/{turns['compared']} (*%) user turns*",
            "first diverging user turn of each test:",
            "  car_rental/tests/rental.yml::book a car, line 18: 'an SUV please'",
            "    teacher: SetSlot(car_type, suv)",
            "    model:   SetSlot(car_type, compact)",
        ]
    )

    # under xdist the controller merges what the workers ran and writes the same file (answers from the cache now)
    written = pytester.path / "out" / "model" / "e2e_comparison.json"
    alone = written.read_bytes()
    written.unlink()
    distributed = pytester.runpytest_subprocess(
        "--cmdgen-assistant", "car_rental", *args, "-n", "2", "-p", "no:cacheprovider"
    )
    distributed.assert_outcomes(passed=4)
    assert "cmdgen: compare:" not in distributed.stdout.str()  # no step error on the controller
    assert written.read_bytes() == alone


def test_compare_runs_the_validation_split_without_test_paths(
    pytester: pytest.Pytester, llm: ScriptedLLMServer
) -> None:
    _prepare(pytester, "out").assert_outcomes(passed=4)
    validation = pytester.path / "out" / "4_train_test_split" / "e2e_tests" / "validation"
    expected = sum(text.count("- test_case:") for text in (p.read_text() for p in validation.rglob("*.yml")))
    assert expected

    result = _run(pytester, "--cmdgen-compare", "out", "-v")
    result.assert_outcomes(passed=expected)
    result.stdout.fnmatch_lines(["out/4_train_test_split/e2e_tests/validation/car_rental/tests/rental.yml::* PASSED*"])
    report = json.loads((pytester.path / "out" / "model" / "e2e_comparison.json").read_text())
    assert report["model"]["llm"] == "gpt-4o-2024-11-20 (config.yml)"
    assert report["teacher"]["passed"] == expected  # matched across the copy's other path
    assert report["turns"]["exact_match"] == report["turns"]["compared"] > 0


def test_compare_without_annotations_is_a_usage_error(pytester: pytest.Pytester, car_rental: Path) -> None:
    (pytester.path / "empty").mkdir()
    result = _run(pytester, "car_rental/tests", "--cmdgen-compare", "empty")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --cmdgen-compare / cmdgen_compare: */empty has no 1_command_annotations/*"])


def test_comparing_with_the_output_this_run_prepares_is_a_usage_error(
    pytester: pytest.Pytester, car_rental: Path
) -> None:
    (pytester.path / "out" / "1_command_annotations").mkdir(parents=True)
    result = _prepare(pytester, "out", "--cmdgen-compare", "out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --cmdgen-compare / cmdgen_compare: it names the --cmdgen-out directory*"])
