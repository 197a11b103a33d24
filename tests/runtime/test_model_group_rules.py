"""Model-group rules of config.yml and endpoints.yml, with errors naming file:line (the banking pack, edited)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_cmdgen.runtime.errors import ProjectError
from pytest_cmdgen.runtime.project import Project
from tests.support.paths import ASSISTANTS


@pytest.fixture
def banking(tmp_path: Path) -> Path:
    root = tmp_path / "banking"
    shutil.copytree(ASSISTANTS / "starterpack-retail-banking-en", root)
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _error(root: Path) -> str:
    with pytest.raises(ProjectError) as info:
        Project.load(root)
    return str(info.value)


def test_unknown_group_names_the_config_line_and_the_defined_groups(banking: Path) -> None:
    _edit(banking / "config.yml", "model_group: openai-direct-gpt-4o", "model_group: gpt-5")
    assert _error(banking) == (
        f"{banking / 'config.yml'}:10: SearchReadyLLMCommandGenerator.llm.model_group: a model group defined in "
        "endpoints.yml (no group 'gpt-5'; defined: openai-direct-gpt-4o, gpt-4o-mini)"
    )


def test_duplicate_group_ids_name_both_lines(banking: Path) -> None:
    _edit(banking / "endpoints.yml", "  - id: gpt-4o-mini", "  - id: openai-direct-gpt-4o")
    message = _error(banking)
    assert message.startswith(f"{banking / 'endpoints.yml'}:37: model_groups[1].id: a unique model group id")
    assert "also defined on line 30" in message


def test_mixing_model_groups_with_inline_configs_is_refused(banking: Path) -> None:
    _edit(banking / "config.yml", "  llm:\n    model_group: gpt-4o-mini", "  llm:\n    model: gpt-4o-mini")
    message = _error(banking)
    assert message.startswith(f"{banking / 'config.yml'}:20: EnterpriseSearchPolicy.llm: a model_group reference")


def test_a_router_is_reported_not_ignored(banking: Path) -> None:
    _edit(
        banking / "endpoints.yml",
        "        top_p: 0.0\n",
        "        top_p: 0.0\n    router:\n      routing_strategy: least-busy\n",
    )
    message = _error(banking)
    assert message.startswith(f"{banking / 'endpoints.yml'}:37: model_groups[openai-direct-gpt-4o].router: no router")
