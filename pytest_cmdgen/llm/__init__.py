"""The LLM layer: configuration, the session-wide service, pluggable back-ends, the response cache and the
usage meter.

:class:`LLMService` does what is common to every model (cache, sharing of identical requests, concurrency,
retries, usage, secret scrubbing) and hands single attempts to a back-end (:class:`Backend`) chosen by name
from :attr:`LLMConfig.backend_name`. The built-in ``"openai"`` back-end serves OpenAI, Azure OpenAI and
OpenAI-compatible servers and is imported on first use; others register with :func:`register_backend`.

This package imports neither pytest nor the assistant runtime, and never torch or transformers; importing it
does not import ``openai``.
"""

from pytest_cmdgen.llm.backends import (
    OPENAI_BACKEND,
    Backend,
    BackendCallError,
    BackendFactory,
    BackendSettings,
    ChatAnswer,
    EmbeddingAnswer,
    backend_for,
    create_backend,
    known_backends,
    register_backend,
    unregister_backend,
)
from pytest_cmdgen.llm.cache import CacheMode, CacheRecord, ResponseCache, cache_key
from pytest_cmdgen.llm.config import (
    COMMAND_GENERATOR_DEFAULTS,
    DEFAULT_BACKENDS,
    EMBEDDINGS_DEFAULTS,
    REPHRASER_DEFAULTS,
    Endpoint,
    LLMConfig,
)
from pytest_cmdgen.llm.errors import (
    CacheMissError,
    LLMCallError,
    LLMConfigError,
    LLMError,
    ServiceClosedError,
)
from pytest_cmdgen.llm.priority import (
    DEFAULT_PRIORITY,
    REPHRASE_PRIORITY,
    VALIDATION_PRIORITY,
    PriorityKey,
    call_priority,
    current_priority,
    turn_priority,
)
from pytest_cmdgen.llm.purpose import Purpose
from pytest_cmdgen.llm.service import Completion, Embeddings, LLMService, PurposeLike, RetryPolicy
from pytest_cmdgen.llm.spec import LOCAL_BACKEND, LLMSpec, LLMSpecError, parse_llm_spec
from pytest_cmdgen.llm.usage import PurposeUsage, TokenUsage, UsageMeter, estimate_cost, price_for

__all__ = [
    "COMMAND_GENERATOR_DEFAULTS",
    "DEFAULT_BACKENDS",
    "DEFAULT_PRIORITY",
    "EMBEDDINGS_DEFAULTS",
    "LOCAL_BACKEND",
    "OPENAI_BACKEND",
    "REPHRASER_DEFAULTS",
    "REPHRASE_PRIORITY",
    "VALIDATION_PRIORITY",
    "Backend",
    "BackendCallError",
    "BackendFactory",
    "BackendSettings",
    "CacheMissError",
    "CacheMode",
    "CacheRecord",
    "ChatAnswer",
    "Completion",
    "EmbeddingAnswer",
    "Embeddings",
    "Endpoint",
    "LLMCallError",
    "LLMConfig",
    "LLMConfigError",
    "LLMError",
    "LLMService",
    "LLMSpec",
    "LLMSpecError",
    "Purpose",
    "PriorityKey",
    "PurposeLike",
    "PurposeUsage",
    "ResponseCache",
    "RetryPolicy",
    "ServiceClosedError",
    "TokenUsage",
    "UsageMeter",
    "backend_for",
    "cache_key",
    "call_priority",
    "current_priority",
    "create_backend",
    "estimate_cost",
    "known_backends",
    "parse_llm_spec",
    "price_for",
    "register_backend",
    "turn_priority",
    "unregister_backend",
]
