"""The session-wide LLM service: one event loop, shared concurrency, retries, cache and usage metering.

:class:`LLMService` owns one asyncio event loop running in a daemon thread, the ``openai`` async clients
(one per endpoint, ``max_retries=0`` because retries happen here) and one semaphore bounding the number
of requests in flight across every caller. Its blocking and ``Future``-returning methods can be called
from any thread; the ``a*`` coroutines can be awaited on the service loop (to fan out) or on any other
loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import email.utils
import logging
import os
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import openai

from pytest_cmdgen.llm.cache import CacheMode, CacheRecord, ResponseCache, cache_key
from pytest_cmdgen.llm.config import Endpoint, LLMConfig, expand_env
from pytest_cmdgen.llm.errors import CacheMissError, LLMCallError, LLMError, ServiceClosedError
from pytest_cmdgen.llm.usage import UsageMeter

logger = logging.getLogger("pytest_cmdgen.llm")

T = TypeVar("T")

#: A prompt string (sent as one ``user`` message) or a list of chat messages.
Messages = str | Sequence[Mapping[str, Any]]

_SECRET_RE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{3})[A-Za-z0-9_\-*]{5,}")


@dataclass(frozen=True)
class TokenUsage:
    """Tokens reported by the provider for one request."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


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
    """Retry schedule for retryable failures (429, 408, 409, 5xx, connection errors, timeouts).

    The wait before retry ``n`` (1-based) is the provider's ``Retry-After`` / ``retry-after-ms`` if sent
    (capped at ``max_retry_after``), else a full-jitter exponential backoff:
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


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date), else ``None``."""
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


def scrub_secrets(text: str, *secrets: str | None) -> str:
    """Remove the given secrets and anything that looks like an ``sk-...`` key from ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _SECRET_RE.sub(r"\1***", text)


def _provider_message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return exc.message


class LLMService:
    """Session-wide access to LLMs and embedding models (thread-safe).

    Args:
        concurrency: the most requests in flight at once, over all callers and endpoints.
        retry: retry schedule (default :class:`RetryPolicy`).
        cache: response cache; ``None`` or mode ``off`` disables caching.
        meter: usage meter to record into (a new one by default).
        env: environment for credentials and ``${VAR}`` expansion (default: ``os.environ``, read at call
            time).
        default_timeout: request timeout in seconds when the config sets none.
        seed: seed of the backoff jitter (for reproducible tests).
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
        self._clients: dict[tuple[str, str | None, str | None, str], openai.AsyncOpenAI] = {}
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._loop = asyncio.new_event_loop()
        self._semaphore = asyncio.Semaphore(concurrency)
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
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self, timeout: float = 10.0) -> None:
        """Cancel what is still running, close the HTTP clients and stop the loop thread (idempotent)."""
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
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.close()
        self._clients.clear()

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
        self, config: LLMConfig, messages: Messages, purpose: str = "annotation"
    ) -> concurrent.futures.Future[Completion]:
        """Start a chat request; the Future yields a :class:`Completion` or raises an :class:`LLMError`."""
        return self.run_coroutine(self._chat(config, normalize_messages(messages), purpose))

    def chat(self, config: LLMConfig, messages: Messages, purpose: str = "annotation") -> Completion:
        """Blocking chat request (not from the service loop)."""
        return self._blocking(self.submit_chat(config, messages, purpose))

    async def achat(self, config: LLMConfig, messages: Messages, purpose: str = "annotation") -> Completion:
        """Chat request as a coroutine, awaitable on the service loop or any other loop."""
        return await self._on_loop(self._chat(config, normalize_messages(messages), purpose))

    # ------------------------------------------------------------------ embeddings
    def submit_embed(
        self, config: LLMConfig, texts: Sequence[str], purpose: str = "embeddings"
    ) -> concurrent.futures.Future[Embeddings]:
        """Start an embedding request; the Future yields :class:`Embeddings`."""
        return self.run_coroutine(self._embed(config, list(texts), purpose))

    def embed(self, config: LLMConfig, texts: Sequence[str], purpose: str = "embeddings") -> Embeddings:
        """Blocking embedding request (not from the service loop)."""
        return self._blocking(self.submit_embed(config, texts, purpose))

    async def aembed(self, config: LLMConfig, texts: Sequence[str], purpose: str = "embeddings") -> Embeddings:
        """Embedding request as a coroutine, awaitable on the service loop or any other loop."""
        return await self._on_loop(self._embed(config, list(texts), purpose))

    # ------------------------------------------------------------------ internals
    def _environ(self) -> Mapping[str, str]:
        return os.environ if self._env is None else self._env

    def _key_material(self, config: LLMConfig, env: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
        model = expand_env(config.model_label, env)
        params = config.sampling_params(env)
        if config.provider == "azure" and config.deployment:
            params["deployment"] = expand_env(config.deployment, env)
        return model, params

    @property
    def _cache_mode(self) -> CacheMode:
        return self.cache.mode if self.cache is not None else CacheMode.OFF

    async def _shared(self, key: str, purpose: str, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory`` once per key at a time; identical concurrent requests share the result."""
        pending = self._inflight.get(key)
        if pending is not None:
            result = await asyncio.shield(pending)
            self.meter.record_deduplicated(purpose)
            return replace(result, deduplicated=True)  # type: ignore[type-var]
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

    async def _cached(self, key: str, purpose: str, kind: str, model: str) -> CacheRecord | None:
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

    async def _chat(self, config: LLMConfig, messages: list[dict[str, Any]], purpose: str) -> Completion:
        env = self._environ()
        model, params = self._key_material(config, env)
        key = cache_key("chat", config.provider, model, messages, params)
        return await self._shared(key, purpose, lambda: self._chat_once(config, messages, purpose, key, model, env))

    async def _chat_once(
        self,
        config: LLMConfig,
        messages: list[dict[str, Any]],
        purpose: str,
        key: str,
        model: str,
        env: Mapping[str, str],
    ) -> Completion:
        record = await self._cached(key, purpose, "chat", model)
        if record is not None:
            usage = TokenUsage(**record.usage)
            return Completion(record.text or "", usage, True, key, record.response_model or record.model)
        endpoint = self._resolve(config, env, purpose)
        client = self._client(endpoint)
        kwargs = config.request_kwargs("chat", env)
        timeout = config.timeout or self.default_timeout

        async def call() -> Any:
            return await client.chat.completions.create(
                model=endpoint.model, messages=messages, timeout=timeout, **kwargs
            )

        response = await self._with_retries(call, purpose, config, endpoint)
        text = (response.choices[0].message.content or "") if response.choices else ""
        usage = _usage_of(response)
        answered_by = getattr(response, "model", None) or model
        self.meter.record_call(purpose, answered_by, usage.prompt_tokens, usage.completion_tokens)
        await self._record(
            CacheRecord(
                key=key,
                kind="chat",
                model=model,
                text=text,
                usage={"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
                response_model=answered_by,
            )
        )
        return Completion(text, usage, False, key, answered_by)

    async def _embed(self, config: LLMConfig, texts: list[str], purpose: str) -> Embeddings:
        env = self._environ()
        model, params = self._key_material(config, env)
        params.pop("temperature", None)
        params.pop("max_tokens", None)
        key = cache_key("embedding", config.provider, model, texts, params)
        if not texts:
            return Embeddings([], TokenUsage(), False, key, model)
        return await self._shared(key, purpose, lambda: self._embed_once(config, texts, purpose, key, model, env))

    async def _embed_once(
        self,
        config: LLMConfig,
        texts: list[str],
        purpose: str,
        key: str,
        model: str,
        env: Mapping[str, str],
    ) -> Embeddings:
        record = await self._cached(key, purpose, "embedding", model)
        if record is not None:
            usage = TokenUsage(**record.usage)
            return Embeddings(record.vectors or [], usage, True, key, record.response_model or record.model)
        endpoint = self._resolve(config, env, purpose)
        client = self._client(endpoint)
        kwargs = config.request_kwargs("embedding", env)
        timeout = config.timeout or self.default_timeout

        async def call() -> Any:
            return await client.embeddings.create(
                model=endpoint.model, input=texts, encoding_format="float", timeout=timeout, **kwargs
            )

        response = await self._with_retries(call, purpose, config, endpoint)
        vectors = [list(item.embedding) for item in sorted(response.data, key=lambda item: item.index)]
        usage = _usage_of(response)
        answered_by = getattr(response, "model", None) or model
        self.meter.record_call(purpose, answered_by, usage.prompt_tokens, 0)
        await self._record(
            CacheRecord(
                key=key,
                kind="embedding",
                model=model,
                vectors=vectors,
                usage={"prompt_tokens": usage.prompt_tokens, "completion_tokens": 0},
                response_model=answered_by,
            )
        )
        return Embeddings(vectors, usage, False, key, answered_by)

    def _resolve(self, config: LLMConfig, env: Mapping[str, str], purpose: str) -> Endpoint:
        try:
            return config.resolve_endpoint(env)
        except LLMError:
            self.meter.record_failure(purpose)
            raise

    def _client(self, endpoint: Endpoint) -> openai.AsyncOpenAI:
        key = endpoint.client_key()
        client = self._clients.get(key)
        if client is None:
            if endpoint.client_kind == "azure":
                client = openai.AsyncAzureOpenAI(
                    azure_endpoint=endpoint.base_url,
                    api_version=endpoint.api_version,
                    api_key=endpoint.api_key,
                    max_retries=0,
                    timeout=self.default_timeout,
                )
            else:
                client = openai.AsyncOpenAI(
                    base_url=endpoint.base_url or "https://api.openai.com/v1",
                    api_key=endpoint.api_key,
                    max_retries=0,
                    timeout=self.default_timeout,
                )
            self._clients[key] = client
        return client

    async def _with_retries(
        self, call: Callable[[], Awaitable[T]], purpose: str, config: LLMConfig, endpoint: Endpoint
    ) -> T:
        attempt = 0
        while True:
            attempt += 1
            hint: float | None = None
            status: int | None = None
            try:
                async with self._semaphore:
                    return await call()
            except openai.APIStatusError as exc:
                status = exc.status_code
                retryable = status in (408, 409, 429) or status >= 500
                detail = _provider_message(exc)
                hint = parse_retry_after(exc.response.headers)
            except openai.APIConnectionError as exc:  # includes APITimeoutError
                retryable = True
                detail = f"{exc.message} ({type(exc).__name__})"
            except openai.APIError as exc:
                retryable = False
                detail = exc.message
            if not retryable or attempt > self.retry.max_retries:
                self.meter.record_failure(purpose)
                what = f"HTTP {status}" if status is not None else "no response"
                message = (
                    f"{purpose} request to {config.provider} model {endpoint.model!r} failed after "
                    f"{attempt} attempt(s): {what}: {detail}"
                )
                raise LLMCallError(
                    scrub_secrets(message, endpoint.api_key),
                    status=status,
                    provider_message=scrub_secrets(detail, endpoint.api_key),
                    attempts=attempt,
                    retryable=retryable,
                ) from None
            if hint is not None:
                delay = min(hint, self.retry.max_retry_after)
            else:
                delay = self.retry.backoff(attempt, self._rng)
            self.meter.record_retry(purpose)
            logger.debug("retrying %s request (attempt %d, %s) in %.3fs", purpose, attempt, status, delay)
            await asyncio.sleep(delay)


def _usage_of(response: Any) -> TokenUsage:
    usage = getattr(response, "usage", None)
    if usage is None:
        return TokenUsage()
    return TokenUsage(
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
    )
