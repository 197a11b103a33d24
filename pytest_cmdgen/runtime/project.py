"""A Rasa project on disk, loaded: config, domain (with default pattern data), flows, endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pytest_cmdgen.runtime.config import ProjectConfig, load_config
from pytest_cmdgen.runtime.domain import Domain, load_domain, merge_domain_dict
from pytest_cmdgen.runtime.endpoints import Endpoints, load_endpoints
from pytest_cmdgen.runtime.errors import ProjectError, load_project_yaml
from pytest_cmdgen.runtime.flows import Flow, FlowsList, load_flow_files, parse_flows_document
from pytest_cmdgen.runtime.slots import SlotDefinition
from pytest_cmdgen.runtime.validation import ProjectWarning, validate_project
from pytest_cmdgen.runtime.version_inference import infer_project_version, pinned_version
from pytest_cmdgen.versions import UnknownVersionError, VersionProfile, profile_for, version_label
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
    version_label: str = ""
    """How the session header names the version (:func:`~pytest_cmdgen.versions.version_label`)."""
    warnings: tuple[ProjectWarning, ...] = ()
    """What ``rasa data validate`` only warns about (:mod:`pytest_cmdgen.runtime.validation`)."""

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
        """Load a project directory; raises :class:`ProjectError` (``file:line: key: expected``) on bad input.

        A file that cannot be read stops loading there; once all are read, the project is validated like
        ``rasa data validate`` and every error it finds is raised at once (``ProjectValidationError``).
        """
        root = Path(root)
        if not root.is_dir():
            raise ProjectError(str(root), 0, "project", "a Rasa project directory (not found)")
        config = load_config(Path(config_path) if config_path else root / "config.yml")
        endpoints = load_endpoints(Path(endpoints_path) if endpoints_path else root / "endpoints.yml")
        problems: list[ProjectError] = []
        domain = load_domain(Path(domain_path) if domain_path else _default_domain_path(root), problems)
        paths = [Path(p) for p in flow_paths] if flow_paths else [root / "data"]
        for path in paths:
            if not path.exists():
                raise ProjectError(str(path), 0, "flows", "a flows file or directory (not found)")
        user_flows = load_flow_files(paths)
        pinned = pinned_version(root) if version is None else None
        if pinned is not None and pinned.supported:
            version, version_reason = pinned.version, pinned.reason
        elif version is None:
            inferred = infer_project_version(config, endpoints, user_flows, domain.slots)
            version, version_reason = inferred.version, f"inferred: {inferred.reason}"
            if pinned is not None:
                version_reason += f"; {pinned.file} pins rasa-pro {pinned.version}, which this tool does not reproduce"
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
        report = validate_project(config, domain, flows, user_flows, problems)
        report.raise_for_errors(root)
        _check_model_groups(config, endpoints)
        return cls(
            root=root,
            config=config,
            domain=domain,
            flows=flows,
            endpoints=endpoints,
            profile=profile,
            version_reason=version_reason,
            version_label=version_label(profile, version),
            warnings=tuple(report.warnings),
        )


def _default_domain_path(root: Path) -> Path:
    for candidate in (root / "domain", root / "domain.yml", root / "domain.yaml"):
        if candidate.exists():
            return candidate
    return root / "domain"


def _llm_blocks(config: ProjectConfig, endpoints: Endpoints) -> list[tuple[str, str, dict[str, Any]]]:
    """Every LLM/embeddings client config of the project: (file, key path, block)."""
    config_file = str(config.path) if config.path else "config.yml"
    blocks: list[tuple[str, str, dict[str, Any]]] = []
    for component in list(config.pipeline) + list(config.policies):
        name = str(component.get("name"))
        retrieval = component.get("flow_retrieval")
        candidates = [(f"{name}.{key}", component.get(key)) for key in ("llm", "embeddings")]
        if isinstance(retrieval, dict):
            candidates.append((f"{name}.flow_retrieval.embeddings", retrieval.get("embeddings")))
        blocks += [(config_file, path, block) for path, block in candidates if isinstance(block, dict) and block]
    nlg_llm = endpoints.nlg.get("llm")
    if isinstance(nlg_llm, dict) and nlg_llm:
        blocks.append((str(endpoints.path or "endpoints.yml"), "nlg.llm", nlg_llm))
    return blocks


def _check_model_groups(config: ProjectConfig, endpoints: Endpoints) -> None:
    """Rasa's model-group rules (rasa-modern-generators §1.1): known ids, one style for every component,
    and, beyond Rasa, no router (this tool uses one model per group and says so instead of guessing)."""
    blocks = _llm_blocks(config, endpoints)
    referencing = [b for b in blocks if "model_group" in b[2]]
    inline = [b for b in blocks if "model_group" not in b[2]]
    if referencing and inline:
        source, path, block = inline[0]
        raise ProjectError(
            source,
            line_of(block),
            path,
            "a model_group reference like the other components: Rasa does not allow mixing model_group "
            "references with LLM configs written inline",
        )
    raw_groups = endpoints.raw.get("model_groups") or []
    for source, path, block in referencing:
        group_id = str(block["model_group"])
        if group_id not in endpoints.model_groups:
            defined = ", ".join(endpoints.model_groups) or "none"
            raise ProjectError(
                source,
                line_of(block, "model_group"),
                f"{path}.model_group",
                f"a model group defined in endpoints.yml (no group {group_id!r}; defined: {defined})",
            )
        group = next(g for g in raw_groups if str(g.get("id")) == group_id)
        if "router" in group:
            raise ProjectError(
                str(endpoints.path or "endpoints.yml"),
                line_of(group, "router"),
                f"model_groups[{group_id}].router",
                "no router: pytest-cmdgen sends every call to the group's first model and does not route "
                "between models; point the component at a group with one model",
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
