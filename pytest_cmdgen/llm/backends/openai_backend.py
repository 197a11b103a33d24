"""The ``"openai"`` back-end: OpenAI, Azure OpenAI and OpenAI-compatible servers through the ``openai`` client.

This is the only module of the LLM layer that imports ``openai``; the registry imports it on first use. It
keeps one async client per endpoint (``Endpoint.client_key()``: kind, base URL, API version, key digest),
built with ``max_retries=0`` because the service retries, and turns the client's exceptions into
:class:`~pytest_cmdgen.llm.backends.base.BackendCallError`:

* an HTTP error status: retryable for 408, 409, 429 and 5xx, with the provider's message as detail and the
  ``retry-after-ms`` / ``Retry-After`` header as hint;
* a connection error or timeout (no response): retryable;
* any other client error: not retryable.

Its clients send through :class:`SlotHTTPClient`, which holds the service's concurrency slot only while a
request is on the wire (``holds_slot_on_the_wire``): the ``openai`` client's request building and answer
parsing, about 2 ms of CPU a call, happen while another request uses the slot.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

import openai

from pytest_cmdgen.llm.backends.base import (
    BackendCallError,
    BackendSettings,
    ChatAnswer,
    EmbeddingAnswer,
    parse_retry_after,
    wire_slot,
)
from pytest_cmdgen.llm.config import Endpoint
from pytest_cmdgen.llm.usage import TokenUsage

#: HTTP statuses worth another attempt (besides every 5xx).
RETRYABLE_STATUSES = frozenset({408, 409, 429})

#: Base URL of the OpenAI API, used when an ``openai`` endpoint names none.
DEFAULT_BASE_URL = "https://api.openai.com/v1"


def provider_message(exc: openai.APIError) -> str:
    """The error message the provider sent in the body (``{"error": {"message": ...}}``), else the client's."""
    body = exc.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return exc.message


EXCERPT_LENGTH = 120
"""Characters of a malformed body quoted in the error."""


def excerpt(text: str, limit: int = EXCERPT_LENGTH) -> str:
    """The start of ``text`` on one line, quoted, for an error message."""
    flat = " ".join(text.split())
    return repr(flat[:limit] + ("…" if len(flat) > limit else ""))


def malformed_answer(detail: str) -> BackendCallError:
    """A 200 answer that is not a usable completion: transient (retried, never cached), like a 5xx."""
    return BackendCallError(f"malformed answer: {detail}", status=200, retryable=True)


def call_error(exc: openai.APIError) -> BackendCallError:
    """The :class:`BackendCallError` for an exception of the ``openai`` client."""
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return BackendCallError(
            provider_message(exc),
            status=status,
            retryable=status in RETRYABLE_STATUSES or status >= 500,
            retry_after=parse_retry_after(exc.response.headers),
        )
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return BackendCallError(f"{exc.message} ({type(exc).__name__})", retryable=True)
    return BackendCallError(exc.message, retryable=False)


def usage_of(response: Any) -> TokenUsage:
    """The token usage of an ``openai`` response (zeros when it reports none)."""
    usage = getattr(response, "usage", None)
    if usage is None:
        return TokenUsage()
    return TokenUsage(
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
    )


class SlotHTTPClient(openai.DefaultAsyncHttpxClient):
    """The ``openai`` client's default HTTP client, except that each request holds the service's concurrency
    slot (:func:`~pytest_cmdgen.llm.backends.base.wire_slot`) from before it is sent until its whole body is
    read (the back-end never streams)."""

    async def send(self, request: Any, **kwargs: Any) -> Any:  # request, stream, auth, ... of any httpx version
        """Send ``request`` (as the base client does) within one slot."""
        async with wire_slot():
            return await super().send(request, **kwargs)


class OpenAIBackend:
    """The :class:`~pytest_cmdgen.llm.backends.base.Backend` for ``Endpoint.client_kind`` ``"openai"`` (OpenAI
    and OpenAI-compatible servers, including self-hosted ones) and ``"azure"``.

    Args:
        settings: the service's settings; ``default_timeout`` becomes the clients' default timeout.
    """

    holds_slot_on_the_wire = True
    """Its HTTP client takes the service's slot per request (see :class:`SlotHTTPClient`)."""

    def __init__(self, settings: BackendSettings | None = None) -> None:
        """Create the back-end; clients are built when an endpoint is first used."""
        self.settings = settings or BackendSettings()
        self._clients: dict[tuple[str, str | None, str | None, str], openai.AsyncOpenAI] = {}

    def client(self, endpoint: Endpoint) -> openai.AsyncOpenAI:
        """The async client for ``endpoint`` (one per ``endpoint.client_key()``, built on first use)."""
        key = endpoint.client_key()
        client = self._clients.get(key)
        if client is None:
            if endpoint.client_kind == "azure":
                if not endpoint.base_url:  # config resolution requires it for Azure; guard the client anyway
                    raise BackendCallError(f"no Azure endpoint (api_base) configured for model {endpoint.model!r}")
                client = openai.AsyncAzureOpenAI(
                    azure_endpoint=endpoint.base_url,
                    api_version=endpoint.api_version,
                    api_key=endpoint.api_key,
                    max_retries=0,
                    timeout=self.settings.default_timeout,
                    http_client=SlotHTTPClient(timeout=self.settings.default_timeout),
                )
            else:
                client = openai.AsyncOpenAI(
                    base_url=endpoint.base_url or DEFAULT_BASE_URL,
                    api_key=endpoint.api_key,
                    max_retries=0,
                    timeout=self.settings.default_timeout,
                    http_client=SlotHTTPClient(timeout=self.settings.default_timeout),
                )
            self._clients[key] = client
        return client

    async def chat(
        self, endpoint: Endpoint, messages: list[dict[str, Any]], kwargs: Mapping[str, Any], timeout: float
    ) -> ChatAnswer:
        """One ``chat.completions.create`` call; the answer is ``choices[0].message.content``."""
        client = self.client(endpoint)
        try:
            response = await client.chat.completions.create(
                model=endpoint.model,
                messages=messages,  # type: ignore[arg-type]  # plain dicts, as the API accepts them
                timeout=timeout,
                **kwargs,
            )
        except openai.APIError as exc:
            raise call_error(exc) from exc
        except json.JSONDecodeError as exc:
            raise malformed_answer(f"the body is not JSON: {excerpt(exc.doc)}") from None
        if isinstance(response, str):  # the client hands back a non-JSON body (an HTML error page) as text
            raise malformed_answer(f"the body is not JSON: {excerpt(response)}")
        if not response.choices:
            raise malformed_answer("the answer has no choices (choices: [])")
        text = response.choices[0].message.content
        if text is None:
            raise malformed_answer("the answer's message has no content (content: null)")
        return ChatAnswer(text, usage_of(response), getattr(response, "model", None) or None)

    async def embed(
        self, endpoint: Endpoint, texts: list[str], kwargs: Mapping[str, Any], timeout: float
    ) -> EmbeddingAnswer:
        """One ``embeddings.create`` call; vectors are returned in input order.

        The encoding is left to the client: it asks for base64 and decodes the float32 vectors (the same
        values as the ``float`` encoding, without parsing thousands of JSON numbers per answer on the
        service loop), and takes floats from a server that sends them all the same. The request's cache key
        does not depend on the encoding.
        """
        client = self.client(endpoint)
        try:
            response = await client.embeddings.create(model=endpoint.model, input=texts, timeout=timeout, **kwargs)
        except openai.APIError as exc:
            raise call_error(exc) from exc
        except json.JSONDecodeError as exc:
            raise malformed_answer(f"the body is not JSON: {excerpt(exc.doc)}") from None
        except ValueError as exc:  # the client's base64 decoding: no vectors, or a vector that is not base64
            raise malformed_answer(f"the embeddings cannot be decoded: {exc}") from None
        if isinstance(response, str):
            raise malformed_answer(f"the body is not JSON: {excerpt(response)}")
        if len(response.data or ()) != len(texts):
            raise malformed_answer(f"the answer has {len(response.data or ())} vectors for {len(texts)} texts")
        vectors = [list(item.embedding) for item in sorted(response.data, key=lambda item: item.index)]
        return EmbeddingAnswer(vectors, usage_of(response), getattr(response, "model", None) or None)

    async def close(self) -> None:
        """Close every client (errors while closing are ignored)."""
        clients = list(self._clients.values())
        self._clients.clear()
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()


__all__ = [
    "DEFAULT_BASE_URL",
    "RETRYABLE_STATUSES",
    "OpenAIBackend",
    "SlotHTTPClient",
    "call_error",
    "excerpt",
    "malformed_answer",
    "provider_message",
    "usage_of",
]
