"""Which Rasa version a project targets, when ``--cmdgen-rasa-version`` does not say.

Projects do not state their Rasa version, but the features they use do: each feature below first exists in
some version (reference rasa-modern-generators.md §0), so the project needs at least the newest of them. The
inference picks that lowest version consistent with everything used, and says why, so the session header
can show the reason and a user can override it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_cmdgen.runtime.config import ProjectConfig
from pytest_cmdgen.runtime.endpoints import Endpoints
from pytest_cmdgen.runtime.flows import Flow
from pytest_cmdgen.runtime.slots import SlotDefinition

#: The oldest version this tool reproduces; a project using nothing newer is taken as this one.
BASELINE = "3.10"

_GENERATOR_SINCE = {
    "CompactLLMCommandGenerator": "3.12",
    "SearchReadyLLMCommandGenerator": "3.13",
}
#: Models whose own prompt templates and defaults exist from 3.16.0 (modern §2.3).
_MODEL_PREFIXES_SINCE_316 = ("gpt-5", "claude-sonnet-4")


@dataclass(frozen=True)
class VersionEvidence:
    """A feature the project uses and the first Rasa version that has it."""

    since: str
    feature: str


@dataclass(frozen=True)
class InferredVersion:
    """The inferred version and the evidence that decided it (empty: nothing newer than the baseline)."""

    version: str
    evidence: tuple[VersionEvidence, ...]

    @property
    def reason(self) -> str:
        """One line for the session header."""
        deciding = [e.feature for e in self.evidence if e.since == self.version]
        if not deciding:
            return f"no feature newer than {BASELINE}"
        return "uses " + ", ".join(deciding)


def _key(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def _generator_models(config: ProjectConfig, endpoints: Endpoints) -> Iterable[str]:
    generator = config.generator
    if generator is None:
        return []
    llm = generator.llm
    if "model_group" in llm:
        return [str(m.get("model") or "") for m in endpoints.model_groups.get(str(llm["model_group"]), [])]
    return [str(llm.get("model") or llm.get("model_name") or "")]


def collect_evidence(
    config: ProjectConfig,
    endpoints: Endpoints,
    flows: Iterable[Flow],
    slots: Mapping[str, SlotDefinition],
) -> list[VersionEvidence]:
    """Every feature of the project that postdates the baseline, with the version it appeared in."""
    evidence: list[VersionEvidence] = []
    generator = config.generator
    if generator is not None:
        name = generator.name.rsplit(".", 1)[-1]
        if name in _GENERATOR_SINCE:
            evidence.append(VersionEvidence(_GENERATOR_SINCE[name], name))
        if "include_date_time" in generator.raw or "timezone" in generator.raw:
            evidence.append(VersionEvidence("3.15", "include_date_time/timezone in the generator config"))
        for model in _generator_models(config, endpoints):
            if model.startswith(_MODEL_PREFIXES_SINCE_316):
                evidence.append(VersionEvidence("3.16", f"the {model} model for the command generator"))
    if endpoints.model_groups:
        evidence.append(VersionEvidence("3.11", "model_groups in endpoints.yml"))
    if any(m.get("type") == "controlled" for s in slots.values() for m in s.mappings if isinstance(m, dict)):
        evidence.append(VersionEvidence("3.12", "controlled slot mappings"))
    user_flows = [f for f in flows if not f.id.startswith("pattern_")]
    if any(f.persisted_slots for f in user_flows):
        evidence.append(VersionEvidence("3.12", "persisted_slots in flows"))
    if any(getattr(step, "force_slot_filling", False) for f in user_flows for step in f.steps):
        evidence.append(VersionEvidence("3.12", "force_slot_filling in collect steps"))
    return evidence


def infer_version(evidence: Iterable[VersionEvidence]) -> InferredVersion:
    """The lowest version that has every feature in ``evidence``."""
    items = tuple(evidence)
    version = max((e.since for e in items), key=_key, default=BASELINE)
    version = max(version, BASELINE, key=_key)
    return InferredVersion(version, items)


def infer_project_version(
    config: ProjectConfig, endpoints: Endpoints, flows: Iterable[Flow], slots: Mapping[str, Any]
) -> InferredVersion:
    """Infer the version of a loaded project's parts."""
    return infer_version(collect_evidence(config, endpoints, flows, slots))
