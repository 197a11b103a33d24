"""A Rasa project on disk, loaded: config, domain (with default pattern data), flows, endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pytest_cmdgen.runtime.config import ProjectConfig, load_config
from pytest_cmdgen.runtime.domain import Domain, load_domain, merge_domain_dict
from pytest_cmdgen.runtime.endpoints import Endpoints, load_endpoints
from pytest_cmdgen.runtime.errors import ProjectError, load_project_yaml
from pytest_cmdgen.runtime.flows import (
    Flow,
    FlowsList,
    load_flow_files,
    parse_flows_document,
    validate_flow_references,
)
from pytest_cmdgen.runtime.slots import SlotDefinition
from pytest_cmdgen.runtime.version_inference import infer_project_version
from pytest_cmdgen.versions import UnknownVersionError, VersionProfile, profile_for
from pytest_cmdgen.yamlio import line_of

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass
class Project:
    """Everything the runtime needs from a Rasa project, for one Rasa version profile."""

    root: Path
    config: ProjectConfig
    domain: Domain
    flows: FlowsList
    endpoints: Endpoints
    profile: VersionProfile
    version_reason: str = "given"

    @classmethod
    def load(
        cls,
        root: str | Path,
        version: str | None = None,
        *,
        domain_path: str | Path | None = None,
        flow_paths: list[str | Path] | None = None,
        config_path: str | Path | None = None,
        endpoints_path: str | Path | None = None,
    ) -> Project:
        """Load a project directory; raises :class:`ProjectError` (``file:line: key: expected``) on bad input."""
        root = Path(root)
        if not root.is_dir():
            raise ProjectError(str(root), 0, "project", "a Rasa project directory (not found)")
        config = load_config(Path(config_path) if config_path else root / "config.yml")
        endpoints = load_endpoints(Path(endpoints_path) if endpoints_path else root / "endpoints.yml")
        domain = load_domain(Path(domain_path) if domain_path else _default_domain_path(root))
        paths = [Path(p) for p in flow_paths] if flow_paths else [root / "data"]
        for path in paths:
            if not path.exists():
                raise ProjectError(str(path), 0, "flows", "a flows file or directory (not found)")
        user_flows = load_flow_files(paths)
        if version is None:
            inferred = infer_project_version(config, endpoints, user_flows, domain.slots)
            version, version_reason = inferred.version, f"inferred: {inferred.reason}"
        else:
            version_reason = "given"
        try:
            profile = profile_for(version)
        except UnknownVersionError as exc:
            raise ProjectError(str(root), 0, "rasa version", str(exc)) from None
        pattern_domain, pattern_flows = default_patterns(profile.patterns_file)
        domain.merge_defaults(pattern_domain)
        for name, slot_type in profile.builtin_slots:
            domain.slots.setdefault(name, SlotDefinition(name=name, type=slot_type, mappings=[{"type": "controlled"}]))
        user_ids = {f.id for f in user_flows}
        flows = FlowsList(user_flows + [f for f in pattern_flows if f.id not in user_ids])
        validate_flow_references(flows)
        _check_model_groups(config, endpoints)
        return cls(
            root=root,
            config=config,
            domain=domain,
            flows=flows,
            endpoints=endpoints,
            profile=profile,
            version_reason=version_reason,
        )


def _default_domain_path(root: Path) -> Path:
    for candidate in (root / "domain", root / "domain.yml", root / "domain.yaml"):
        if candidate.exists():
            return candidate
    return root / "domain"


def _check_model_groups(config: ProjectConfig, endpoints: Endpoints) -> None:
    components = list(config.pipeline) + list(config.policies)
    for component in components:
        llm = component.get("llm")
        if isinstance(llm, dict) and "model_group" in llm and str(llm["model_group"]) not in endpoints.model_groups:
            source = str(config.path) if config.path else "config.yml"
            raise ProjectError(
                source,
                line_of(llm, "model_group"),
                f"{component.get('name')}.llm.model_group",
                f"a model group defined in endpoints.yml (no group {llm['model_group']!r})",
            )


@lru_cache(maxsize=16)
def _pattern_data(file_name: str) -> tuple[dict, str]:
    path = DATA_DIR / "patterns" / file_name
    return load_project_yaml(path), str(path)


def default_patterns(file_name: str) -> tuple[Domain, list[Flow]]:
    """The default pattern responses/slots (as a domain) and pattern flows of one data file."""
    data, source = _pattern_data(file_name)
    domain = Domain()
    merge_domain_dict(domain, data, source)
    return domain, parse_flows_document(data, source)
