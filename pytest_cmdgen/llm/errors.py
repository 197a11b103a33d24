"""Exceptions raised by the LLM layer.

Every exception derives from :class:`LLMError`, so callers (the recipe, the runtime) can catch one type
for "the LLM could not answer". Messages never contain API keys.
"""

from __future__ import annotations

from pytest_cmdgen.errors import CmdgenError, CmdgenInputError


class LLMError(CmdgenError):
    """Base class of every error raised by :mod:`pytest_cmdgen.llm`."""


class LLMConfigError(LLMError, CmdgenInputError):
    """An LLM client configuration is invalid or cannot be resolved (e.g. a missing API key)."""


class LLMCallError(LLMError):
    """An LLM or embedding call failed for good (after retries, or at once for non-retryable errors).

    Attributes:
        status: HTTP status of the last failed attempt, ``None`` for connection errors and timeouts.
        provider_message: the error message returned by the provider (secrets scrubbed).
        attempts: how many requests were made.
        retryable: whether the last error was of a retryable kind (the retries were exhausted).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider_message: str = "",
        attempts: int = 1,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.provider_message = provider_message
        self.attempts = attempts
        self.retryable = retryable


class CacheMissError(LLMError):
    """In ``replay`` cache mode a request had no recorded answer; the network is never asked."""

    def __init__(self, key: str, model: str | None, kind: str = "chat") -> None:
        super().__init__(
            f"no recorded {kind} response for cache key {key} (model {model!r}) in replay mode; "
            "record it first by running with --cmdgen-cache-mode use (or refresh)"
        )
        self.key = key
        self.model = model
        self.kind = kind


class ServiceClosedError(LLMError):
    """A call was submitted to an :class:`~pytest_cmdgen.llm.service.LLMService` after ``close()``."""
