"""Fixtures of the trainer tests: tiny models built locally, and a prepared car-rental split.

Everything is real: the prepared split comes from the library's ``run_prepare`` on the bundled example
against the scripted OpenAI-compatible server on loopback; the base models are tiny Llamas with a BPE
tokenizer trained on the texts they will see, saved to a temporary directory (no hub, no download).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from tests.support.paths import EXAMPLES, REPO

TEMPLATES = REPO / "pytest_cmdgen" / "generator" / "templates"

LLAMA3_TEMPLATE = (
    "{{- bos_token }}{%- for m in messages %}"
    "{{- '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}"
)
"""Llama 3's shape of template: header tokens around the role, ``<|eot_id|>`` ends a turn, BOS first."""
LLAMA3_SPECIALS = (
    "<|finetune_right_pad_id|>",
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|end_of_text|>",
)

FAST_TRAINING = """\
num_train_epochs: {epochs}
per_device_train_batch_size: 8
per_device_eval_batch_size: 8
gradient_accumulation_steps: 1
learning_rate: 1.0e-2
lora_alpha: 32
gradient_checkpointing: false
max_length: 1024
"""
"""A training config for the tiny model: 5 optimizer steps per epoch on the car-rental split (39 data
points), enough for it to answer in commands and stop at the end-of-turn token after 3 epochs."""


def corpus() -> list[str]:
    """The texts a command-generator prompt of the car-rental example is made of."""
    texts = [path.read_text(encoding="utf-8") for path in sorted(TEMPLATES.glob("*.jinja2"))]
    texts += [path.read_text(encoding="utf-8") for path in sorted((EXAMPLES / "car_rental").rglob("*.yml"))]
    return texts


def shared(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """``build(directory)`` once per test session, even across xdist workers (they share the parent of
    their base temp directories): the first worker to get here builds it, the others wait and reuse it."""
    from filelock import FileLock  # comes with torch, datasets and huggingface_hub

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    target = root / f"cmdgen-shared-{name}"
    with FileLock(str(target) + ".lock"):
        if not (target / ".built").is_file():
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            build(target)
            (target / ".built").touch()
    return target


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama with a ChatML chat template (``<|im_end|>`` ends a turn)."""
    from pytest_cmdgen.testing.tiny_model import build_tiny_model

    return shared(tmp_path_factory, "tiny-chatml", lambda path: build_tiny_model(path, corpus()))


@pytest.fixture(scope="session")
def tiny_llama3_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama with Llama 3's kind of template (``<|eot_id|>`` ends a turn, EOS is another token)."""
    from pytest_cmdgen.testing.tiny_model import build_tiny_model

    def build(path: Path) -> None:
        build_tiny_model(
            path,
            corpus(),
            chat_template=LLAMA3_TEMPLATE,
            special_tokens=LLAMA3_SPECIALS,
            eos_token="<|end_of_text|>",
            bos_token="<|begin_of_text|>",
        )

    return shared(tmp_path_factory, "tiny-llama3", build)


@pytest.fixture(scope="session")
def tiny_plain_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama without a chat template."""
    from pytest_cmdgen.testing.tiny_model import build_tiny_model

    return shared(tmp_path_factory, "tiny-plain", lambda path: build_tiny_model(path, corpus(), chat_template=None))


def copy_car_rental(target: Path) -> Path:
    """The bundled example, without its conftest (the tests start the scripted server themselves)."""
    shutil.copytree(EXAMPLES / "car_rental", target, ignore=shutil.ignore_patterns("conftest.py"))
    return target


@pytest.fixture(scope="session")
def scripted_llm() -> Iterator[ScriptedLLMServer]:
    """The scripted OpenAI-compatible server answering from the example's recorded commands."""
    recorded = EXAMPLES / "car_rental" / "commands.yml"
    with ScriptedLLMServer(annotations=recorded, rephrasings=recorded) as server:
        yield server


def llm_env(server: ScriptedLLMServer) -> dict[str, str]:
    """Environment variables that point the OpenAI client at ``server``."""
    return {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "test-key-not-a-secret"}


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory, scripted_llm: ScriptedLLMServer) -> Path:
    """A prepare output of the car-rental example (instruction rows), made once; copy it before writing."""
    from pytest_cmdgen.session import SessionConfig, run_prepare

    def build(root: Path) -> None:
        assistant = copy_car_rental(root / "car_rental")
        saved = {key: os.environ.get(key) for key in llm_env(scripted_llm)}
        os.environ.update(llm_env(scripted_llm))
        try:
            config = SessionConfig(assistant=assistant, rootdir=root, prepare=True, out=root / "out", num_rephrases=3)
            context = run_prepare(config, [assistant / "tests"])
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        assert not context.errors, context.errors

    return shared(tmp_path_factory, "prepared", build) / "out"


def copy_output(prepared: Path, target: Path) -> Path:
    """A private copy of a prepare output."""
    shutil.copytree(prepared, target)
    return target


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Training in the test process itself (no interpreter start, no second import of the stack): offline,
    on one CPU thread (two xdist workers share two cores), the thread count given back afterwards."""
    import torch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def training_env(**extra: str) -> dict[str, str]:
    """The environment of a training subprocess: offline, one CPU thread each (two pytest workers share
    two cores; oversubscribed threads are several times slower than one each)."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", **extra}


def run_cli(*args: str | Path, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m pytest_cmdgen.trainer ARGS`` (what the ``cmdgen-train`` script runs)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest_cmdgen.trainer", *map(str, args)],
        cwd=cwd,
        env=dict(env) if env is not None else training_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def run_pytest(
    root: Path, server: ScriptedLLMServer, *args: str | Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``pytest car_rental/tests --cmdgen-assistant car_rental ARGS`` in a fresh interpreter in ``root`` (which
    holds a copy of the example), the OpenAI client pointed at ``server``; ``env``: more variables."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "car_rental/tests",
            "--cmdgen-assistant",
            "car_rental",
            "-p",
            "no:cacheprovider",
            *map(str, args),
        ],
        cwd=root,
        env=training_env(**llm_env(server), **(env or {})),
        capture_output=True,
        text=True,
        timeout=600,
    )


def one_error_line(stderr: str, prog: str = "cmdgen-train") -> str:
    """The single ``<prog>: error: …`` line of ``stderr``, asserting there is exactly one and no traceback."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith(f"{prog}: error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, with its content."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def refusing(tmp_path: Path, *modules: str) -> dict[str, str]:
    """Environment for a real interpreter in which ``modules`` cannot be imported (a meta-path finder
    refuses them), as on a machine without those packages."""
    blocker = tmp_path / "refuse_modules"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        f"_REFUSED = {modules!r}\n"
        "class _Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in _REFUSED or name.startswith(tuple(m + '.' for m in _REFUSED)):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Refuse())\n"
    )
    return training_env(PYTHONPATH=f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
