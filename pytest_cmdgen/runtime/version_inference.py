"""Which Rasa version a project targets, when ``--cmdgen-rasa-version`` does not say.

Projects rarely state their Rasa version, but the features they use do: each feature below first exists in
some version (reference rasa-modern-generators.md §0), so the project needs at least the newest of them. The
inference picks that lowest version consistent with everything used, and says why, so the session header
can show the reason and a user can override it.

Before inferring, :func:`pinned_version` looks for the version the project pins: a lock file or requirements
file in the assistant's folder naming ``rasa-pro==X.Y.Z`` (``uv.lock``, ``poetry.lock``, ``requirements*.txt``,
``pyproject.toml``, in that order) is what the assistant runs on, patch release included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_cmdgen.runtime.config import ProjectConfig
from pytest_cmdgen.runtime.endpoints import Endpoints
from pytest_cmdgen.runtime.flows import Flow
from pytest_cmdgen.runtime.slots import SlotDefinition
from pytest_cmdgen.versions import UnknownVersionError, profile_for

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


# --- the version the project pins ------------------------------------------------------------------------

_NAME = r"rasa[-_.]pro"
_EXACT = r"(\d+\.\d+\.\d+)"
#: ``[[package]]`` entries of uv.lock and poetry.lock: the version installed.
_LOCK_RE = re.compile(rf'^name\s*=\s*"{_NAME}"\s*\n\s*version\s*=\s*"{_EXACT}"\s*$', re.I | re.M)
#: A requirements line ``rasa-pro[extras]==X.Y.Z`` (markers, hashes and comments may follow).
_REQUIREMENT_RE = re.compile(rf"^\s*{_NAME}\s*(?:\[[^\]]*\])?\s*==\s*{_EXACT}\s*(?:[;#\\]|--|$)", re.I | re.M)
_PYPROJECT_RES = (
    # PEP 621 / PEP 735 dependency strings: "rasa-pro==3.12.6", "rasa-pro[full] == 3.12.6; python_version<'4'"
    re.compile(rf"""["']\s*{_NAME}\s*(?:\[[^\]]*\])?\s*==\s*{_EXACT}\s*(?:;[^"']*)?["']""", re.I),
    # Poetry: rasa-pro = "3.12.6" or "==3.12.6" (a bare version is exact in Poetry), or {version = "3.12.6", ...}
    re.compile(rf"""^\s*["']?{_NAME}["']?\s*=\s*["'](?:==)?{_EXACT}["']""", re.I | re.M),
    re.compile(rf"""^\s*["']?{_NAME}["']?\s*=\s*\{{[^}}]*\bversion\s*=\s*["'](?:==)?{_EXACT}["']""", re.I | re.M),
)


@dataclass(frozen=True)
class PinnedVersion:
    """A ``rasa-pro`` version the project pins, and the file that pins it."""

    version: str
    file: str

    @property
    def supported(self) -> bool:
        """Whether this tool reproduces the version (Rasa Pro 3.10 – 3.21)."""
        try:
            profile_for(self.version)
        except UnknownVersionError:
            return False
        return True

    @property
    def reason(self) -> str:
        """The header's reason: ``pinned: requirements.txt names rasa-pro==3.12.6``."""
        return f"pinned: {self.file} names rasa-pro=={self.version}"


def _pin_files(root: Path) -> list[Path]:
    return [root / "uv.lock", root / "poetry.lock", *sorted(root.glob("requirements*.txt")), root / "pyproject.toml"]


def pinned_version(root: str | Path) -> PinnedVersion | None:
    """The ``rasa-pro==X.Y.Z`` a lock file or requirements file in ``root`` names (the first file that does,
    in the order of the module docs), or None. Ranges (``>=3.12``, ``^3.12``) pin nothing."""
    for path in _pin_files(Path(root)):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if path.suffix == ".lock":
            patterns: tuple[re.Pattern[str], ...] = (_LOCK_RE,)
        elif path.suffix == ".txt":
            patterns = (_REQUIREMENT_RE,)
        else:
            patterns = _PYPROJECT_RES
        for pattern in patterns:
            match = pattern.search(text)
            if match:
                return PinnedVersion(match.group(1), path.name)
    return None
