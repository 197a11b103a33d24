"""``<out>/model/serve/``: the vLLM script serves the trained adapter from wherever the output lies, and the
config fragments, pasted into the assistant, load with the project's own loader and name that adapter."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pytest_cmdgen.generator.model_groups import resolved_llm_block
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.trainer import TrainConfig
from pytest_cmdgen.trainer.serve import MODEL_GROUP_ID, write_serve_files
from tests.support.paths import EXAMPLES

SERVED = {"provider": "self-hosted", "model": "cmdgen", "api_base": "http://localhost:8000/v1"}


def _output(tmp_path: Path, **params: object) -> Path:
    out = tmp_path / "out"
    (out / "model").mkdir(parents=True)
    (out / "params.yaml").write_text(yaml.safe_dump({"parameters": params}))
    return out


def _paste(project: Path, serve: Path) -> None:
    """What the user does with the fragments: the generator's llm block replaced, the model group added."""
    fragment = yaml.safe_load((serve / "config.yml").read_text())
    config = yaml.safe_load((project / "config.yml").read_text())
    entry = next(c for c in config["pipeline"] if c["name"] == fragment["pipeline"][0]["name"])
    entry["llm"] = fragment["pipeline"][0]["llm"]
    (project / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    if (serve / "endpoints.yml").is_file():
        endpoints = yaml.safe_load((project / "endpoints.yml").read_text()) or {}
        groups = yaml.safe_load((serve / "endpoints.yml").read_text())["model_groups"]
        endpoints.setdefault("model_groups", []).extend(groups)
        (project / "endpoints.yml").write_text(yaml.safe_dump(endpoints, sort_keys=False))


@pytest.mark.parametrize(
    ("version", "style", "grouped"),
    [("3.10.16", "inline", False), ("3.12.4", "model_group", True), ("3.12.4", "inline", False)],
)
def test_the_fragments_load_with_the_projects_loader_and_name_the_adapter(
    tmp_path: Path, version: str, style: str, grouped: bool
) -> None:
    out = _output(
        tmp_path,
        rasa_version=version,
        command_generator="SingleStepLLMCommandGenerator",
        command_generator_llm_style=style,
    )
    written = write_serve_files(out, TrainConfig())
    serve = out / "model" / "serve"
    assert sorted(p.name for p in written) == sorted(["vllm.sh", "config.yml"] + (["endpoints.yml"] if grouped else []))
    assert (serve / "endpoints.yml").is_file() is grouped
    project = shutil.copytree(EXAMPLES / "car_rental", tmp_path / "car_rental")
    _paste(project, serve)
    loaded = Project.load(project, version=version)
    assert loaded.config.generator is not None
    assert (loaded.config.generator.llm == {"model_group": MODEL_GROUP_ID}) is grouped
    assert resolved_llm_block(loaded.config.generator.llm, loaded.endpoints) == SERVED
    assert "--lora-modules \"cmdgen=$ADAPTER\"" in (serve / "vllm.sh").read_text()  # the name the llm block asks for


def test_vllm_sh_serves_the_base_with_the_adapter_beside_it_wherever_the_output_was_copied(tmp_path: Path) -> None:
    base = tmp_path / "base-model"
    base.mkdir()
    out = _output(tmp_path, rasa_version="3.10")
    write_serve_files(out, TrainConfig(model_name_or_path=str(base), r=24, max_length=2048))
    moved = shutil.move(str(out), str(tmp_path / "elsewhere" / "out"))
    shutil.rmtree(base.parent / "out", ignore_errors=True)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "vllm").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')  # shows the arguments it was given
    (fake / "vllm").chmod(0o755)
    script = Path(moved) / "model" / "serve" / "vllm.sh"
    assert os.access(script, os.X_OK)
    result = subprocess.run(
        [str(script), "--port", "8001"],
        env={**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "serve",
        str(base.resolve()),
        "--enable-lora",
        "--lora-modules",
        f"cmdgen={Path(moved).resolve() / 'model'}",
        "--max-model-len",
        "2048",
        "--max-lora-rank",
        "32",  # rank 24 needs the next rank vLLM accepts
        "--port",
        "8001",
    ]


def test_without_a_recorded_project_the_fragments_are_those_of_the_oldest_version(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "model").mkdir(parents=True)
    write_serve_files(out, TrainConfig())
    fragment = yaml.safe_load((out / "model" / "serve" / "config.yml").read_text())
    assert fragment == {"pipeline": [{"name": "SingleStepLLMCommandGenerator", "llm": SERVED}]}
    assert not (out / "model" / "serve" / "endpoints.yml").exists()
