"""Inferring the Rasa version from the features a project uses, and stating it in the session header."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.runtime.version_inference import VersionEvidence, infer_version
from tests.support.paths import ASSISTANTS, EXAMPLES

pytest_plugins = ["pytester"]


@pytest.mark.parametrize(
    ("project", "version", "reason"),
    [
        (ASSISTANTS / "starterpack-retail-banking-en", "3.13", "inferred: uses SearchReadyLLMCommandGenerator"),
        (
            ASSISTANTS / "starterpack-telco-en",
            "3.16",
            "inferred: uses the gpt-5.1-2025-11-13 model for the command generator",
        ),
        (EXAMPLES / "car_rental", "3.10", "inferred: no feature newer than 3.10"),
    ],
)
def test_projects_get_the_lowest_version_that_has_their_features(project: Path, version: str, reason: str) -> None:
    loaded = Project.load(project)
    assert (loaded.profile.version, loaded.version_reason) == (version, reason)


def test_a_given_version_wins() -> None:
    loaded = Project.load(EXAMPLES / "car_rental", "3.15")
    assert (loaded.profile.version, loaded.version_reason) == ("3.15", "given")


def test_the_newest_feature_decides_and_is_named() -> None:
    inferred = infer_version(
        [VersionEvidence("3.11", "model_groups in endpoints.yml"), VersionEvidence("3.12", "controlled slot mappings")]
    )
    assert inferred.version == "3.12"
    assert inferred.reason == "uses controlled slot mappings"


def test_compact_generator_and_date_time_keys(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    shutil.copytree(EXAMPLES / "car_rental", root)
    config = (root / "config.yml").read_text()
    config = config.replace("SingleStepLLMCommandGenerator", "CompactLLMCommandGenerator")
    (root / "config.yml").write_text(config)
    assert Project.load(root).profile.version == "3.12"
    (root / "config.yml").write_text(
        config.replace("    flow_retrieval:", "    include_date_time: true\n    flow_retrieval:")
    )
    assert Project.load(root).profile.version == "3.15"


def test_the_session_header_states_the_version_and_why(pytester: pytest.Pytester) -> None:
    shutil.copytree(EXAMPLES / "car_rental", pytester.path / "car_rental", ignore=shutil.ignore_patterns("conftest.py"))
    result = pytester.runpytest("car_rental/tests", "--cmdgen-assistant", "car_rental", "--collect-only")
    result.stdout.fnmatch_lines(
        ["cmdgen: assistant *car_rental, Rasa 3.10 (inferred: no feature newer than 3.10), commands from *"]
    )


def test_a_generator_the_given_version_lacks_fails_the_items_with_one_line(pytester: pytest.Pytester) -> None:
    bank = ASSISTANTS / "starterpack-retail-banking-en"
    for part in ("config.yml", "endpoints.yml", "domain", "data"):
        (shutil.copytree if (bank / part).is_dir() else shutil.copy)(bank / part, pytester.path / part)
    shutil.copytree(bank / "tests" / "happy_paths", pytester.path / "tests")
    result = pytester.runpytest("tests/user_greeted.yml", "--cmdgen-rasa-version", "3.12")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*config.yml:8: SearchReadyLLMCommandGenerator exists from Rasa 3.13 (Rasa 3.12, given)"]
    )
    assert "Traceback" not in result.stdout.str()
