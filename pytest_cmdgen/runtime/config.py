"""config.yml: the command generator component and the policies (reference §9.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_cmdgen.runtime.errors import ProjectError, load_project_yaml
from pytest_cmdgen.yamlio import line_of

GENERATOR_NAMES = (
    "SingleStepLLMCommandGenerator",
    "LLMCommandGenerator",
    "CompactLLMCommandGenerator",
    "SearchReadyLLMCommandGenerator",
)
DEFAULT_MAX_CHARACTERS = 420


@dataclass
class GeneratorConfig:
    """The LLM command generator entry of the pipeline, kept raw plus the fields the runtime reads."""

    name: str
    raw: dict[str, Any]
    line: int = 0

    @property
    def llm(self) -> dict[str, Any]:
        """The ``llm`` block (may hold ``model_group``)."""
        return dict(self.raw.get("llm") or {})

    @property
    def prompt_template(self) -> str | None:
        """Path of a custom prompt template, relative to the project, if configured."""
        value = self.raw.get("prompt_template") or self.raw.get("prompt")
        return str(value) if value else None

    @property
    def max_characters(self) -> int | None:
        """``user_input.max_characters`` (default 420; ``null`` or a negative value disables the check)."""
        user_input = self.raw.get("user_input")
        if isinstance(user_input, dict) and "max_characters" in user_input:
            value = user_input["max_characters"]
            return None if value is None or int(value) < 0 else int(value)
        return DEFAULT_MAX_CHARACTERS

    @property
    def flow_retrieval(self) -> dict[str, Any]:
        """The ``flow_retrieval`` block (``active`` defaults to true)."""
        return dict(self.raw.get("flow_retrieval") or {})


@dataclass
class ProjectConfig:
    """Parsed config.yml."""

    raw: dict[str, Any]
    path: Path | None = None
    generator: GeneratorConfig | None = None
    pipeline: list[dict[str, Any]] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def policy_names(self) -> list[str]:
        """Names of the configured policies."""
        return [str(p.get("name")) for p in self.policies]

    def has_policy(self, name: str) -> bool:
        """Whether a policy with this name is configured."""
        return name in self.policy_names

    @property
    def assistant_id(self) -> str | None:
        """``assistant_id`` if set."""
        value = self.raw.get("assistant_id")
        return str(value) if value is not None else None


def load_config(path: Path) -> ProjectConfig:
    """Load config.yml; a missing file gives an empty config (no generator)."""
    if not path.exists():
        return ProjectConfig(raw={}, path=None)
    data = load_project_yaml(path) or {}
    source = str(path)
    if not isinstance(data, dict):
        raise ProjectError(source, line_of(data), "config", "a mapping at the top level")
    pipeline = data.get("pipeline") or []
    policies = data.get("policies") or []
    for key, items in (("pipeline", pipeline), ("policies", policies)):
        if not isinstance(items, list):
            raise ProjectError(source, line_of(data, key), key, "a list of components with `name`")
        for index, item in enumerate(items):
            if not isinstance(item, dict) or "name" not in item:
                raise ProjectError(source, line_of(items, index), f"{key}[{index}]", "a component mapping with `name`")
    generator = None
    for index, component in enumerate(pipeline):
        name = str(component["name"]).rsplit(".", 1)[-1]
        if name in GENERATOR_NAMES:
            user_input = component.get("user_input")
            if user_input is not None and not isinstance(user_input, dict):
                raise ProjectError(
                    source,
                    line_of(component, "user_input"),
                    f"pipeline[{index}].user_input",
                    "a mapping with `max_characters`",
                )
            generator = GeneratorConfig(name=name, raw=dict(component), line=line_of(pipeline, index))
            break
    return ProjectConfig(
        raw=dict(data),
        path=path,
        generator=generator,
        pipeline=[dict(c) for c in pipeline],
        policies=[dict(p) for p in policies],
    )
