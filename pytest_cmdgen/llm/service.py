"""The session-wide LLM service: one event loop, shared concurrency, retries, cache and usage metering.

:class:`LLMService` owns one asyncio event loop running in a daemon thread and one semaphore bounding the
number of requests in flight across every caller. Waiting requests get a free slot in priority order
(:mod:`pytest_cmdgen.llm.priority`: the key the caller set with ``call_priority`` when it submitted the
request; first come, first served among equal keys). Requests are answered by back-ends
(:mod:`pytest_cmdgen.llm.backends`) chosen by name from each config's
:attr:`~pytest_cmdgen.llm.config.LLMConfig.backend_name` (the ``openai`` client for OpenAI, Azure and
OpenAI-compatible servers, unless a config names another registered back-end); the service makes one
back-end of each name on first use and closes them when it closes. Everything around a single attempt stays
here, the same for every back-end: the response cache, sharing of identical requests in flight, retries of
retryable :class:`~pytest_cmdgen.llm.backends.base.BackendCallError` with backoff or the back-end's
``retry_after`` hint, usage accounting per :class:`~pytest_cmdgen.llm.purpose.Purpose` and removal of
secrets from error messages.

Its blocking and ``Future``-returning methods can be called from any thread; the ``a*`` coroutines can be
awaited on the service loop (to fan out) or on any other loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import random
import re
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pytest_cmdgen.llm.backends.base import (
    Backend,
    BackendCallError,
    BackendSettings,
    holds_slot_on_the_wire,
    parse_retry_after,
    wire_slot_for_call,
)
from pytest_cmdgen.llm.backends.registry import create_backend
from pytest_cmdgen.llm.cache import CacheMode, CacheRecord, ResponseCache, cache_key
from pytest_cmdgen.llm.config import Endpoint, LLMConfig, expand_env
from pytest_cmdgen.llm.errors import CacheMissError, LLMCallError, LLMError, ServiceClosedError
from pytest_cmdgen.llm.priority import PriorityKey, PrioritySemaphore, current_priority
from pytest_cmdgen.llm.purpose import Purpose
from pytest_cmdgen.llm.usage import TokenUsage, UsageMeter

logger = logging.getLogger("pytest_cmdgen.llm")

T = TypeVar("T")

#: A prompt string (sent as one ``user`` message) or a list of chat messages.
Messages = str | Sequence[Mapping[str, Any]]

#: What a call is for: a :class:`Purpose`, or any other name the usage meter should count under.
PurposeLike = Purpose | str

#: Calls that may be under way per concurrency slot with a back-end that holds the slot only on the wire.
UNDER_WAY_PER_SLOT = 2

_SECRET_RE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{3})[A-Za-z0-9_\-*]{5,}")


@dataclass(frozen=True)
class Completion:
    """The answer to one chat request.

    Attributes:
        text: ``choices[0].message.content`` (empty string when the provider sent none).
        usage: tokens of the request that produced the answer (also when served from cache).
        cached: served from the response cache rather than the network.
        cache_key: the request's content key (see :func:`~pytest_cmdgen.llm.cache.cache_key`).
        model: the model that answered (as reported by the provider, else as configured).
        deduplicated: shared with an identical request that was already in flight.
    """

    text: str
    usage: TokenUsage
    cached: bool
    cache_key: str
    model: str
    deduplicated: bool = False


@dataclass(frozen=True)
class Embeddings:
    """The answer to one embedding request: one vector per input text, in input order."""

    vectors: list[list[float]]
    usage: TokenUsage
    cached: bool
    cache_key: str
    model: str
    deduplicated: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """Retry schedule for retryable failures (429, 408, 409, 5xx, connection errors, timeouts: whatever the
    back-end raises as a retryable :class:`~pytest_cmdgen.llm.backends.base.BackendCallError`).

    The wait before retry ``n`` (1-based) is the back-end's hint (the provider's ``Retry-After`` /
    ``retry-after-ms``) if given (capped at ``max_retry_after``), else a full-jitter exponential backoff:
    ``uniform(0, min(max_delay, base_delay * 2 ** (n - 1)))``.
    """

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """The jittered wait before retry ``retry_number`` (1-based) when the provider gave no hint."""
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * 2 ** (retry_number - 1)))


def normalize_messages(messages: Messages) -> list[dict[str, Any]]:
    """A prompt string becomes one ``user`` message; message lists are copied to plain dicts."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return [dict(message) for message in messages]


def scrub_secrets(text: str, *secrets: str | None) -> str:
    """Remove the given secrets and anything that looks like an ``sk-...`` key from ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _SECRET_RE.sub(r"\1***", text)


class LLMService:
    """Session-wide access to LLMs and embedding models (thread-safe).

    Args:
        concurrency: the most requests in flight at once, over all callers, endpoints and back-ends.
        retry: retry schedule (default :class:`RetryPolicy`).
        cache: response cache; ``None`` or mode ``off`` disables caching.
        meter: usage meter to record into (a new one by default).
        env: environment for credentials and ``${VAR}`` expansion (default: ``os.environ``, read at call
            time).
        default_timeout: request timeout in seconds when the config sets none (also handed to back-ends in
            :class:`~pytest_cmdgen.llm.backends.base.BackendSettings`).
        seed: seed of the backoff jitter (for reproducible tests).

    Each retry is logged on the ``pytest_cmdgen.llm`` logger at DEBUG level with the extra record attributes
    ``llm_purpose``, ``llm_attempt``, ``llm_status`` and ``llm_delay`` (the seconds waited before the retry).
    """

    def __init__(
        self,
        *,
        concurrency: int = 16,
        retry: RetryPolicy | None = None,
        cache: ResponseCache | None = None,
        meter: UsageMeter | None = None,
        env: Mapping[str, str] | None = None,
        default_timeout: float = 60.0,
        seed: int | None = None,
    ) -> None:
        """Start the service loop thread."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.retry = retry or RetryPolicy()
        self.cache = cache
        self.meter = meter or UsageMeter()
        self.default_timeout = default_timeout
        self._env = env
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._closed = False
        self._backends: dict[str, Backend] = {}
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._loop = asyncio.new_event_loop()
        self._semaphore = PrioritySemaphore(concurrency)
        # Calls under way (request built, on the wire or answer being parsed) for back-ends that hold the slot on
        # the wire alone: enough to have a built request ready for every slot that frees, few enough that the
        # loop does not build requests for every queued call at once (which starved it of time to send them).
        self._under_way = PrioritySemaphore(UNDER_WAY_PER_SLOT * concurrency)
        self._backend_lock = asyncio.Lock()
        self._thread = threading.Thread(target=self._run_loop, name="cmdgen-llm-loop", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ lifecycle
    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
                self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The service's event loop (runs in its own daemon thread)."""
        return self._loop

    @property
    def calls_waiting(self) -> int:
        """How many calls wait for a free slot now, or (on a back-end that takes its slot on the wire alone) to
        get under way (read on the service loop for an exact figure)."""
        return self._semaphore.waiting + self._under_way.waiting

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self, timeout: float = 10.0) -> None:
        """Cancel what is still running, close the back-ends and stop the loop thread (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if threading.current_thread() is self._thread:
            raise RuntimeError("LLMService.close() must not be called from the service loop")
        if self._loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    async def _shutdown(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        backends = list(self._backends.values())
        self._backends.clear()
        for backend in backends:
            with contextlib.suppress(Exception):
                await backend.close()

    def __enter__(self) -> LLMService:
        """Use as a context manager; :meth:`close` on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the service."""
        self.close()

    # ------------------------------------------------------------------ scheduling
    def run_coroutine(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the service loop; returns a thread-safe Future of its result."""
        if self._closed:
            coro.close()
            raise ServiceClosedError("the LLM service is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _blocking(self, future: concurrent.futures.Future[T]) -> T:
        if threading.current_thread() is self._thread:
            future.cancel()
            raise RuntimeError("blocking LLMService calls cannot run on the service loop; await achat/aembed")
        return future.result()

    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - only awaited from a loop
            running = None
        if running is self._loop:
            return await coro
        return await asyncio.wrap_future(self.run_coroutine(coro))

    # ------------------------------------------------------------------ chat
    def submit_chat(
        self, config: LLMConfig, messages: Messages, purpose: PurposeLike = Purpose.ANNOTATION
    ) -> concurrent.futures.Future[Completion]:
        """Start a chat request; the Future yields a :class:`Completion` or raises an :class:`LLMError`."""
        return self.run_coroutine(self._chat(config, normalize_messages(messages), purpose, current_priority()))

    def chat(self, config: LLMConfig, messages: Messages, purpose: PurposeLike = Purpose.ANNOTATION) -> Completion:
        """Blocking chat request (not from the service loop)."""
        return self._blocking(self.submit_chat(config, messages, purpose))

    async def achat(
        self, config: LLMConfig, messages: Messages, purpose: PurposeLike = Purpose.ANNOTATION
    ) -> Completion:
        """Chat request as a coroutine, awaitable on the service loop or any other loop."""
        priority = current_priority()
        return await self._on_loop(self._chat(config, normalize_messages(messages), purpose, priority))

    # ------------------------------------------------------------------ embeddings
    def submit_embed(
        self, config: LLMConfig, texts: Sequence[str], purpose: PurposeLike = Purpose.EMBEDDINGS
    ) -> concurrent.futures.Future[Embeddings]:
        """Start an embedding request; the Future yields :class:`Embeddings`."""
        return self.run_coroutine(self._embed(config, list(texts), purpose, current_priority()))

    def embed(self, config: LLMConfig, texts: Sequence[str], purpose: PurposeLike = Purpose.EMBEDDINGS) -> Embeddings:
        """Blocking embedding request (not from the service loop)."""
        return self._blocking(self.submit_embed(config, texts, purpose))

    async def aembed(
        self, config: LLMConfig, texts: Sequence[str], purpose: PurposeLike = Purpose.EMBEDDINGS
    ) -> Embeddings:
        """Embedding request as a coroutine, awaitable on the service loop or any other loop."""
        return await self._on_loop(self._embed(config, list(texts), purpose, current_priority()))

    # ------------------------------------------------------------------ internals
    def _environ(self) -> Mapping[str, str]:
        return os.environ if self._env is None else self._env

    def _key_material(self, config: LLMConfig, env: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
        model = expand_env(config.model_label, env)
        params = config.sampling_params(env)
        if config.provider == "azure" and config.deployment:
            params["deployment"] = expand_env(config.deployment, env)
        if not config.backend_is_default:  # the provider's default back-end keeps the keys it always had
            params["backend"] = config.backend_name
        return model, params

    @property
    def _cache_mode(self) -> CacheMode:
        return self.cache.mode if self.cache is not None else CacheMode.OFF

    async def _shared(self, key: str, purpose: PurposeLike, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory`` once per key at a time; identical concurrent requests share the result."""
        pending = self._inflight.get(key)
        if pending is not None:
            result = await asyncio.shield(pending)
            self.meter.record_deduplicated(purpose)
            return replace(result, deduplicated=True)
        future: asyncio.Future[Any] = self._loop.create_future()
        self._inflight[key] = future
        try:
            result = await factory()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # mark retrieved: no "never retrieved" warning without waiters
            raise
        else:
            future.set_result(result)
            return result
        finally:
            self._inflight.pop(key, None)

    async def _cached(self, key: str, purpose: PurposeLike, kind: str, model: str) -> CacheRecord | None:
        mode = self._cache_mode
        if mode.reads:
            assert self.cache is not None
            record = await asyncio.to_thread(self.cache.get, key)
            if record is not None and record.kind == kind:
                self.meter.record_cache_hit(purpose)
                return record
        if not mode.network:
            self.meter.record_failure(purpose)
            raise CacheMissError(key, model, kind)
        return None

    async def _record(self, record: CacheRecord) -> None:
        if self._cache_mode.writes:
            assert self.cache is not None
            try:
                await asyncio.to_thread(self.cache.put, record)
            except OSError as exc:
                logger.warning("could not write LLM cache record %s: %s", record.key, exc)

    async def _chat(
        self, config: LLMConfig, messages: list[dict[str, Any]], purpose: PurposeLike, priority: PriorityKey
    ) -> Completion:
        env = self._environ()
        model, params = self._key_material(config, env)
        key = cache_key("chat", config.provider, model, messages, params)
        return await self._shared(
            key, purpose, lambda: self._chat_once(config, messages, purpose, key, model, env, priority)
        )

    async def _chat_once(
        self,
        config: LLMConfig,
        messages: list[dict[str, Any]],
        purpose: PurposeLike,
        key: str,
        model: str,
        env: Mapping[str, str],
        priority: PriorityKey,
    ) -> Completion:
        record = await self._cached(key, purpose, "chat", model)
        if record is not None:
            usage = TokenUsage(**record.usage)
            return Completion(record.text or "", usage, True, key, record.response_model or record.model)
        backend = await self._backend(config, purpose)
        endpoint = self._resolve(config, env, purpose)
        kwargs = config.request_kwargs("chat", env)
        timeout = config.timeout or self.default_timeout
        answer = await self._with_retries(
            lambda: backend.chat(endpoint, messages, kwargs, timeout), backend, purpose, config, endpoint, priority
        )
        usage = answer.usage
        answered_by = answer.model or model
        self.meter.record_call(purpose, answered_by, usage.prompt_tokens, usage.completion_tokens)
        await self._record(
            CacheRecord(
                key=key,
                kind="chat",
                model=model,
                text=answer.text,
                usage={"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
                response_model=answered_by,
            )
        )
        return Completion(answer.text, usage, False, key, answered_by)

    async def _embed(
        self, config: LLMConfig, texts: list[str], purpose: PurposeLike, priority: PriorityKey
    ) -> Embeddings:
        env = self._environ()
        model, params = self._key_material(config, env)
        params.pop("temperature", None)
        params.pop("max_tokens", None)
        key = cache_key("embedding", config.provider, model, texts, params)
        if not texts:
            return Embeddings([], TokenUsage(), False, key, model)
        return await self._shared(
            key, purpose, lambda: self._embed_once(config, texts, purpose, key, model, env, priority)
        )

    async def _embed_once(
        self,
        config: LLMConfig,
        texts: list[str],
        purpose: PurposeLike,
        key: str,
        model: str,
        env: Mapping[str, str],
        priority: PriorityKey,
    ) -> Embeddings:
        record = await self._cached(key, purpose, "embedding", model)
        if record is not None:
            usage = TokenUsage(**record.usage)
            return Embeddings(record.vectors or [], usage, True, key, record.response_model or record.model)
        backend = await self._backend(config, purpose)
        endpoint = self._resolve(config, env, purpose)
        kwargs = config.request_kwargs("embedding", env)
        timeout = config.timeout or self.default_timeout
        answer = await self._with_retries(
            lambda: backend.embed(endpoint, texts, kwargs, timeout), backend, purpose, config, endpoint, priority
        )
        usage = answer.usage
        answered_by = answer.model or model
        self.meter.record_call(purpose, answered_by, usage.prompt_tokens, 0)
        await self._record(
            CacheRecord(
                key=key,
                kind="embedding",
                model=model,
                vectors=answer.vectors,
                usage={"prompt_tokens": usage.prompt_tokens, "completion_tokens": 0},
                response_model=answered_by,
            )
        )
        return Embeddings(answer.vectors, usage, False, key, answered_by)

    def _resolve(self, config: LLMConfig, env: Mapping[str, str], purpose: PurposeLike) -> Endpoint:
        try:
            return config.resolve_endpoint(env)
        except LLMError:
            self.meter.record_failure(purpose)
            raise

    async def _backend(self, config: LLMConfig, purpose: PurposeLike) -> Backend:
        """This service's back-end for ``config`` (made on first use, off the loop: it may import or load)."""
        name = config.backend_name
        backend = self._backends.get(name)
        if backend is not None:
            return backend
        async with self._backend_lock:
            backend = self._backends.get(name)
            if backend is None:
                settings = BackendSettings(default_timeout=self.default_timeout)
                try:
                    backend = await asyncio.to_thread(create_backend, name, settings)
                except LLMError:
                    self.meter.record_failure(purpose)
                    raise
                self._backends[name] = backend
        return backend

    async def _with_retries(
        self,
        call: Callable[[], Awaitable[T]],
        backend: Backend,
        purpose: PurposeLike,
        config: LLMConfig,
        endpoint: Endpoint,
        priority: PriorityKey,
    ) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                if holds_slot_on_the_wire(backend):  # it takes the slot around the HTTP exchange alone
                    async with self._under_way.slot(priority):
                        with wire_slot_for_call(lambda: self._semaphore.slot(priority)):
                            return await call()
                async with self._semaphore.slot(priority):
                    return await call()
            except BackendCallError as exc:
                failure = exc
            status = failure.status
            if not failure.retryable or attempt > self.retry.max_retries:
                self.meter.record_failure(purpose)
                what = f"HTTP {status}" if status is not None else "no response"
                message = (
                    f"{str(purpose)} request to {config.provider} model {endpoint.model!r} failed after "
                    f"{attempt} attempt(s): {what}: {failure.detail}"
                )
                raise LLMCallError(
                    scrub_secrets(message, endpoint.api_key),
                    status=status,
                    provider_message=scrub_secrets(failure.detail, endpoint.api_key),
                    attempts=attempt,
                    retryable=failure.retryable,
                ) from None
            if failure.retry_after is not None:
                delay = min(failure.retry_after, self.retry.max_retry_after)
            else:
                delay = self.retry.backoff(attempt, self._rng)
            self.meter.record_retry(purpose)
            logger.debug(
                "retrying %s request (attempt %d, %s) in %.3fs",
                purpose,
                attempt,
                status,
                delay,
                extra={"llm_purpose": str(purpose), "llm_attempt": attempt, "llm_status": status, "llm_delay": delay},
            )
            await asyncio.sleep(delay)


__all__ = [
    "Completion",
    "Embeddings",
    "LLMService",
    "Messages",
    "PurposeLike",
    "RetryPolicy",
    "TokenUsage",
    "normalize_messages",
    "parse_retry_after",
    "scrub_secrets",
]
