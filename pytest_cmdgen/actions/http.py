"""``HttpActionRunner``: custom actions over the rasa-sdk webhook protocol (stdlib ``urllib`` only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from pytest_cmdgen.actions.base import ActionResult, check_result, rejection_result, webhook_payload
from pytest_cmdgen.runtime.errors import ActionError

#: Seconds to wait for the action server (Rasa's default for custom actions).
DEFAULT_TIMEOUT = 30.0


@dataclass
class HttpActionRunner:
    """Run custom actions by POSTing to an action server's webhook ``url``.

    * ``200`` → the returned ``events`` and ``responses``;
    * ``400`` (or another 4xx other than 404) whose JSON body names ``action_name`` → the action is
      *rejected*: the result holds one ``action_execution_rejected`` event (Rasa's
      ``ActionExecutionRejection``);
    * unreachable server, timeout, ``404`` (unknown action), any other status or a malformed answer →
      :class:`~pytest_cmdgen.runtime.errors.ActionError` naming the action and the URL.
    """

    url: str
    timeout: float = DEFAULT_TIMEOUT

    def run(self, action_name: str, tracker: Any, project: Any) -> ActionResult:
        """Run ``action_name`` on the server for the conversation in ``tracker``."""
        payload = webhook_payload(action_name, tracker, project)
        return self.post(action_name, payload)

    def post(self, action_name: str, payload: dict[str, Any]) -> ActionResult:
        """POST a ready-made webhook payload and interpret the answer."""
        data = json.dumps(payload, default=str).encode("utf-8")
        request = urllib.request.Request(
            self.url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            return self._http_error(action_name, exc)
        except TimeoutError as exc:
            raise ActionError(
                action_name, f"the action server at {self.url} timed out after {self.timeout:g}s"
            ) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise ActionError(
                    action_name, f"the action server at {self.url} timed out after {self.timeout:g}s"
                ) from exc
            raise ActionError(action_name, f"cannot reach the action server at {self.url}: {exc.reason}") from exc
        except (ConnectionError, OSError) as exc:
            raise ActionError(action_name, f"cannot reach the action server at {self.url}: {exc}") from exc
        if status != 200:
            raise ActionError(action_name, f"the action server at {self.url} answered HTTP {status}")
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
        except ValueError as exc:
            raise ActionError(action_name, f"the action server at {self.url} answered invalid JSON: {exc}") from exc
        return check_result(action_name, body, f"the action server at {self.url}")

    def _http_error(self, action_name: str, exc: urllib.error.HTTPError) -> ActionResult:
        try:
            body = json.loads(exc.read().decode("utf-8") or "{}")
        except (ValueError, OSError):
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        detail = f": {error}" if error else ""
        if exc.code == 404:
            raise ActionError(
                action_name, f"the action server at {self.url} does not know this action (HTTP 404){detail}"
            ) from exc
        if 400 <= exc.code < 500 and isinstance(body, dict) and "action_name" in body:
            return rejection_result(action_name)
        raise ActionError(action_name, f"the action server at {self.url} answered HTTP {exc.code}{detail}") from exc


__all__ = ["DEFAULT_TIMEOUT", "HttpActionRunner"]
