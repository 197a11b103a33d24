"""LLM back-ends: the :class:`Backend` protocol, its data types and the registry of back-ends by name.

The built-in back-end ``"openai"`` (:mod:`pytest_cmdgen.llm.backends.openai_backend`) serves the providers
``openai``, ``azure``, ``self-hosted`` and ``rasa``; it is imported on first use only. Another back-end
registers with :func:`register_backend` (a factory, or a ``"package.module:attr"`` string imported on first
use) and is chosen by ``LLMConfig(backend=...)`` (``backend:`` in a Rasa ``llm:`` mapping).
"""

from pytest_cmdgen.llm.backends.base import (
    Backend,
    BackendCallError,
    BackendFactory,
    BackendSettings,
    ChatAnswer,
    EmbeddingAnswer,
    parse_retry_after,
)
from pytest_cmdgen.llm.backends.registry import (
    OPENAI_BACKEND,
    backend_for,
    create_backend,
    is_loaded,
    known_backends,
    register_backend,
    unregister_backend,
)

__all__ = [
    "OPENAI_BACKEND",
    "Backend",
    "BackendCallError",
    "BackendFactory",
    "BackendSettings",
    "ChatAnswer",
    "EmbeddingAnswer",
    "backend_for",
    "create_backend",
    "is_loaded",
    "known_backends",
    "parse_retry_after",
    "register_backend",
    "unregister_backend",
]
