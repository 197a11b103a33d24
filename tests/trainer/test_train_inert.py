"""Training costs nothing until asked for: no part of the training stack is imported by the trainer
package itself, nor by a prepare run without ``--cmdgen-train``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from tests.trainer.conftest import copy_car_rental, run_pytest

STACK = ["torch", "transformers", "peft", "trl", "accelerate", "unsloth", "datasets", "bitsandbytes"]


def test_importing_every_trainer_module_imports_no_part_of_the_stack() -> None:
    modules = [
        "base_model",
        "chat",
        "cli",
        "data",
        "environment",
        "errors",
        "outputs",
        "preview",
        "progress",
        "request",
        "run",
        "sft",
        "train_config",
        "unsloth_backend",
    ]
    code = (
        "import sys, importlib\n"
        f"for name in {modules!r}: importlib.import_module('pytest_cmdgen.trainer.' + name)\n"
        "import pytest_cmdgen.trainer, pytest_cmdgen.testing.tiny_model, pytest_cmdgen.session.pipeline\n"
        f"print(','.join(m for m in {STACK!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == ""


def test_a_prepare_run_without_train_imports_no_part_of_the_stack(
    tmp_path: Path, scripted_llm: ScriptedLLMServer
) -> None:
    copy_car_rental(tmp_path / "car_rental")
    (tmp_path / "stack_probe.py").write_text(
        "import sys\n"
        "def pytest_unconfigure(config):\n"
        f"    loaded = [m for m in {STACK!r} if m in sys.modules]\n"
        "    open('loaded.txt', 'w').write(','.join(loaded))\n"
    )
    result = run_pytest(
        tmp_path,
        scripted_llm,
        "--cmdgen-prepare",
        "--cmdgen-num-rephrases",
        "1",
        "-p",
        "stack_probe",
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "cmdgen_output" / "4_train_test_split").is_dir()
    assert (tmp_path / "loaded.txt").read_text() == ""
