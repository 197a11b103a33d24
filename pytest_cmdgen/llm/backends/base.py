"""The contract between :class:`~pytest_cmdgen.llm.service.LLMService` and the back-ends that answer requests.

The service keeps everything generic (response cache, de-duplication of identical requests in flight, the one
concurrency semaphore, retries with backoff and ``Retry-After`` hints, usage accounting, secret scrubbing). A
back-end only turns one request into one answer, once:

* :meth:`Backend.chat` and :meth:`Backend.embed` are coroutines run on the service's event loop; they make a
  single attempt and either return a :class:`ChatAnswer` / :class:`EmbeddingAnswer` or raise
  :class:`BackendCallError` (with ``retryable`` and an optional ``retry_after`` hint). Any other exception is
  a bug of the back-end and reaches the caller unchanged.
* :meth:`Backend.close` releases what the back-end holds (HTTP clients, a model); the service calls it once,
  from its loop, when it closes.
* The service holds one of its concurrency slots around each call, unless the back-end's class sets
  ``holds_slot_on_the_wire = True``: such a back-end enters :func:`wire_slot` itself around each request it
  puts on the wire, so that building the request and parsing the answer (client-side work) leave the slot free
  for a request that is ready to go.

A back-end is made by a :data:`BackendFactory` called with :class:`BackendSettings`; factories are registered
by name in :mod:`pytest_cmdgen.llm.backends.registry`. This module imports no client library.
"""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pytest_cmdgen.llm.config import Endpoint
from pytest_cmdgen.llm.errors import LLMError
from pytest_cmdgen.llm.usage import TokenUsage


@dataclass(frozen=True)
class ChatAnswer:
    """What a back-end returns for one chat request.

    Attributes:
        text: the answer's text (empty string when the model sent none).
        usage: tokens the request used, as reported by the model (zeros when unknown).
        model: the model that answered, as it reports itself; ``None`` = the configured one.
    """

    text: str
    usage: TokenUsage = TokenUsage()
    model: str | None = None


@dataclass(frozen=True)
class EmbeddingAnswer:
    """What a back-end returns for one embedding request.

    Attributes:
        vectors: one vector per input text, in input order.
        usage: tokens the request used (``completion_tokens`` is 0 for embeddings).
        model: the model that answered, as it reports itself; ``None`` = the configured one.
    """

    vectors: list[list[float]]
    usage: TokenUsage = TokenUsage()
    model: str | None = None


@dataclass(frozen=True)
class BackendSettings:
    """Service-wide settings handed to a :data:`BackendFactory` when the service first needs the back-end.

    Attributes:
        default_timeout: the service's request timeout in seconds (each call also gets its own timeout).
    """

    default_timeout: float = 60.0


class BackendCallError(LLMError):
    """One attempt of a back-end call failed; the only exception the service's retry loop handles.

    The service retries it when ``retryable`` (waiting ``retry_after`` seconds if given, capped by the retry
    policy, else a jittered backoff) and otherwise, or when the retries are exhausted, raises
    :class:`~pytest_cmdgen.llm.errors.LLMCallError` with ``detail`` (secrets scrubbed).

    Attributes:
        detail: what went wrong, in the provider's words where it sent any.
        status: HTTP status (or an equivalent code) of the failed attempt; ``None`` when there was no
            response (connection error, timeout).
        retryable: whether another attempt may succeed (rate limit, overload, timeout, dropped connection).
        retry_after: seconds the provider asked to wait before the next attempt, ``None`` without a hint.
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """Describe one failed attempt."""
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after

    def __repr__(self) -> str:
        """Readable form with every field."""
        return (
            f"BackendCallError({self.detail!r}, status={self.status!r}, retryable={self.retryable!r}, "
            f"retry_after={self.retry_after!r})"
        )


@runtime_checkable
class Backend(Protocol):
    """Something that answers chat and embedding requests for :class:`~pytest_cmdgen.llm.service.LLMService`.

    Every method runs on the service's event loop, so a back-end needs no locking of its own, and it must not
    block the loop (run blocking work with :func:`asyncio.to_thread`). Each call is one attempt; it raises
    :class:`BackendCallError` on failure.
    """

    async def chat(
        self, endpoint: Endpoint, messages: list[dict[str, Any]], kwargs: Mapping[str, Any], timeout: float
    ) -> ChatAnswer:
        """Answer one chat request.

        Args:
            endpoint: where to send it and which model, resolved from the config at call time (holds the key).
            messages: the chat messages (``role`` / ``content`` dicts).
            kwargs: request parameters from :meth:`~pytest_cmdgen.llm.config.LLMConfig.request_kwargs`
                (``temperature``, the max-tokens key, provider extras, ``extra_body``).
            timeout: seconds this attempt may take.
        """
        ...

    async def embed(
        self, endpoint: Endpoint, texts: list[str], kwargs: Mapping[str, Any], timeout: float
    ) -> EmbeddingAnswer:
        """Embed ``texts`` (never empty) in one request; the arguments are as for :meth:`chat`."""
        ...

    async def close(self) -> None:
        """Release clients, connections or models; called once when the service closes."""
        ...


#: Makes a back-end for a service; registered by name (or as a ``"package.module:attr"`` string).
BackendFactory = Callable[[BackendSettings], Backend]

#: Gives the service's concurrency slot for one request (an async context manager held while it is out).
SlotFactory = Callable[[], AbstractAsyncContextManager[None]]

_wire_slot: ContextVar[SlotFactory | None] = ContextVar("cmdgen_wire_slot", default=None)


def holds_slot_on_the_wire(backend: object) -> bool:
    """Whether ``backend`` takes the service's concurrency slot itself, only while a request is on the wire."""
    return bool(getattr(backend, "holds_slot_on_the_wire", False))


def wire_slot() -> AbstractAsyncContextManager[None]:
    """The concurrency slot for one request on the wire, for a back-end that ``holds_slot_on_the_wire``: the
    service sets it for the call being made (with the call's priority); outside a service call, a no-op."""
    factory = _wire_slot.get()
    return factory() if factory is not None else contextlib.nullcontext()


@contextlib.contextmanager
def wire_slot_for_call(factory: SlotFactory) -> Iterator[None]:
    """Make :func:`wire_slot` give ``factory()``'s slots to the requests made inside the block (this task)."""
    token = _wire_slot.set(factory)
    try:
        yield
    finally:
        _wire_slot.reset(token)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date), else ``None``.

    A helper for HTTP back-ends filling :attr:`BackendCallError.retry_after`.
    """
    value = headers.get("retry-after-ms")
    if value:
        with contextlib.suppress(ValueError):
            return max(0.0, float(value) / 1000.0)
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, when.timestamp() - time.time())
    return None


__all__ = [
    "Backend",
    "BackendCallError",
    "BackendFactory",
    "BackendSettings",
    "ChatAnswer",
    "EmbeddingAnswer",
    "SlotFactory",
    "holds_slot_on_the_wire",
    "parse_retry_after",
    "wire_slot",
    "wire_slot_for_call",
]
