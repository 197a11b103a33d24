"""A scripted, OpenAI-compatible LLM server for tests and offline runs.

:class:`ScriptedLLMServer` is a real HTTP server on the loopback interface answering
``POST /v1/chat/completions``, ``POST /v1/embeddings`` and ``GET /v1/models`` (also the Azure paths
``/openai/deployments/<name>/...``) with OpenAI-shaped JSON, including ``usage``. Answers come from:

1. rules added with :meth:`ScriptedLLMServer.add_rule` (first match wins);
2. Rasa's default rephrase prompt → the rephrasings file (``2_rephrasings`` format), else derived variants;
3. command-generator prompts (v1, v2, v3 templates) → the annotated conversation turn whose user messages
   match the prompt's conversation (``llm_commands`` joined by newlines); a failing rephrasing gets
   ``failing_answer``;
4. otherwise ``default_answer`` (empty: the runtime parses no commands).

Embeddings are deterministic unit vectors seeded by a hash of the text. Latency, a concurrency limit
(beyond it: 429 with ``Retry-After``), random or scripted faults (429, 500, timeout, disconnect) and an
always-500 mode make client behaviour testable. Run it stand-alone with ``cmdgen-scripted-llm``.
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import json
import math
import random
import re
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from pytest_cmdgen.testing.loopback import LoopbackHTTPServer
from pytest_cmdgen.testing.scripted_answers import (
    AnnotationIndex,
    derived_rephrasings,
    format_rephrasings,
    load_conversations,
    parse_command_prompt,
    parse_rephrase_prompt,
)

MALFORMED_KINDS = ("html", "not_json", "empty_choices", "null_content")
"""The faults that are a 200 answer which is no usable completion."""

FAULT_KINDS = ("429", "500", "timeout", "disconnect", *MALFORMED_KINDS)
"""What :meth:`ScriptedLLMServer.inject_faults` can make a request get: an HTTP error, a hang, a dropped
connection, or a malformed 200 answer (an HTML page, a body that is not JSON, ``choices: []``, a message
whose ``content`` is null)."""

Matcher = Callable[[str], bool] | str | re.Pattern[str]
Answer = str | Callable[[str], str]


@dataclass
class RecordedRequest:
    """One request the server received (the ``Authorization`` header is never kept)."""

    endpoint: str
    method: str
    path: str
    body: Any
    status: int = 0
    received_at: float = field(default_factory=time.time)
    answered_at: float | None = None
    """When the response was written (``time.time()``), None while unanswered or when none was sent."""

    @property
    def prompt(self) -> str:
        """The text of the last ``user`` message of a chat request ('' otherwise)."""
        return _prompt_of(self.body) if self.endpoint == "chat" else ""


@dataclass
class Rule:
    """A scripted answer: when ``match`` accepts the prompt, answer ``answer`` (``times`` uses, None = ∞)."""

    match: Callable[[str], bool]
    answer: Answer
    times: int | None = None
    used: int = 0

    def answer_for(self, prompt: str) -> str:
        """The answer text for ``prompt``."""
        return self.answer(prompt) if callable(self.answer) else self.answer


@dataclass
class FaultRates:
    """Probabilities (0..1) of answering a request with a fault instead of the answer."""

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_timeout: float = 0.0
    rate_malformed: float = 0.0
    """A 200 answer that is no completion: an HTML page, a cut-off body, no choices or null content."""


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def _prompt_of(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, Mapping) else None
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role", "user") == "user":
            content = message.get("content", "")
            if isinstance(content, list):
                return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
            return str(content)
    return ""


def _predicate(match: Matcher) -> Callable[[str], bool]:
    if callable(match):
        return match
    pattern = re.compile(match) if isinstance(match, str) else match
    return lambda prompt: pattern.search(prompt) is not None


def count_tokens(text: str) -> int:
    """A rough token count (about four characters a token), at least 1 for non-empty text."""
    return 0 if not text else max(1, math.ceil(len(text) / 4))


def embedding_for(text: str, dim: int) -> list[float]:
    """A deterministic unit vector for ``text``: the same text always gives the same vector."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    vector = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class _HTTPServer(LoopbackHTTPServer):
    scripted: ScriptedLLMServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "cmdgen-scripted-llm/1"
    timeout = 60
    server: _HTTPServer
    record: RecordedRequest | None = None
    """The request being answered: its status is recorded before the response goes out, so a client that
    has its answer always finds the status recorded."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        if self.server.scripted.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self.server.scripted._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.scripted._handle(self, "POST")


class _NagleHandler(_Handler):
    """The handler of a server that leaves Nagle's algorithm on, as many real servers do."""

    disable_nagle_algorithm = False


class _Disconnect(Exception):
    pass


class ScriptedLLMServer:
    """An OpenAI-compatible HTTP server with scripted answers, latency, limits and fault injection.

    Args:
        annotations: annotated conversations (``1_command_annotations`` YAML file, directory or mapping).
        rephrasings: conversations with rephrasings (``2_rephrasings`` format), merged into the same index.
        host: interface to bind (loopback by default).
        port: port to bind; 0 picks a free one.
        latency: seconds from a chat/embedding request's arrival to its answer (the answer is computed within
            them, as a real server's time to answer includes its own work).
        max_concurrency: requests in flight beyond this number are answered 429 at once (None: no limit).
        retry_after: seconds sent in ``Retry-After`` (and ``retry-after-ms``) with a 429.
        default_answer: answer to a prompt nothing matches.
        failing_answer: answer to a prompt whose latest message is a failing rephrasing.
        embedding_dim: size of the embedding vectors.
        fault_rates: random faults, drawn from an RNG seeded with ``seed``.
        seed: seed of the fault RNG.
        timeout_delay: how long a "timeout" fault keeps the request hanging (until stop at the latest).
        verbose: log each request to stderr.
        nagle: leave Nagle's algorithm on for the server's connections (off by default), as many real servers
            do: a client that stalls on it (waiting for a delayed ACK) shows here.
    """

    def __init__(
        self,
        annotations: str | Path | Mapping[str, Any] | None = None,
        rephrasings: str | Path | Mapping[str, Any] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        max_concurrency: int | None = None,
        retry_after: float = 1.0,
        default_answer: str = "",
        failing_answer: str = "ChitChat()",
        embedding_dim: int = 64,
        fault_rates: FaultRates | None = None,
        seed: int = 0,
        timeout_delay: float = 30.0,
        verbose: bool = False,
        nagle: bool = False,
    ) -> None:
        """Configure the server; :meth:`start` binds and serves."""
        self.host = host
        self.port = port
        self.latency = latency
        self.max_concurrency = max_concurrency
        self.retry_after = retry_after
        self.default_answer = default_answer
        self.failing_answer = failing_answer
        self.embedding_dim = embedding_dim
        self.fault_rates = fault_rates or FaultRates()
        self.timeout_delay = timeout_delay
        self.verbose = verbose
        self.nagle = nagle
        self.always_fail: str | None = None
        self.always_fail_status = 500
        self.index = AnnotationIndex()
        self.requests: list[RecordedRequest] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.max_concurrency_observed = 0
        self.rejected_over_capacity = 0
        self._active = 0
        self._rules: list[Rule] = []
        self._fault_rules: list[Rule] = []
        self._faults: collections.deque[str] = collections.deque()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        if annotations is not None:
            self.load_annotations(annotations)
        if rephrasings is not None:
            self.load_rephrasings(rephrasings)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        """Bind, serve in a daemon thread and return the base URL ``http://HOST:PORT/v1``."""
        if self._httpd is not None:
            return self.base_url
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self.port), _NagleHandler if self.nagle else _Handler)
        httpd.scripted = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="cmdgen-scripted-llm",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving (requests sleeping for latency or a timeout fault are woken and dropped)."""
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> ScriptedLLMServer:
        """Start on entering a ``with`` block."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop on leaving the ``with`` block."""
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1`` (valid after :meth:`start`)."""
        return f"http://{self.host}:{self.port}/v1"

    # ------------------------------------------------------------------ scripting
    def load_annotations(self, source: str | Path | Mapping[str, Any]) -> None:
        """Add annotated conversations (``1_command_annotations`` YAML file, directory or mapping)."""
        with self._lock:
            self.index.add(load_conversations(source))

    def load_rephrasings(self, source: str | Path | Mapping[str, Any]) -> None:
        """Add conversations with ``passing_rephrasings`` / ``failing_rephrasings`` (``2_rephrasings``)."""
        self.load_annotations(source)

    def add_rule(self, match: Matcher, answer: Answer, *, times: int | None = None) -> Rule:
        """Answer ``answer`` to chat prompts accepted by ``match`` (a callable, or a regex searched for).

        Rules are tried in the order added, before anything else; ``times`` limits how often a rule fires.
        """
        rule = Rule(_predicate(match), answer, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def add_fault_rule(self, match: Matcher, kind: str = "500", *, times: int | None = None) -> Rule:
        """Answer chat prompts accepted by ``match`` with the fault ``kind`` (see ``FAULT_KINDS``) instead.

        Fault rules are tried before injected faults and answers; ``times`` limits how often one fires.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        rule = Rule(_predicate(match), kind, times)
        with self._lock:
            self._fault_rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        """Remove every rule (answer and fault rules)."""
        with self._lock:
            self._rules.clear()
            self._fault_rules.clear()

    def inject_faults(self, kind: str, count: int = 1) -> None:
        """Make the next ``count`` chat/embedding requests fail with ``kind`` (see ``FAULT_KINDS``)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        with self._lock:
            self._faults.extend([kind] * count)

    def set_fault_rates(self, rate_429: float = 0.0, rate_500: float = 0.0, rate_timeout: float = 0.0,
                        seed: int | None = None, rate_malformed: float = 0.0) -> None:  # fmt: skip
        """Answer requests with random faults at these rates (seeded RNG for reproducibility)."""
        with self._lock:
            self.fault_rates = FaultRates(rate_429, rate_500, rate_timeout, rate_malformed)
            if seed is not None:
                self._rng = random.Random(seed)

    def fail_always(self, message: str | None = "The server had an error processing your request.",
                    status: int = 500) -> None:  # fmt: skip
        """Answer every chat/embedding request with ``status`` and ``message``; ``None`` turns it off."""
        with self._lock:
            self.always_fail = message
            self.always_fail_status = status

    def reset_counters(self) -> None:
        """Forget logged requests and counters (rules, faults and data stay)."""
        with self._lock:
            self.requests.clear()
            self.counts.clear()
            self.max_concurrency_observed = 0
            self.rejected_over_capacity = 0

    def chat_prompts(self) -> list[str]:
        """The prompts (last user message) of all chat requests received, in arrival order."""
        with self._lock:
            return [r.prompt for r in self.requests if r.endpoint == "chat"]

    # ------------------------------------------------------------------ answers
    def answer_for(self, prompt: str) -> str:
        """The answer text the server gives to a chat prompt (no HTTP involved)."""
        with self._lock:
            for rule in self._rules:
                if (rule.times is None or rule.used < rule.times) and rule.match(prompt):
                    rule.used += 1
                    return rule.answer_for(prompt)
        request = parse_rephrase_prompt(prompt)
        if request is not None:
            blocks = []
            for message in request.messages:
                recorded = self.index.rephrasings_for(request.test_case_name, message)
                if recorded is not None:
                    blocks.append((message, recorded[0] + recorded[1]))
                else:
                    blocks.append((message, derived_rephrasings(message, request.count)))
            return format_rephrasings(blocks)
        conversation = parse_command_prompt(prompt)
        if conversation is None:
            return self.default_answer
        match = self.index.match(conversation)
        if match is None:
            return self.default_answer
        if match.kind == "failing":
            return self.failing_answer
        return "\n".join(match.turn.commands or [])

    def embedding_for(self, text: str) -> list[float]:
        """The deterministic embedding of ``text`` at the configured dimension."""
        return embedding_for(text, self.embedding_dim)

    # ------------------------------------------------------------------ HTTP
    def _handle(self, handler: _Handler, method: str) -> None:
        started = time.monotonic()  # the request line and headers are in: latency counts from here
        handler.record = None  # a kept-alive connection's handler answered other requests before
        path = handler.path.split("?", 1)[0].rstrip("/")
        body: Any = None
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            raw = handler.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send_error(handler, 400, "invalid JSON body", "invalid_request_error")
                return
        endpoint = self._endpoint(method, path)
        record = RecordedRequest(endpoint, method, path, body)
        handler.record = record
        with self._lock:
            self.requests.append(record)
            self.counts[endpoint] += 1
        if endpoint == "models":
            record.status = 200
            data = [{"id": "scripted-model", "object": "model", "created": 0, "owned_by": "cmdgen"}]
            self._send_json(handler, 200, {"object": "list", "data": data})
            return
        if endpoint == "unknown":
            record.status = 404
            self._send_error(handler, 404, f"Unknown request URL: {method} {path}", "invalid_request_error")
            return
        with self._lock:
            self._active += 1
            self.max_concurrency_observed = max(self.max_concurrency_observed, self._active)
            over = self.max_concurrency is not None and self._active > self.max_concurrency
            if over:
                self.rejected_over_capacity += 1
        try:
            if over:
                record.status = 429
                self._send_rate_limit(handler, "Too many concurrent requests to the scripted server.")
                return
            record.status = self._serve(handler, endpoint, body, started)
        except _Disconnect:
            record.status = -1
            handler.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        finally:
            with self._lock:
                self._active -= 1

    @staticmethod
    def _endpoint(method: str, path: str) -> str:
        if method == "GET" and path.endswith("/models"):
            return "models"
        if method == "POST" and path.endswith("/chat/completions"):
            return "chat"
        if method == "POST" and path.endswith("/embeddings"):
            return "embeddings"
        return "unknown"

    def _next_fault(self, prompt: str | None) -> str | None:
        with self._lock:
            for rule in self._fault_rules:
                if prompt is not None and (rule.times is None or rule.used < rule.times) and rule.match(prompt):
                    rule.used += 1
                    return rule.answer_for(prompt)
            if self._faults:
                return self._faults.popleft()
            if self.always_fail is not None:
                return "always"
            draw = self._rng.random()
            rates = self.fault_rates
            if draw < rates.rate_429:
                return "429"
            if draw < rates.rate_429 + rates.rate_500:
                return "500"
            if draw < rates.rate_429 + rates.rate_500 + rates.rate_timeout:
                return "timeout"
            if draw < rates.rate_429 + rates.rate_500 + rates.rate_timeout + rates.rate_malformed:
                return self._rng.choice(MALFORMED_KINDS)
        return None

    def _serve(self, handler: _Handler, endpoint: str, body: Any, started: float) -> int:
        fault = self._next_fault(_prompt_of(body) if endpoint == "chat" else None)
        if fault == "429":
            self._send_rate_limit(handler, "Rate limit reached (scripted fault).")
            return 429
        if fault == "500":
            self._send_error(handler, 500, "The server had an error (scripted fault).", "server_error")
            return 500
        if fault == "always":
            status = self.always_fail_status
            self._send_error(handler, status, self.always_fail or "error", "server_error")
            return status
        if fault == "timeout":
            self._stopping.wait(self.timeout_delay)
            raise _Disconnect
        if fault == "disconnect":
            raise _Disconnect
        if fault == "html":
            self._send_raw(handler, 200, b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>", "text/html")
            return 200
        if fault == "not_json":
            self._send_raw(handler, 200, b'{"id": "chatcmpl-cut-off", "choices": [', "application/json")
            return 200
        status, payload = self._reply(endpoint, body, fault)
        if self.latency > 0:  # the answer was computed within the latency: it goes out `latency` after arrival
            self._stopping.wait(max(0.0, started + self.latency - time.monotonic()))
        if self._stopping.is_set():
            raise _Disconnect
        self._send_json(handler, status, payload)
        return status

    def _reply(self, endpoint: str, body: Any, fault: str | None) -> tuple[int, Any]:
        """The status and JSON body that answer a chat or embeddings request (``fault``: a malformed kind)."""
        if not isinstance(body, Mapping):
            return 400, _error_body("request body must be a JSON object", "invalid_request_error")
        model = str(body.get("model") or "scripted-model")
        if endpoint == "chat":
            if body.get("stream"):
                return 400, _error_body("streaming is not supported", "invalid_request_error")
            prompt = _prompt_of(body)
            text = self.answer_for(prompt)
            payload: dict[str, Any] = {
                "id": f"chatcmpl-scripted-{hashlib.sha1(prompt.encode()).hexdigest()[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": count_tokens(prompt),
                    "completion_tokens": count_tokens(text),
                    "total_tokens": count_tokens(prompt) + count_tokens(text),
                },
            }
            if fault == "empty_choices":
                payload["choices"] = []
            elif fault == "null_content":
                payload["choices"][0]["message"]["content"] = None
        else:
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else list(texts or [])
            as_base64 = body.get("encoding_format") == "base64"
            data = []
            for i, text in enumerate(texts):
                vector: Any = self.embedding_for(str(text))
                if as_base64:
                    vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
                data.append({"object": "embedding", "index": i, "embedding": vector})
            tokens = sum(count_tokens(str(t)) for t in texts)
            payload = {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        return 200, payload

    def _send_rate_limit(self, handler: _Handler, message: str) -> None:
        seconds = self.retry_after
        headers = {
            "Retry-After": str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}",
            "retry-after-ms": str(int(seconds * 1000)),
        }
        self._send_error(handler, 429, message, "rate_limit_exceeded", headers)

    def _send_error(
        self,
        handler: _Handler,
        status: int,
        message: str,
        kind: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._send_json(handler, status, _error_body(message, kind), headers)

    @classmethod
    def _send_json(
        cls, handler: _Handler, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        cls._send_raw(handler, status, json.dumps(payload).encode("utf-8"), "application/json", headers)

    @staticmethod
    def _send_raw(
        handler: _Handler, status: int, data: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        if handler.record is not None:
            handler.record.status = status
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()
        if handler.record is not None:
            handler.record.answered_at = time.time()


# ---------------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    """``cmdgen-scripted-llm``: serve scripted answers until interrupted (SIGINT/SIGTERM)."""
    parser = argparse.ArgumentParser(
        prog="cmdgen-scripted-llm", description="A scripted OpenAI-compatible LLM server for offline runs."
    )
    parser.add_argument("--annotations", help="1_command_annotations YAML file or directory")
    parser.add_argument("--rephrasings", help="2_rephrasings YAML file or directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port (0: a free one, printed on start)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--max-concurrency", type=int, default=None, help="beyond it: 429")
    parser.add_argument("--default-answer", default="", help="answer when nothing matches")
    parser.add_argument("--failing-answer", default="ChitChat()", help="answer to failing rephrasings")
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)
    server = ScriptedLLMServer(
        args.annotations,
        args.rephrasings,
        host=args.host,
        port=args.port,
        latency=args.latency,
        max_concurrency=args.max_concurrency,
        default_answer=args.default_answer,
        failing_answer=args.failing_answer,
        embedding_dim=args.embedding_dim,
        verbose=args.verbose,
    )
    done = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    base_url = server.start()
    print(f"cmdgen-scripted-llm listening on {base_url}", flush=True)
    print(f"  export OPENAI_BASE_URL={base_url} OPENAI_API_KEY=sk-scripted", file=sys.stderr, flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
