"""The README's bash blocks are real commands: the fast ones run in every suite run, the slow ones with
``CMDGEN_README_SLOW=1`` (see ``tests/support/readme_blocks.py`` for how blocks are marked and run).

    CMDGEN_README_SLOW=1 python -m pytest tests/docs/test_readme_blocks.py -n 0 -s
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.paths import REPO
from tests.support.readme_blocks import SLOW_ENV, bash_blocks, readme_blocks, run_block, workspace

MODES = ["fast", "slow"] if os.environ.get(SLOW_ENV) == "1" else ["fast"]


def test_every_bash_block_of_the_readme_says_how_it_is_tested() -> None:
    unmarked = [block.label for block in readme_blocks() if block.mode is None]
    marker = "<!-- readme-test: fast|slow|skip: reason -->"
    assert not unmarked, f"README bash blocks without a {marker} line before them:\n" + "\n".join(unmarked)
    unexplained = [block.label for block in readme_blocks() if block.mode == "skip" and not block.reason]
    assert not unexplained, "skipped README blocks must say why (<!-- readme-test: skip: REASON -->)"


def test_the_readme_starts_with_the_setup_command_and_the_test_command_ci_runs() -> None:
    blocks = readme_blocks()
    assert blocks[0].code.startswith("pip install -e '.[test]' && pytest "), blocks[0].label
    assert blocks[0].mode == "fast"
    ci_command = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if "pytest" in line][-1].strip()
    assert blocks[1].code.strip() == ci_command, f"README's test command is not what .ci/run runs ({ci_command})"


def test_markers_are_read_from_the_nearest_line_before_the_fence() -> None:
    text = (
        "<!-- readme-test: fast -->\n```bash\necho one\n```\n\n"
        "<!-- readme-test: skip: needs a GPU -->\n\n```bash\necho two\n```\n"
        "```yaml\nkey: value\n```\n"
        "plain text\n```bash\necho three\n```\n"
        "<!-- readme-test: slow -->\n```bash\necho four\necho five\n```\n"
    )
    found = [(block.mode, block.reason, block.code) for block in bash_blocks(text)]
    assert found == [
        ("fast", "", "echo one\n"),
        ("skip", "needs a GPU", "echo two\n"),
        (None, "", "echo three\n"),
        ("slow", "", "echo four\necho five\n"),
    ]


def test_a_failing_command_in_a_block_fails_the_block(tmp_path: Path) -> None:
    (block,) = bash_blocks("<!-- readme-test: fast -->\n```bash\nfalse | cat\necho never\n```\n")
    run = run_block(block, tmp_path, timeout=30)
    assert run.returncode != 0 and "never" not in run.output


def test_pip_install_in_a_block_is_checked_against_this_environment(tmp_path: Path) -> None:
    workspace(tmp_path)
    good, unknown_extra, bad_pin = bash_blocks(
        "<!-- readme-test: fast -->\n```bash\npip install -e '.[test]' && echo installed\n```\n"
        "<!-- readme-test: fast -->\n```bash\npip install 'pytest-cmdgen[no-such-extra]'\n```\n"
        "<!-- readme-test: fast -->\n```bash\npip install 'pytest>=999'\n```\n"
    )
    assert run_block(good, tmp_path, timeout=60).output.rstrip().endswith("installed")
    unknown = run_block(unknown_extra, tmp_path, timeout=60)
    assert unknown.returncode == 1 and "has no extra 'no-such-extra'" in unknown.output
    pinned = run_block(bad_pin, tmp_path, timeout=60)
    assert pinned.returncode == 1 and "pytest>=999" in pinned.output


@pytest.mark.parametrize("mode", MODES)
def test_the_readme_blocks_run_on_a_fresh_copy_offline(mode: str, tmp_path: Path) -> None:
    """Fast: the setup command and the prepare → coverage steps. Slow: then the CPU training and evaluation."""
    modes = {"fast"} if mode == "fast" else {"fast", "slow"}
    root = workspace(tmp_path / "clone")
    runs = []
    for block in readme_blocks():
        if block.mode not in modes:
            continue
        run = run_block(block, root, timeout=900)
        runs.append(run)
        assert run.returncode == 0, f"{block.label}: exit status {run.returncode}\n{run.output[-6000:]}"
    times = "\n".join(f"  {run.seconds:6.1f} s  {run.block.mode:4}  {run.block.label}" for run in runs)
    print(f"\nREADME blocks ({mode} mode), {sum(run.seconds for run in runs):.1f} s in all:\n{times}")
    split = root / "cmdgen_output" / "4_train_test_split" / "ft_splits"
    for name in ("train", "val"):
        rows = [json.loads(line) for line in (split / f"{name}.jsonl").read_text().splitlines()]
        assert rows, f"{name}.jsonl is empty after the README's prepare command"
    if mode == "slow":
        model = root / "cmdgen_output" / "model"
        assert (model / "adapter_model.safetensors").is_file(), sorted(p.name for p in model.iterdir())
