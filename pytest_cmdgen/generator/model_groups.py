"""The command generator's LLM and embedding clients: ``model_group`` resolution and per-version defaults.

Rules of rasa-modern-generators.md §1.2–§1.4 and §2.2:

* ``llm: {model_group: <id>}`` is replaced by the group of that id from ``endpoints.yml`` (0 or several
  groups with the id → :class:`ModelGroupError` with Rasa's wording); a group without router uses only
  ``models[0]``; a group with a router is also reduced to ``models[0]`` (deterministic stand-in for the
  LiteLLM router). ``model_group`` next to other keys is an error.
* The resolved model config is merged over the generator's default config of that Rasa version
  (:func:`generator_llm_defaults`); from 3.16 the ``reasoning_effort`` default is kept only for models
  that accept it (prefix table of §1.3).
* The default prompt template is chosen from the *un-merged* ``provider`` / ``model`` keys
  (:func:`template_model_key`).
* ``${VAR}`` references are left in the config; :class:`~pytest_cmdgen.llm.LLMConfig` expands them when
  a request is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_cmdgen.generator.prompt import GeneratorName
from pytest_cmdgen.llm.config import LLMConfig, expand_env
from pytest_cmdgen.llm.errors import LLMConfigError
from pytest_cmdgen.versions import Version, profile_for

# reasoning_effort defaults of 3.16+ (openai / azure models), first matching prefix wins (§1.3).
_REASONING_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-5.4-mini", "none"),
    ("gpt-5.4-nano", "none"),
    ("gpt-5.4", "none"),
    ("gpt-5.2", "none"),
    ("gpt-5.2-pro", "low"),
    ("gpt-5.1-codex-max", "low"),
    ("gpt-5.1-codex-mini", "low"),
    ("gpt-5.1-codex", "low"),
    ("gpt-5.1", "none"),
    ("gpt-5-codex", "low"),
    ("gpt-5-pro", "high"),
    ("gpt-5-mini", "minimal"),
    ("gpt-5-nano", "minimal"),
    ("gpt-5", "minimal"),
)


class ModelGroupError(LLMConfigError):
    """A ``model_group`` reference cannot be resolved against ``endpoints.yml`` (Rasa's messages)."""


def generator_llm_defaults(generator: GeneratorName, rasa_version: str | Version) -> dict[str, Any]:
    """The default ``llm`` config of ``generator`` in ``rasa_version`` (modern §2.2, reference §9.1)."""
    profile = profile_for(rasa_version)
    return dict(profile.single_step_llm if generator == "single_step" else profile.modern_generator_llm)


def embeddings_defaults(rasa_version: str | Version) -> dict[str, Any]:
    """Flow retrieval's default embedding model: ``text-embedding-3-large`` from 3.13, else ada-002."""
    return {"provider": "openai", "model": profile_for(rasa_version).embeddings_model}


def _group_dicts(endpoints: Any) -> list[dict[str, Any]] | None:
    """Every model group of ``endpoints`` as a full dict (router kept); None when none are defined."""
    raw = getattr(endpoints, "raw", None)
    if isinstance(raw, Mapping) and isinstance(raw.get("model_groups"), list):
        return [dict(g) for g in raw["model_groups"] if isinstance(g, Mapping)]
    groups = getattr(endpoints, "model_groups", None)
    if isinstance(groups, Mapping) and groups:
        return [{"id": gid, "models": list(models)} for gid, models in groups.items()]
    if isinstance(endpoints, Mapping) and isinstance(endpoints.get("model_groups"), list):
        return [dict(g) for g in endpoints["model_groups"] if isinstance(g, Mapping)]
    return None


def resolve_model_group(group_id: str, endpoints: Any, component: str = "LLMCommandGenerator") -> dict[str, Any]:
    """The group dict ``{id, models, router?}`` with this id; raises :class:`ModelGroupError` like Rasa.

    ``endpoints`` is the runtime's ``Endpoints`` object or a raw ``endpoints.yml`` mapping.
    """
    groups = _group_dicts(endpoints)
    if not groups:
        raise ModelGroupError(
            f"Your {component} component's 'llm' configuration references the model group '{group_id}', "
            "but NO MODEL GROUPS ARE DEFINED in the endpoints.yml file. Please define the model group."
        )
    hits = [g for g in groups if str(g.get("id")) == group_id]
    if not hits:
        ids = ", ".join(str(g.get("id")) for g in groups)
        raise ModelGroupError(
            f"Your {component} component's 'llm' configuration references the model group '{group_id}', "
            "but this model group DOES NOT EXIST in the endpoints.yml file. The endpoints.yml defines the "
            f"following model groups: [{ids}]."
        )
    if len(hits) > 1:
        raise ModelGroupError(
            f"Could not resolve model group '{group_id}' for component '{component}'. Multiple model groups "
            "with that id found in endpoints.yml. Please make sure to define the model group just once."
        )
    group = dict(hits[0])
    models = group.get("models")
    if not isinstance(models, list) or not models or not all(isinstance(m, Mapping) for m in models):
        raise ModelGroupError(f"The model group '{group_id}' in endpoints.yml needs a non-empty `models` list.")
    if group.get("router"):
        raise ModelGroupError(
            f"The model group '{group_id}' configures a router; pytest-cmdgen sends every call to one model and "
            "does not route between models. Point the component at a group with one model."
        )
    group["models"] = [dict(m) for m in models]
    return group


def resolved_llm_block(
    llm: Mapping[str, Any] | None, endpoints: Any, component: str = "LLMCommandGenerator"
) -> dict[str, Any]:
    """The single model config a component's ``llm`` (or ``embeddings``) block stands for, un-merged.

    Inline blocks come back as given; ``{model_group: id}`` becomes that group's ``models[0]``.
    """
    block = dict(llm or {})
    if "model_group" not in block:
        return block
    if len(block) > 1:
        raise ModelGroupError(
            f"The 'llm' configuration of {component} references a model group ('model_group'). No other "
            "parameters are allowed under the 'llm' key in that case."
        )
    group = resolve_model_group(str(block["model_group"]), endpoints, component)
    return dict(group["models"][0])


def _provider_of(config: Mapping[str, Any]) -> str | None:
    for key in ("provider", "type", "_type"):
        if config.get(key):
            return str(config[key]).strip().lower()
    if "deployment" in config:
        return "azure"
    return None


def template_model_key(model_config: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(model, provider)`` as Rasa reads them to pick the default template: raw keys, no aliases/defaults."""
    model = model_config.get("model")
    provider = model_config.get("provider")
    return (
        expand_env(str(model)) if model is not None else None,
        expand_env(str(provider)) if provider is not None else None,
    )


def _reasoning_effort_default(merged: dict[str, Any]) -> str | None:
    provider = str(merged.get("provider") or "").lower()
    model = str(merged.get("model") or "")
    if provider not in ("openai", "azure") or not model:
        return None
    model = model.split("/", 1)[1] if model.startswith(f"{provider}/") else model
    for prefix, effort in _REASONING_PREFIXES:
        if model.startswith(prefix):
            return effort
    return None


def merged_llm_settings(
    model_config: Mapping[str, Any], defaults: Mapping[str, Any], rasa_version: str | Version
) -> dict[str, Any]:
    """``model_config`` merged over ``defaults`` (§1.3): same or absent provider → overlay, else alone.

    From 3.16 a ``reasoning_effort`` the user did not write is set from the model prefix table or removed.
    """
    user = dict(model_config)
    user_provider = _provider_of(user)
    default_provider = _provider_of(defaults) or "openai"
    if user_provider in (None, default_provider):
        merged = dict(defaults)
        if any(k in user for k in ("max_tokens", "max_completion_tokens")):
            merged.pop("max_tokens", None)
            merged.pop("max_completion_tokens", None)
        if any(k in user for k in ("model_name",)):
            merged.pop("model", None)
        if any(k in user for k in ("request_timeout",)):
            merged.pop("timeout", None)
        merged.update(user)
    else:
        merged = user
    if profile_for(rasa_version).reasoning_effort_by_model and "reasoning_effort" not in user:
        effort = _reasoning_effort_default(merged)
        if effort is None:
            merged.pop("reasoning_effort", None)
        else:
            merged["reasoning_effort"] = effort
    return merged


def generator_llm_config(
    llm: Mapping[str, Any] | None,
    endpoints: Any,
    generator: GeneratorName,
    rasa_version: str | Version,
    component: str = "LLMCommandGenerator",
) -> LLMConfig:
    """The :class:`LLMConfig` a generator calls: ``llm`` block (or its model group) over the version defaults."""
    model_config = resolved_llm_block(llm, endpoints, component)
    merged = merged_llm_settings(model_config, generator_llm_defaults(generator, rasa_version), rasa_version)
    return LLMConfig.from_rasa(merged)


def embeddings_config(
    embeddings: Mapping[str, Any] | None,
    endpoints: Any,
    rasa_version: str | Version,
    component: str = "LLMCommandGenerator",
) -> LLMConfig:
    """The flow-retrieval embedding client: ``flow_retrieval.embeddings`` (or its group) over the defaults."""
    model_config = resolved_llm_block(embeddings, endpoints, component)
    defaults = embeddings_defaults(rasa_version)
    provider = _provider_of(model_config)
    merged = {**defaults, **model_config} if provider in (None, defaults["provider"]) else dict(model_config)
    return LLMConfig.from_rasa(merged)


__all__ = [
    "ModelGroupError",
    "embeddings_config",
    "embeddings_defaults",
    "generator_llm_config",
    "generator_llm_defaults",
    "merged_llm_settings",
    "resolve_model_group",
    "resolved_llm_block",
    "template_model_key",
]
