"""``ChoosingActionRunner``: per action, a stub, else the action server URL, else the in-process module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_cmdgen.actions.base import ActionResult
from pytest_cmdgen.actions.http import DEFAULT_TIMEOUT, HttpActionRunner
from pytest_cmdgen.actions.module import ModuleActionRunner
from pytest_cmdgen.actions.stub import StubActionRunner
from pytest_cmdgen.runtime.errors import ActionError


def endpoint_settings(project: Any) -> tuple[str | None, str | None]:
    """``(action_endpoint url, actions_module)`` of a project (``project.endpoints``), either may be None.

    Accepts an endpoints object with ``action_endpoint`` (mapping or object with ``url``/``actions_module``),
    attributes ``action_url``/``actions_module`` directly on it, or a plain ``endpoints.yml`` mapping.
    """
    endpoints = getattr(project, "endpoints", None)
    if endpoints is None:
        return None, None
    url = module = None
    for attr in ("action_url", "action_endpoint_url", "url"):
        value = _get(endpoints, attr)
        if isinstance(value, str) and value:
            url = value
            break
    for attr in ("actions_module", "action_module"):
        value = _get(endpoints, attr)
        if isinstance(value, str) and value:
            module = value
            break
    section = _get(endpoints, "action_endpoint")
    if section is not None:
        url = url or _str(_get(section, "url"))
        module = module or _str(_get(section, "actions_module"))
    return url, module


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass
class ChoosingActionRunner:
    """Pick a runner per action: ``stubs`` if they answer it, then ``http``, then ``module``.

    Build one from a project with :meth:`for_project`; ``url`` overrides the project's endpoint (for example
    a loopback :class:`~pytest_cmdgen.testing.action_server.ActionServer`).
    """

    stubs: StubActionRunner | None = None
    http: HttpActionRunner | None = None
    module: ModuleActionRunner | None = None

    @classmethod
    def for_project(
        cls,
        project: Any,
        stubs: StubActionRunner | None = None,
        url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> ChoosingActionRunner:
        """The runner for ``project``'s ``endpoints.yml`` (``url`` wins over ``action_endpoint.url``)."""
        project_url, module_name = endpoint_settings(project)
        url = url or project_url
        path = getattr(project, "path", None) or getattr(project, "root", None)
        return cls(
            stubs=stubs,
            http=HttpActionRunner(url, timeout=timeout) if url else None,
            module=ModuleActionRunner(module_name, Path(path) if path else None) if module_name else None,
        )

    def run(self, action_name: str, tracker: Any, project: Any) -> ActionResult:
        """Run ``action_name`` with the first runner that can."""
        if self.stubs is not None and self.stubs.has(action_name):
            return self.stubs.run(action_name, tracker, project)
        if self.http is not None:
            return self.http.run(action_name, tracker, project)
        if self.module is not None:
            return self.module.run(action_name, tracker, project)
        raise ActionError(
            action_name,
            "no way to run custom actions: the project's endpoints.yml has no action_endpoint "
            "(url or actions_module) and no stub in the test file answers this action",
        )


__all__ = ["ChoosingActionRunner", "endpoint_settings"]
