"""``ModuleActionRunner``: an in-process ``actions_module`` run through ``rasa_sdk`` (when installed)."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_cmdgen.actions.base import ActionResult, check_result, rejection_result, webhook_payload
from pytest_cmdgen.runtime.errors import ActionError


def rasa_sdk_available() -> bool:
    """True if ``rasa_sdk`` can be imported."""
    return importlib.util.find_spec("rasa_sdk") is not None


@dataclass
class ModuleActionRunner:
    """Run the custom actions of ``module`` (``endpoints.yml`` ``action_endpoint.actions_module``) in-process.

    Needs ``rasa_sdk`` (its ``ActionExecutor`` loads the package); without it every run raises
    :class:`~pytest_cmdgen.runtime.errors.ActionError` explaining how to serve the actions instead.
    ``project_path`` is put on ``sys.path`` so that the module is importable from the project root.
    """

    module: str
    project_path: Path | None = None
    _executor: Any = field(default=None, init=False, repr=False)

    def _load(self, action_name: str) -> Any:
        if self._executor is not None:
            return self._executor
        if not rasa_sdk_available():
            raise ActionError(
                action_name,
                f"the project runs its actions in-process (actions_module: {self.module!r}) but rasa_sdk is "
                "not installed; install rasa-sdk, or serve the actions over HTTP and point "
                "action_endpoint.url at the server, or stub the action in the test file",
            )
        from rasa_sdk.executor import ActionExecutor  # type: ignore[import-not-found]

        if self.project_path is not None and str(self.project_path) not in sys.path:
            sys.path.insert(0, str(self.project_path))
        executor = ActionExecutor()
        try:
            executor.register_package(self.module)
        except Exception as exc:  # import errors of user code
            raise ActionError(action_name, f"cannot load actions_module {self.module!r}: {exc}") from exc
        self._executor = executor
        return executor

    def run(self, action_name: str, tracker: Any, project: Any) -> ActionResult:
        """Run ``action_name`` through rasa_sdk's executor."""
        executor = self._load(action_name)
        payload = webhook_payload(action_name, tracker, project)
        try:
            from rasa_sdk.interfaces import ActionExecutionRejection  # type: ignore[import-not-found]
        except ImportError:  # pragma: no cover - very old rasa_sdk
            ActionExecutionRejection = ()  # type: ignore[assignment]  # noqa: N806
        try:
            answer = executor.run(payload)
            if inspect.isawaitable(answer):
                answer = asyncio.run(answer)
        except ActionExecutionRejection:  # type: ignore[misc]
            return rejection_result(action_name)
        except Exception as exc:
            raise ActionError(
                action_name, f"actions_module {self.module!r} raised {type(exc).__name__}: {exc}"
            ) from exc
        if answer is None:
            raise ActionError(action_name, f"actions_module {self.module!r} has no action named {action_name!r}")
        if hasattr(answer, "model_dump"):
            answer = answer.model_dump()
        return check_result(action_name, answer, f"actions_module {self.module!r}")


__all__ = ["ModuleActionRunner", "rasa_sdk_available"]
