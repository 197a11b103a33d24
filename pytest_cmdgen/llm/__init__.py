"""The LLM layer: configuration, the session-wide service, the response cache and the usage meter.

This package imports neither pytest nor the assistant runtime.
"""

from pytest_cmdgen.llm.cache import CacheMode, CacheRecord, ResponseCache, cache_key
from pytest_cmdgen.llm.config import (
    COMMAND_GENERATOR_DEFAULTS,
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
from pytest_cmdgen.llm.service import Completion, Embeddings, LLMService, RetryPolicy, TokenUsage
from pytest_cmdgen.llm.usage import PurposeUsage, UsageMeter, estimate_cost, price_for

__all__ = [
    "COMMAND_GENERATOR_DEFAULTS",
    "EMBEDDINGS_DEFAULTS",
    "REPHRASER_DEFAULTS",
    "CacheMissError",
    "CacheMode",
    "CacheRecord",
    "Completion",
    "Embeddings",
    "Endpoint",
    "LLMCallError",
    "LLMConfig",
    "LLMConfigError",
    "LLMError",
    "LLMService",
    "PurposeUsage",
    "ResponseCache",
    "RetryPolicy",
    "ServiceClosedError",
    "TokenUsage",
    "UsageMeter",
    "cache_key",
    "estimate_cost",
    "price_for",
]
