"""endpoints.yml: action endpoint, NLG settings and model groups (rasa-modern-generators.md §1.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_cmdgen.runtime.errors import ProjectError, load_project_yaml
from pytest_cmdgen.yamlio import line_of


@dataclass
class Endpoints:
    """The parts of endpoints.yml the runtime and the LLM layer read."""

    raw: dict[str, Any] = field(default_factory=dict)
    action_url: str | None = None
    actions_module: str | None = None
    model_groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    nlg: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def model_group(self, group_id: str) -> list[dict[str, Any]]:
        """The model entries of one group; raises KeyError if it is not defined."""
        return self.model_groups[group_id]


def load_endpoints(path: Path) -> Endpoints:
    """Load endpoints.yml; a missing file gives empty endpoints."""
    if not path.exists():
        return Endpoints()
    data = load_project_yaml(path) or {}
    source = str(path)
    if not isinstance(data, dict):
        raise ProjectError(source, line_of(data), "endpoints", "a mapping at the top level")
    action = data.get("action_endpoint") or {}
    if not isinstance(action, dict):
        raise ProjectError(
            source, line_of(data, "action_endpoint"), "action_endpoint", "a mapping with `url` or `actions_module`"
        )
    groups: dict[str, list[dict[str, Any]]] = {}
    raw_groups = data.get("model_groups") or []
    if not isinstance(raw_groups, list):
        raise ProjectError(source, line_of(data, "model_groups"), "model_groups", "a list of {id, models}")
    for index, group in enumerate(raw_groups):
        if not isinstance(group, dict) or "id" not in group or not isinstance(group.get("models"), list):
            raise ProjectError(
                source, line_of(raw_groups, index), f"model_groups[{index}]", "a mapping with `id` and a `models` list"
            )
        group_id = str(group["id"])
        if group_id in groups:
            first = next(i for i, g in enumerate(raw_groups) if str(g.get("id")) == group_id)
            raise ProjectError(
                source,
                line_of(group, "id"),
                f"model_groups[{index}].id",
                f"a unique model group id ({group_id!r} is also defined on line {line_of(raw_groups, first)})",
            )
        groups[group_id] = [dict(m) for m in group["models"]]
    nlg = data.get("nlg") or {}
    if not isinstance(nlg, dict):
        raise ProjectError(source, line_of(data, "nlg"), "nlg", "a mapping")
    return Endpoints(
        raw=dict(data),
        action_url=action.get("url"),
        actions_module=action.get("actions_module"),
        model_groups=groups,
        nlg=dict(nlg),
        path=path,
    )
