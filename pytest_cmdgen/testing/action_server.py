"""A small real action server on loopback, speaking the rasa-sdk webhook protocol.

Use it in tests (and in your own ``conftest.py``) to serve custom actions written as plain Python
callables, without installing ``rasa_sdk``::

    server = ActionServer()

    @server.action("action_check_balance")
    def check_balance(tracker, domain):
        balance = 1000 if tracker["slots"].get("account") == "savings" else 0
        return [{"event": "slot", "name": "balance", "value": balance}], [{"text": f"${balance}"}]

    with server:                       # or: url = server.start(); ...; server.stop()
        url = server.url               # http://127.0.0.1:<port>/webhook

Protocol (rasa-sdk): ``POST /webhook`` with ``{next_action, sender_id, tracker, domain, version}``;
answer ``200 {"events": [...], "responses": [...]}``. An unknown action gives ``404`` and an action that
raises :class:`RejectAction` gives ``400``, both with ``{"action_name", "error"}``; any other exception
gives ``500``. ``GET /health`` answers ``{"status": "ok"}``, ``GET /actions`` lists the action names.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from pytest_cmdgen.testing.loopback import LoopbackHTTPServer

#: An action: ``(tracker_dict, domain_dict) -> (events, responses)``; either list may be empty.
ActionCallable = Callable[[dict[str, Any], dict[str, Any]], "tuple[Iterable[dict[str, Any]], Iterable[dict[str, Any]]]"]


class RejectAction(Exception):
    """Raise inside an action to reject it (rasa-sdk's ``ActionExecutionRejection``; HTTP 400)."""


@dataclass
class ActionCall:
    """One request the server received (kept in :attr:`ActionServer.calls` for assertions in tests)."""

    action_name: str
    sender_id: str | None
    tracker: dict[str, Any]
    domain: dict[str, Any]
    version: str | None = None


@dataclass
class ActionServer:
    """A threaded HTTP server on ``host`` serving registered action callables (see module docs).

    ``port=0`` picks a free port. The server is a context manager; :meth:`start` returns the webhook URL.
    """

    actions: dict[str, ActionCallable] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    calls: list[ActionCall] = field(default_factory=list)
    _server: LoopbackHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def register(self, name: str, fn: ActionCallable) -> None:
        """Serve ``fn`` under the action name ``name`` (replacing an earlier registration)."""
        self.actions[name] = fn

    def action(self, name: str) -> Callable[[ActionCallable], ActionCallable]:
        """Decorator form of :meth:`register`."""

        def decorate(fn: ActionCallable) -> ActionCallable:
            self.register(name, fn)
            return fn

        return decorate

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        if self._server is None:
            raise RuntimeError("the action server is not running; call start() first")
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes | bytearray):  # typeshed allows bytes; an AF_INET server reports str
            host = bytes(host).decode("ascii")
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The webhook URL (``http://host:port/webhook``) of the running server."""
        return f"{self.base_url}/webhook"

    def start(self) -> str:
        """Start serving in a daemon thread; returns the webhook URL. Starting twice is a no-op."""
        if self._server is None:
            server = LoopbackHTTPServer((self.host, self.port), _make_handler(self))
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name="cmdgen-action-server", daemon=True
            )
            self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop the server and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ActionServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- request handling (called from the handler thread) ------------------------------------------

    def handle(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Run the action a webhook payload names; returns ``(HTTP status, JSON body)``."""
        name = payload.get("next_action")
        if not isinstance(name, str) or not name:
            return 400, {"error": "missing 'next_action' in the request", "action_name": None}
        tracker = payload.get("tracker") or {}
        domain = payload.get("domain") or {}
        with self._lock:
            self.calls.append(
                ActionCall(
                    action_name=name,
                    sender_id=payload.get("sender_id"),
                    tracker=tracker,
                    domain=domain,
                    version=payload.get("version"),
                )
            )
        fn = self.actions.get(name)
        if fn is None:
            return 404, {"error": f"No registered action found for name '{name}'.", "action_name": name}
        try:
            events, responses = fn(tracker, domain)
        except RejectAction as exc:
            return 400, {"error": str(exc) or f"action '{name}' rejected", "action_name": name}
        except Exception as exc:  # the server must answer, whatever the action does
            return 500, {
                "error": f"{type(exc).__name__}: {exc}",
                "action_name": name,
                "traceback": traceback.format_exc(),
            }
        return 200, {"events": list(events or []), "responses": list(responses or [])}


def _make_handler(server: ActionServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return  # keep test output quiet

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, default=str).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                self.close_connection = True

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            if self.path.rstrip("/") == "/health":
                self._send(200, {"status": "ok"})
            elif self.path.rstrip("/") == "/actions":
                self._send(200, {"actions": [{"name": n} for n in sorted(server.actions)]})
            else:
                self._send(404, {"error": f"not found: {self.path}"})

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path.rstrip("/") != "/webhook":
                self._send(404, {"error": f"not found: {self.path}"})
                return
            try:
                payload = json.loads(raw.decode("utf-8") or "{}")
            except ValueError as exc:
                self._send(400, {"error": f"invalid JSON: {exc}", "action_name": None})
                return
            if not isinstance(payload, dict):
                self._send(400, {"error": "expected a JSON object", "action_name": None})
                return
            status, body = server.handle(payload)
            self._send(status, body)

    return Handler


__all__ = ["ActionCall", "ActionCallable", "ActionServer", "RejectAction"]
