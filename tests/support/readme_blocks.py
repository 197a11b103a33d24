"""The README's bash code blocks, as the README-blocks test runs them.

Every ```` ```bash ```` block of the README is preceded by a marker comment that says how it is tested:

- ``<!-- readme-test: fast -->``: run by the default suite;
- ``<!-- readme-test: slow -->``: run only in slow mode (``CMDGEN_README_SLOW=1``), after the fast blocks;
- ``<!-- readme-test: skip: REASON -->``: never run (a GPU, your own project, the suite itself), with why.

Blocks run in README order, each in ``bash -euo pipefail``, in one temporary copy of the files a fresh clone
has that they need (``examples/``, ``pyproject.toml``), offline (``HF_HUB_OFFLINE=1``, no API key, no
``OPENAI_BASE_URL``), with this interpreter's ``bin`` first on ``PATH``. ``pip install`` is checked, not run
(``tests/support/pip_check.py``): the environment is the one CI installed from the same requirements.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO

README = REPO / "README.md"
MARKER = re.compile(r"<!--\s*readme-test:\s*(fast|slow|skip)\s*(?::\s*(.*?))?\s*-->")
FENCE = re.compile(r"^```(\w*)\s*$")
COPIED = ("examples", "pyproject.toml")
"""What of a fresh clone the blocks need, copied into their working directory."""
SLOW_ENV = "CMDGEN_README_SLOW"
"""Set to 1 to run the slow blocks too."""
PIP_CHECK = Path(__file__).with_name("pip_check.py")


@dataclass(frozen=True)
class Block:
    """One bash block of the README."""

    line: int
    """1-based line of the opening fence."""
    mode: str | None
    """fast, slow, skip, or None when no marker precedes it."""
    reason: str
    code: str

    @property
    def label(self) -> str:
        """``README.md:LINE: first command line``, for messages."""
        return f"README.md:{self.line}: {self.code.strip().splitlines()[0]}"


def bash_blocks(text: str) -> list[Block]:
    """Every ```` ```bash ```` block of ``text`` with the marker on the nearest non-blank line before it."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        start = index
        end = start + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        if fence.group(1) == "bash":
            before = start - 1
            while before >= 0 and not lines[before].strip():
                before -= 1
            marker = MARKER.search(lines[before]) if before >= 0 else None
            blocks.append(
                Block(
                    line=start + 1,
                    mode=marker.group(1) if marker else None,
                    reason=(marker.group(2) or "") if marker else "",
                    code="\n".join(lines[start + 1 : end]) + "\n",
                )
            )
        index = end + 1
    return blocks


def readme_blocks() -> list[Block]:
    """The README's bash blocks."""
    return bash_blocks(README.read_text(encoding="utf-8"))


def workspace(root: Path) -> Path:
    """A fresh clone's files the blocks need, copied to ``root``; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", ".cmdgen_cache", "cmdgen_output", ".pytest_cache")
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=ignore)
        else:
            shutil.copy2(source, root / name)
    return root


def block_env() -> dict[str, str]:
    """A fresh, offline shell's environment: no API key or endpoint, no pytest state of this run."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "OPENAI_", "AZURE_", "COV_")) and key not in ("PYTHONPATH",)
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", TERM="dumb")
    return env


PRELUDE = f'pip() {{ "{sys.executable}" "{PIP_CHECK}" "$@"; }}\n'
"""Defines ``pip`` in the block's shell as the check of what it would install."""


@dataclass(frozen=True)
class BlockRun:
    """What running one block gave."""

    block: Block
    returncode: int
    output: str
    seconds: float


def run_block(block: Block, cwd: Path, timeout: float) -> BlockRun:
    """Run ``block`` in ``cwd`` with ``bash -euo pipefail``; returns its exit status, output and duration."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", PRELUDE + block.code],
            cwd=cwd,
            env=block_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        code, output = done.returncode, done.stdout
    except subprocess.TimeoutExpired as exc:
        code, output = 124, f"{exc.output or ''}\n(timed out after {timeout:.0f} s)"
    return BlockRun(block, code, output if isinstance(output, str) else output.decode(), time.perf_counter() - started)
