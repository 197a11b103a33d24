"""LLM client configuration: parsing Rasa ``llm:`` / ``embeddings:`` mappings and resolving endpoints.

A :class:`LLMConfig` holds only what a project's ``config.yml`` says (merged over a component's defaults).
Credentials and endpoints coming from environment variables are resolved at call time by
:meth:`LLMConfig.resolve_endpoint`, so a config object never carries a secret in its ``repr`` and can be
used to build cache keys safely.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_cmdgen.llm.errors import LLMConfigError

#: Provider kinds this layer can talk to without naming a back-end (all through the official ``openai``
#: client).
SUPPORTED_PROVIDERS = ("openai", "azure", "self-hosted", "rasa")

#: The back-end (see :mod:`pytest_cmdgen.llm.backends`) serving each provider when a config names none.
DEFAULT_BACKENDS: Mapping[str, str] = {provider: "openai" for provider in SUPPORTED_PROVIDERS}

#: Rasa 3.10 ``SingleStepLLMCommandGenerator`` LLM defaults (reference §9.1).
COMMAND_GENERATOR_DEFAULTS: Mapping[str, Any] = {
    "provider": "openai",
    "model": "gpt-4-0613",
    "temperature": 0.0,
    "max_tokens": 256,
    "timeout": 7,
}

#: Rasa 3.10 rephraser LLM defaults (reference §5.1).
REPHRASER_DEFAULTS: Mapping[str, Any] = {
    "provider": "openai",
    "model": "gpt-4o-mini",
    "temperature": 0.0,
    "max_tokens": 4096,
    "timeout": 7,
}

#: Flow-retrieval embedding defaults (reference §9.1).
EMBEDDINGS_DEFAULTS: Mapping[str, Any] = {"provider": "openai", "model": "text-embedding-ada-002"}

# Deprecated / litellm spellings -> canonical key (reference rasa-modern-generators §1.1).
_ALIASES: Mapping[str, str] = {
    "model_name": "model",
    "request_timeout": "timeout",
    "openai_api_base": "api_base",
    "openai_api_version": "api_version",
    "openai_api_type": "api_type",
    "openai_api_key": "api_key",
    "type": "provider",
    "_type": "provider",
    "engine": "deployment",
    "deployment_name": "deployment",
}

# Keys that only mean something to litellm / Rasa and are not sent to the provider.
_IGNORED_KEYS = frozenset(
    {"api_type", "num_retries", "max_retries", "drop_params", "use_chat_completions_endpoint", "cache"}
)
_FORBIDDEN_KEYS = frozenset({"stream", "n"})
_FIRST_CLASS = frozenset(
    {"provider", "model", "api_base", "api_version", "deployment", "temperature", "timeout", "api_key", "backend"}
)
_MAX_TOKEN_KEYS = ("max_tokens", "max_completion_tokens")

# Parameters the openai client's ``chat.completions.create`` accepts as keywords; anything else in
# ``extra`` goes into ``extra_body`` (e.g. vLLM's ``top_k``).
CHAT_CREATE_PARAMS = frozenset(
    {
        "top_p", "seed", "stop", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
        "top_logprobs", "reasoning_effort", "response_format", "user", "service_tier", "metadata", "store",
        "verbosity", "parallel_tool_calls", "prediction", "modalities", "audio", "tools", "tool_choice",
        "prompt_cache_key", "safety_identifier",
    }
)  # fmt: skip
EMBED_CREATE_PARAMS = frozenset({"dimensions", "user"})

#: The key the openai client is given for a self-hosted server that needs none.
DUMMY_API_KEY = "sk-no-key-required"

_VAR_RE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def expand_env(value: str, env: Mapping[str, str] | None = None) -> str:
    """Expand ``$VAR`` and ``${VAR}`` like :func:`os.path.expandvars`; unknown variables stay literal."""
    environ = os.environ if env is None else env

    def _sub(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        return environ.get(name, match.group(0))

    return _VAR_RE.sub(_sub, value)


def _expand_required(value: str, what: str, env: Mapping[str, str] | None) -> str:
    expanded = expand_env(value, env)
    missing = [m.group("braced") or m.group("plain") for m in _VAR_RE.finditer(expanded)]
    if missing:
        raise LLMConfigError(f"{what} refers to environment variable(s) {missing} which are not set")
    return expanded


def _expand_any(value: Any, env: Mapping[str, str] | None) -> Any:
    if isinstance(value, str):
        return expand_env(value, env)
    if isinstance(value, Mapping):
        return {k: _expand_any(v, env) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_expand_any(v, env) for v in value]
    return value


def _canonical(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Resolve aliases and infer the provider of one mapping (no defaults merged)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        key = str(key)
        if key in _FORBIDDEN_KEYS:
            raise LLMConfigError(f"the LLM config key {key!r} is not allowed")
        if key == "model_group":
            raise LLMConfigError(
                "an 'llm: {model_group: ...}' reference must be resolved against endpoints.yml first "
                "(use LLMConfig.from_model_group)"
            )
        canonical = _ALIASES.get(key, key)
        if canonical in out and canonical != key:
            continue  # the canonical spelling wins over an alias
        out[canonical] = value
    if "provider" not in out:
        api_type = str(out.get("api_type") or "").lower()
        if api_type == "azure" or "deployment" in out:
            out["provider"] = "azure"
    if "provider" in out and out["provider"] is not None:
        out["provider"] = str(out["provider"]).strip().lower()
    tokens = [k for k in _MAX_TOKEN_KEYS if k in out]
    if tokens:
        # Keep the spelling the user wrote; if both, max_completion_tokens wins (it is the newer name).
        param = tokens[-1]
        out["_max_tokens_param"] = param
        out["_max_tokens"] = out[param]
        for k in tokens:
            del out[k]
    return out


@dataclass(frozen=True)
class Endpoint:
    """A fully resolved place to send requests to (produced at call time, holds the API key).

    Attributes:
        client_kind: ``"openai"`` (OpenAI or any OpenAI-compatible server) or ``"azure"``; for a provider
            served by another back-end, the provider's name.
        base_url: the API base URL (``None`` = the openai client's default); Azure: the endpoint.
        api_key: the key to authenticate with (may be empty for other back-ends); never shown in ``repr``.
        api_version: Azure API version.
        model: the model (Azure: deployment) name sent in the request body.
    """

    client_kind: str
    base_url: str | None
    api_key: str = field(repr=False)
    api_version: str | None
    model: str

    def client_key(self) -> tuple[str, str | None, str | None, str]:
        """A hashable identity for client reuse; the key enters only as a digest."""
        digest = hashlib.sha256(self.api_key.encode()).hexdigest()[:16]
        return (self.client_kind, self.base_url, self.api_version, digest)


@dataclass(frozen=True)
class LLMConfig:
    """One LLM (or embedding model) client configuration, as written in a Rasa project.

    Build it with :meth:`from_rasa` from an ``llm:`` mapping merged over component defaults. Values may
    contain ``${VAR}`` references; they are expanded only when a request is made. ``api_key`` (normally a
    ``${VAR}`` reference) is hidden from ``repr`` and never enters cache keys.

    The back-end that answers is :attr:`backend_name`: the ``backend`` field (``backend:`` in the ``llm:``
    mapping) when set, else :data:`DEFAULT_BACKENDS` of the provider (``"openai"`` for every supported
    provider). With a ``backend`` other than ``"openai"`` the provider may be any name, which that back-end
    interprets (see :meth:`resolve_endpoint`). Back-end names are looked up in
    :mod:`pytest_cmdgen.llm.backends.registry` only when a request is made, so a back-end may register after
    the config was read; an unknown name then fails the request with an
    :class:`~pytest_cmdgen.llm.errors.LLMConfigError` that lists the known back-ends.
    """

    provider: str = "openai"
    model: str | None = None
    api_base: str | None = None
    api_version: str | None = None
    deployment: str | None = None
    temperature: float = 0.0
    max_tokens: int | None = None
    max_tokens_param: str = "max_tokens"
    timeout: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    api_key: str | None = field(default=None, repr=False)
    backend: str | None = None

    def __post_init__(self) -> None:
        """Validate provider and back-end and normalise numbers so equal configs give equal cache keys."""
        if self.backend is not None:
            backend = str(self.backend).strip().lower()
            if not backend:
                raise LLMConfigError("the LLM config's backend must not be empty (leave it out for the default)")
            object.__setattr__(self, "backend", backend)
        if self.provider not in SUPPORTED_PROVIDERS and self.backend in (None, DEFAULT_BACKENDS["openai"]):
            raise LLMConfigError(
                f"LLM provider {self.provider!r} is not supported; use one of {list(SUPPORTED_PROVIDERS)} "
                "(any OpenAI-compatible server works as 'self-hosted' with api_base), or name a registered "
                "back-end with 'backend'"
            )
        if self.max_tokens_param not in _MAX_TOKEN_KEYS:
            raise LLMConfigError(f"max_tokens_param must be one of {_MAX_TOKEN_KEYS}")
        object.__setattr__(self, "temperature", float(self.temperature))
        if self.max_tokens is not None:
            object.__setattr__(self, "max_tokens", int(self.max_tokens))
        if self.timeout is not None:
            object.__setattr__(self, "timeout", float(self.timeout))
        object.__setattr__(self, "extra", dict(self.extra))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_rasa(cls, llm: Mapping[str, Any] | None, defaults: Mapping[str, Any] | None = None) -> LLMConfig:
        """Build a config from a Rasa ``llm:`` (or ``embeddings:``) mapping merged over ``defaults``.

        Rasa's rule (reference rasa-modern-generators §1.3): if the user's provider is absent or equals the
        defaults' provider, the defaults are overlaid key by key with the user's mapping; otherwise the
        user's mapping is used alone. Deprecated spellings (``type``, ``model_name``, ``request_timeout``,
        ``openai_api_base``, ...) are accepted; ``deployment`` without a provider means Azure.
        """
        user = _canonical(llm or {})
        base = _canonical(defaults or {})
        default_provider = base.get("provider", "openai")
        if user.get("provider") in (None, default_provider):
            merged = {**base, **user}
            merged.setdefault("provider", default_provider)
        else:
            merged = user
        return cls._from_canonical(merged)

    @classmethod
    def from_model_group(cls, group: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> LLMConfig:
        """Build a config from a resolved ``endpoints.yml`` model group (router-less: ``models[0]``)."""
        models = group.get("models") or []
        if not models:
            raise LLMConfigError(f"model group {group.get('id')!r} has no models")
        return cls.from_rasa(models[0], defaults)

    @classmethod
    def _from_canonical(cls, merged: Mapping[str, Any]) -> LLMConfig:
        extra = {
            k: v
            for k, v in merged.items()
            if k not in _FIRST_CLASS and k not in _IGNORED_KEYS and not k.startswith("_")
        }
        temperature = merged.get("temperature")
        return cls(
            provider=str(merged.get("provider") or "openai"),
            model=_opt_str(merged.get("model")),
            api_base=_opt_str(merged.get("api_base")),
            api_version=_opt_str(merged.get("api_version")),
            deployment=_opt_str(merged.get("deployment")),
            temperature=0.0 if temperature is None else float(temperature),
            max_tokens=merged.get("_max_tokens"),
            max_tokens_param=merged.get("_max_tokens_param", "max_tokens"),
            timeout=merged.get("timeout"),
            extra=extra,
            api_key=_opt_str(merged.get("api_key")),
            backend=_opt_str(merged.get("backend")),
        )

    # ------------------------------------------------------------------ call-time views
    @property
    def backend_name(self) -> str:
        """The back-end that answers this config: ``backend`` if set, else the provider's default."""
        return self.backend or DEFAULT_BACKENDS.get(self.provider, "openai")

    @property
    def backend_is_default(self) -> bool:
        """Whether :attr:`backend_name` is the provider's default (then it does not enter cache keys)."""
        return self.backend is None or self.backend == DEFAULT_BACKENDS.get(self.provider)

    @property
    def model_label(self) -> str:
        """The model name used for logs, prices and cache keys (Azure: model, else deployment)."""
        return self.model or self.deployment or "<unknown>"

    def sampling_params(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The parameters that change the answer (enter the cache key): temperature, max tokens, extras."""
        params: dict[str, Any] = {"temperature": self.temperature}
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        for key, value in self.extra.items():
            if key not in ("extra_headers", "extra_query", "timeout"):
                params[key] = _expand_any(value, env)
        return params

    def request_kwargs(self, kind: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Keyword arguments for ``chat.completions.create`` (``kind="chat"``) or ``embeddings.create``."""
        known = CHAT_CREATE_PARAMS if kind == "chat" else EMBED_CREATE_PARAMS
        kwargs: dict[str, Any] = {}
        extra_body: dict[str, Any] = {}
        if kind == "chat":
            kwargs["temperature"] = self.temperature
            if self.max_tokens is not None:
                kwargs[self.max_tokens_param] = self.max_tokens
        for key, value in self.extra.items():
            value = _expand_any(value, env)
            if key in known or key in ("extra_headers", "extra_query"):
                kwargs[key] = value
            else:
                extra_body[key] = value
        if extra_body:
            kwargs["extra_body"] = extra_body
        return kwargs

    def resolve_endpoint(self, env: Mapping[str, str] | None = None) -> Endpoint:
        """Resolve base URL, API key, version and model from this config and the environment.

        * openai: key from ``api_key`` or ``OPENAI_API_KEY``; base URL from ``api_base`` (wins) or
          ``OPENAI_BASE_URL`` (else the client's default).
        * self-hosted / rasa: base URL from ``api_base`` or ``OPENAI_BASE_URL`` (required); key from
          ``api_key`` or a dummy key (the OpenAI key is never sent to a self-hosted server).
        * azure: key from ``api_key``, ``AZURE_API_KEY`` or ``AZURE_OPENAI_API_KEY``; endpoint from
          ``api_base``, ``AZURE_API_BASE`` or ``AZURE_OPENAI_ENDPOINT``; version from ``api_version``,
          ``OPENAI_API_VERSION`` or ``AZURE_API_VERSION``; the deployment (else model) is the model sent.
        * any other provider (only allowed with a ``backend``): ``client_kind`` is the provider; model,
          ``api_base``, ``api_key`` (empty if unset) and ``api_version`` are taken from the config as they are,
          ``${VAR}`` references expanded; no environment fallbacks.

        Raises:
            LLMConfigError: a required value is missing.
        """
        environ: Mapping[str, str] = os.environ if env is None else env

        def pick(configured: str | None, what: str, *env_names: str) -> str | None:
            if configured:
                return _expand_required(configured, what, environ)
            for name in env_names:
                if environ.get(name):
                    return environ[name]
            return None

        if self.provider not in SUPPORTED_PROVIDERS:
            if not self.model:
                raise LLMConfigError(f"the {self.provider} LLM config has no model")
            return Endpoint(
                self.provider,
                pick(self.api_base, "api_base"),
                pick(self.api_key, "api_key") or "",
                pick(self.api_version, "api_version"),
                _expand_required(self.model, "model", environ),
            )

        if self.provider == "azure":
            key = pick(self.api_key, "api_key", "AZURE_API_KEY", "AZURE_OPENAI_API_KEY")
            base = pick(self.api_base, "api_base", "AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT")
            version = pick(self.api_version, "api_version", "OPENAI_API_VERSION", "AZURE_API_VERSION")
            deployment = self.deployment or self.model
            if not key:
                raise LLMConfigError("Azure needs an API key: set AZURE_API_KEY (or AZURE_OPENAI_API_KEY)")
            if not base:
                raise LLMConfigError("Azure OpenAI needs an endpoint: set api_base or AZURE_API_BASE")
            if not version:
                raise LLMConfigError("Azure needs an API version: set api_version or OPENAI_API_VERSION")
            if not deployment:
                raise LLMConfigError("Azure OpenAI needs a deployment (or model) name")
            model = _expand_required(deployment, "deployment", environ)
            return Endpoint("azure", base.rstrip("/"), key, version, _strip_prefix(model, "azure"))

        if not self.model:
            raise LLMConfigError(f"the {self.provider} LLM config has no model")
        model = _expand_required(self.model, "model", environ)
        base = pick(self.api_base, "api_base", "OPENAI_BASE_URL")
        if self.provider == "openai":
            key = pick(self.api_key, "api_key", "OPENAI_API_KEY")
            if not key:
                raise LLMConfigError("OpenAI needs an API key: set the OPENAI_API_KEY environment variable")
            base = base.rstrip("/") if base else None
            return Endpoint("openai", base, key, None, _strip_prefix(model, "openai"))
        if not base:
            raise LLMConfigError(f"provider {self.provider!r} needs api_base (or OPENAI_BASE_URL)")
        key = pick(self.api_key, "api_key") or DUMMY_API_KEY
        model = _strip_prefix(_strip_prefix(model, "hosted_vllm"), self.provider)
        return Endpoint("openai", base.rstrip("/"), key, None, model)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _strip_prefix(model: str, provider: str) -> str:
    prefix = f"{provider}/"
    return model[len(prefix) :] if model.startswith(prefix) else model
