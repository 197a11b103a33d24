"""The CI recipes in ``examples/ci/`` have the structure their platform needs, and every command they run
is real: each ``--cmdgen-*`` option is in the options table with a value it accepts, and each console script
of ours parses its arguments."""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_cmdgen.plugin.options import OPTIONS, OptionValueError, convert
from tests.support.paths import EXAMPLES, REPO

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

GITHUB = EXAMPLES / "ci" / "github-actions.yml"
GITLAB = EXAMPLES / "ci" / "gitlab-ci.yml"
OUT = "cmdgen_output"
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: expected a mapping at the top level"
    return data


def commands(shell: str) -> Iterator[list[str]]:
    """The simple commands of a shell snippet: lines (continuations joined) split at ``&&``, ``||``, ``;``."""
    for line in shell.replace("\\\n", " ").splitlines():
        command: list[str] = []
        for token in shlex.split(line, comments=True):
            if token in ("&&", "||", ";"):
                if command:
                    yield command
                command = []
            else:
                command.append(token)
        if command:
            yield command


def check_pytest_command(args: list[str]) -> list[str]:
    """Problems with the ``--cmdgen-*`` options of a pytest command line (empty when every one is valid)."""
    specs = {spec.flag: spec for spec in OPTIONS if spec.cli}
    problems = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if not arg.startswith("--cmdgen-"):
            continue
        flag, _, inline = arg.partition("=")
        spec = specs.get(flag)
        if spec is None:
            problems.append(f"{flag} is not an option (not in pytest_cmdgen/plugin/options.py)")
            continue
        if spec.kind == "flag":
            continue
        if inline:
            value = inline
        elif index < len(args):
            value, index = args[index], index + 1
        else:
            problems.append(f"{flag} needs a value")
            continue
        try:
            convert(spec, value, Path.cwd())
        except OptionValueError as exc:
            problems.append(str(exc))
    return problems


def check_script_command(args: list[str]) -> list[str]:
    """Problems with a command running one of our console scripts: its arguments must parse."""
    module_name, _, function = SCRIPTS[args[0]].partition(":")
    module = importlib.import_module(module_name)
    try:
        module.parser().parse_args(args[1:])
    except SystemExit:
        return [f"{shlex.join(args)}: {args[0]} rejects these arguments"]
    return []


def run_commands(shell_snippets: list[str]) -> list[list[str]]:
    found = [command for snippet in shell_snippets for command in commands(snippet)]
    assert found, "no command found"
    return found


def check_commands(found: list[list[str]]) -> list[str]:
    problems = []
    for command in found:
        if command[0] == "pytest":
            problems += check_pytest_command(command)
        elif command[0] in SCRIPTS:
            problems += check_script_command(command)
    return problems


# --- GitHub Actions ---------------------------------------------------------------------------------------


def github_jobs() -> dict[str, Any]:
    workflow = load(GITHUB)
    assert workflow.get("on", workflow.get(True)), "a workflow needs its triggers (on:)"  # YAML 1.1 reads on: as True
    return workflow["jobs"]


def step_runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith(action + "@")]


def test_github_workflow_has_a_dataset_job_and_a_gpu_training_job_that_needs_it() -> None:
    jobs = github_jobs()
    assert set(jobs) == {"dataset", "train"}
    for name, job in jobs.items():
        assert job.get("runs-on"), f"job {name} has no runs-on"
        assert job["steps"], f"job {name} has no steps"
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), f"job {name}: a step needs exactly one of run/uses: {step}"
    assert jobs["train"]["needs"] in ("dataset", ["dataset"])
    assert "gpu" in jobs["train"]["runs-on"]


def test_github_dataset_job_replays_the_committed_cache_gates_and_uploads_the_output() -> None:
    job = github_jobs()["dataset"]
    assert uses(job, "actions/checkout")
    (prepare,) = [c for c in run_commands(step_runs(job)) if c[0] == "pytest"]
    assert {"--cmdgen-prepare", "--cmdgen-cache-mode", "replay"} <= set(prepare)
    assert {"--cmdgen-min-flow-coverage", "--cmdgen-require-commands"} & set(prepare), "no coverage gate"
    (upload,) = uses(job, "actions/upload-artifact")
    assert upload["if"] == "always()", "the report must be uploaded also when a gate fails"
    assert upload["with"]["path"].rstrip("/") == OUT == prepare[prepare.index("--cmdgen-out") + 1]


def test_github_train_job_trains_from_the_artifact_and_publishes_the_adapter_and_its_evaluation() -> None:
    jobs = github_jobs()
    (upload,) = uses(jobs["dataset"], "actions/upload-artifact")
    job = jobs["train"]
    (download,) = uses(job, "actions/download-artifact")
    assert download["with"]["name"] == upload["with"]["name"]
    assert download["with"]["path"].rstrip("/") == OUT
    found = run_commands(step_runs(job))
    assert_trains_and_evaluates_once([command[0] for command in found])
    assert all(command[1] == OUT for command in found if command[0].startswith("cmdgen-"))
    (publish,) = uses(job, "actions/upload-artifact")
    paths = publish["with"]["path"].split()
    assert f"{OUT}/model/" in paths, "the adapter and evaluation.json live in the model directory"


def assert_trains_and_evaluates_once(programs: list[str]) -> None:
    """cmdgen-train evaluates the model it trained (``evaluate_base: true`` adds the base model): a following
    cmdgen-evaluate would run the fine-tuned model over the val split a second time on the GPU."""
    assert programs.count("cmdgen-train") == 1, programs
    assert "cmdgen-evaluate" not in programs, "cmdgen-train already evaluates: the second run costs GPU time"


def test_the_training_jobs_say_how_to_evaluate_the_base_model_too() -> None:
    for recipe in (GITHUB, GITLAB):
        text = recipe.read_text(encoding="utf-8")
        assert "`evaluate_base: true`" in text, recipe


def test_every_command_of_the_github_workflow_is_real() -> None:
    found = [command for job in github_jobs().values() for command in run_commands(step_runs(job))]
    assert check_commands(found) == []


# --- GitLab CI --------------------------------------------------------------------------------------------


def gitlab_jobs() -> dict[str, Any]:
    pipeline = load(GITLAB)
    stages = pipeline["stages"]
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job}
    for name, job in jobs.items():
        assert job["stage"] in stages, f"job {name}: stage {job['stage']!r} is not in stages {stages}"
        assert isinstance(job["script"], list) and job["script"], f"job {name}: script must be a list of commands"
    return jobs


def test_gitlab_pipeline_has_a_dataset_job_and_a_gpu_training_job_that_needs_its_artifacts() -> None:
    jobs = gitlab_jobs()
    assert set(jobs) == {"dataset", "train"}
    assert jobs["train"]["needs"] == [{"job": "dataset", "artifacts": True}]
    assert "gpu" in jobs["train"]["tags"]


def test_gitlab_dataset_job_replays_the_committed_cache_gates_and_keeps_the_output() -> None:
    job = gitlab_jobs()["dataset"]
    (prepare,) = [c for c in run_commands(job["script"]) if c[0] == "pytest"]
    assert {"--cmdgen-prepare", "--cmdgen-cache-mode", "replay"} <= set(prepare)
    assert {"--cmdgen-min-flow-coverage", "--cmdgen-require-commands"} & set(prepare), "no coverage gate"
    assert job["artifacts"]["when"] == "always"
    assert [path.rstrip("/") for path in job["artifacts"]["paths"]] == [prepare[prepare.index("--cmdgen-out") + 1]]
    assert job["artifacts"]["reports"]["junit"] == prepare[prepare.index("--junitxml") + 1]


def test_gitlab_train_job_trains_from_the_artifact_and_publishes_the_adapter_and_its_evaluation() -> None:
    job = gitlab_jobs()["train"]
    found = run_commands(job["script"])
    assert_trains_and_evaluates_once([command[0] for command in found])
    assert all(command[1] == OUT for command in found if command[0].startswith("cmdgen-"))
    assert f"{OUT}/model/" in job["artifacts"]["paths"]


def test_every_command_of_the_gitlab_pipeline_is_real() -> None:
    found = [command for job in gitlab_jobs().values() for command in run_commands(job["script"])]
    assert check_commands(found) == []


# --- the checks themselves --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("pytest --cmdgen-prepare --cmdgen-cache-mode replayed", "expected one of use, refresh, replay, off"),
        ("pytest --cmdgen-min-coverage 90", "--cmdgen-min-coverage is not an option"),
        ("pytest --cmdgen-require-commands 'start flow,fly away'", "unknown command type 'fly away'"),
        ("pytest --cmdgen-min-flow-coverage=120", "expected a percentage from 0 to 100"),
        ("cmdgen-train cmdgen_output --epochs 3", "cmdgen-train rejects these arguments"),
    ],
)
def test_a_wrong_option_in_a_recipe_is_found(command: str, problem: str) -> None:
    problems = check_commands(list(commands(command)))
    assert len(problems) == 1 and problem in problems[0], problems
