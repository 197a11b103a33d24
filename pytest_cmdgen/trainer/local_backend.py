"""The ``"local"`` LLM back-end: a model directory (or a LoRA adapter on its base) answering in-process.

``--cmdgen-llm local:PATH`` makes the command generator's config name this back-end (see
:mod:`pytest_cmdgen.llm.spec`); the session registers it by the string
``"pytest_cmdgen.trainer.local_backend:LocalBackend"``, so the LLM layer never imports torch: this module is
imported when the first request needs it. Everything around one attempt (cache, de-duplication of identical
requests, the concurrency semaphore, usage accounting) stays the service's, as for the ``openai`` back-end.

The model is loaded (:func:`~pytest_cmdgen.trainer.inference.load_generation_model`: the chat template it
was trained with, greedy, stop at the end-of-turn token, on the GPU when there is one) on first use, and
every generation runs on one worker thread, one request at a time: the service's event loop never waits
for the model, and an answer never depends on which other requests happened to be in flight (batching
them would pad them together, and a padded batch is not bit-for-bit the same computation). Requests for
the same model queue on that thread; the session's other work (test cases between their turns, the
cache) goes on meanwhile.

Only chat requests are served: an embedding request is a non-retryable
:class:`~pytest_cmdgen.llm.backends.base.BackendCallError` saying so. A model that cannot be loaded fails
every request for it with the same one-line reason, without trying to load it again; a generation that
fails (out of memory, a prompt longer than the model takes, a device error) fails that request alone, in one
line naming the error.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_cmdgen.errors import CmdgenError
from pytest_cmdgen.llm.backends.base import BackendCallError, BackendSettings, ChatAnswer, EmbeddingAnswer
from pytest_cmdgen.llm.config import Endpoint
from pytest_cmdgen.llm.usage import TokenUsage

if TYPE_CHECKING:
    from pytest_cmdgen.trainer.inference import GenerationModel

#: New tokens per answer when the request sets no ``max_tokens``.
DEFAULT_MAX_NEW_TOKENS = 256

#: How many of the latest calls' timings :attr:`LocalBackend.timings` keeps (a session may make many calls).
TIMINGS_KEPT = 1024


@dataclass(frozen=True)
class CallTiming:
    """Where the time of one chat call went (for the overhead benchmark).

    Attributes:
        total: seconds from the back-end receiving the request to returning the answer.
        generation: seconds the model spent generating (``Generation.seconds``).
        queued: seconds the request waited for the worker thread (other requests, a model load).
        thread: the name of the thread that generated the answer.
    """

    total: float
    generation: float
    queued: float
    thread: str = ""


class LocalBackend:
    """The :class:`~pytest_cmdgen.llm.backends.base.Backend` serving ``local`` model directories in-process.

    Args:
        settings: the service's settings (its timeout is not applied: a generation cannot be cut off).

    ``Endpoint.model`` is the model directory; one model is kept loaded per directory.
    """

    def __init__(self, settings: BackendSettings | None = None) -> None:
        """Create the back-end; nothing is loaded until the first request."""
        self.settings = settings or BackendSettings()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="cmdgen-local-model")
        self._models: dict[str, GenerationModel] = {}
        self._load_errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.timings: deque[CallTiming] = deque(maxlen=TIMINGS_KEPT)
        """One entry per answered chat call, in order, the latest :data:`TIMINGS_KEPT` only (read by the
        overhead benchmark)."""

    # --- the worker thread --------------------------------------------------------------------------

    def _model(self, path: str) -> GenerationModel:
        """The loaded model of ``path`` (loaded on first use, on the worker thread)."""
        model = self._models.get(path)
        if model is not None:
            return model
        if path in self._load_errors:
            raise BackendCallError(self._load_errors[path], retryable=False)
        from pytest_cmdgen.trainer.inference import load_generation_model

        try:
            model = load_generation_model(path)
        except CmdgenError as exc:
            self._load_errors[path] = f"the local model cannot be loaded: {exc}"
            raise BackendCallError(self._load_errors[path], retryable=False) from None
        except Exception as exc:  # a corrupt weights file and the like: the library's own error types vary
            reason = (str(exc).strip().splitlines() or [""])[0] or type(exc).__name__
            self._load_errors[path] = f"the local model cannot be loaded: {path}: {type(exc).__name__}: {reason}"
            raise BackendCallError(self._load_errors[path], retryable=False) from None
        self._models[path] = model
        return model

    def _generate(self, path: str, prompt: str, max_new_tokens: int, received: float) -> tuple[Any, float, str]:
        started = time.perf_counter()
        model = self._model(path)
        generation = model.generate([prompt], max_new_tokens=max_new_tokens, batch_size=1)[0]
        return generation, started - received, threading.current_thread().name

    # --- the Backend protocol -----------------------------------------------------------------------

    async def chat(
        self, endpoint: Endpoint, messages: list[dict[str, Any]], kwargs: Mapping[str, Any], timeout: float
    ) -> ChatAnswer:
        """Generate the answer to the one user message the command generator sends, greedily."""
        received = time.perf_counter()
        if len(messages) != 1 or messages[0].get("role", "user") != "user" or not isinstance(
            messages[0].get("content"), str
        ):
            raise BackendCallError(
                "the local back-end answers requests of one user message with text content (as the command "
                f"generator sends them), got {len(messages)} message(s)",
                retryable=False,
            )
        prompt = messages[0]["content"]
        max_new_tokens = int(kwargs.get("max_tokens") or kwargs.get("max_completion_tokens") or DEFAULT_MAX_NEW_TOKENS)
        try:
            job = self._worker.submit(self._generate, endpoint.model, prompt, max_new_tokens, received)
        except RuntimeError as exc:  # the worker was shut down: the service is closing
            raise BackendCallError(f"the local model is closed: {exc}", retryable=False) from None
        try:
            generation, queued, thread = await asyncio.wrap_future(job)
        except BackendCallError:
            raise
        except Exception as exc:  # out of memory, a prompt too long, a device error: this request fails
            reason = (str(exc).strip().splitlines() or [""])[0] or type(exc).__name__
            raise BackendCallError(
                f"the local model failed to answer: {type(exc).__name__}: {reason}", retryable=False
            ) from None
        total = time.perf_counter() - received
        with self._lock:
            self.timings.append(CallTiming(total, generation.seconds, queued, thread))
        usage = TokenUsage(prompt_tokens=generation.prompt_tokens, completion_tokens=generation.output_tokens)
        return ChatAnswer(generation.text, usage, None)

    async def embed(
        self, endpoint: Endpoint, texts: list[str], kwargs: Mapping[str, Any], timeout: float
    ) -> EmbeddingAnswer:
        """Not supported: a local model answers the command generator only (embeddings keep config.yml's)."""
        raise BackendCallError(
            f"the local back-end serves chat requests only, not embeddings (model {endpoint.model!r}); flow "
            "retrieval keeps the embeddings model of config.yml",
            retryable=False,
        )

    async def close(self) -> None:
        """Stop the worker (a generation in progress finishes on its own) and drop the models; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._worker.submit(self._release)
        self._worker.shutdown(wait=False, cancel_futures=False)

    def _release(self) -> None:
        models = list(self._models.values())
        self._models.clear()
        for model in models:
            model.close()


__all__ = ["DEFAULT_MAX_NEW_TOKENS", "TIMINGS_KEPT", "CallTiming", "LocalBackend"]
