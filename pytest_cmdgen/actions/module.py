"""``ModuleActionRunner``: an in-process ``actions_module`` run through ``rasa_sdk`` (when installed).

The actions run through rasa_sdk's own ``ActionExecutor``, exactly as ``rasa run actions`` would run them:

* the module named by ``action_endpoint.actions_module`` is imported relative to the project root (the root is
  on ``sys.path`` only while importing), a package with all its submodules or a single module;
* each call gets the webhook body the HTTP runner POSTs (:func:`~pytest_cmdgen.actions.base.webhook_payload`),
  passed through JSON both ways as over the wire, so that an action neither sees nor mutates runtime objects;
* the executor's answer becomes an ``ActionResult(events, responses)``; ``ActionExecutionRejection`` becomes the
  same ``action_execution_rejected`` result as the server's HTTP 400; an unknown action or one that raises is an
  :class:`~pytest_cmdgen.runtime.errors.ActionError` naming the action and the module (the server's 404 / 500).

One pytest process may load several projects whose actions share a module name (``actions``), which separate
action-server processes never do. The runner therefore re-imports the module when the one in ``sys.modules``
comes from elsewhere, and registers only the ``Action`` classes of *this* load (created while importing it, or
bound in its modules), not every ``Action`` subclass alive in the process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_cmdgen.actions.base import ActionResult, check_result, rejection_result, webhook_payload
from pytest_cmdgen.runtime.errors import ActionError


def rasa_sdk_available() -> bool:
    """True if ``rasa_sdk`` can be imported (an installed but broken one counts as missing)."""
    try:
        import rasa_sdk  # noqa: F401
    except ImportError:
        return False
    return True


# --- the event loop async executors run on ------------------------------------------------------------------

_LOOP: asyncio.AbstractEventLoop | None = None
_LOOP_LOCK = threading.Lock()


def _event_loop() -> asyncio.AbstractEventLoop:
    """One long-lived loop for all in-process actions, as an action server has one (module-level async clients
    created by an action keep working from one call to the next)."""
    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
    return _LOOP


def _run_coroutine(awaitable: Any) -> Any:
    """Run ``awaitable`` to completion from synchronous code, whether or not this thread runs a loop already."""

    async def wrapped() -> Any:
        return await awaitable

    with _LOOP_LOCK:
        loop = _event_loop()
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # the usual case: plain synchronous caller
            return loop.run_until_complete(wrapped())
        # called from inside a running loop (an async test): a loop cannot nest, so run it in a helper thread
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="cmdgen-actions") as pool:
            return pool.submit(loop.run_until_complete, wrapped()).result()


# --- importing the actions module ----------------------------------------------------------------------------


@contextlib.contextmanager
def _on_sys_path(root: Path | None) -> Iterator[None]:
    """``root`` first on ``sys.path`` for the duration (nothing when None)."""
    if root is None:
        yield
        return
    entry = str(root)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def _module_locations(module: ModuleType) -> list[Path]:
    places = [getattr(module, "__file__", None), *list(getattr(module, "__path__", None) or [])]
    return [Path(p) for p in places if p]


def _from_root(name: str, module: ModuleType | None, root: Path) -> bool:
    """True if module ``name`` was imported from ``root`` as a ``sys.path`` entry (``root/top/...`` or
    ``root/top.py``), not from a virtual environment or anything else that happens to live below ``root``."""
    if module is None:
        return False
    top = name.split(".")[0]
    for place in _module_locations(module):
        try:
            parts = place.resolve().relative_to(root).parts
        except (ValueError, OSError):
            continue
        if parts and (parts[0] == top or (len(parts) == 1 and parts[0].split(".")[0] == top)):
            return True
    return False


def _family(name: str) -> list[str]:
    """``name`` and its submodules currently in ``sys.modules``."""
    return [key for key in list(sys.modules) if key == name or key.startswith(name + ".")]


#: Modules imported from each project root by an in-process load (``root -> module names``).
_PROJECT_MODULES: dict[Path, set[str]] = {}


def _evict_other_projects(root: Path | None) -> None:
    """Forget the modules earlier loads imported from *other* project roots (their ``actions`` package, a
    ``helpers.py`` beside it...), so that this project's same-named modules are imported from its own root."""
    if root is None:
        return
    for other, names in _PROJECT_MODULES.items():
        if other == root:
            continue
        for name in list(names):
            if _from_root(name, sys.modules.get(name), other):
                del sys.modules[name]
            names.discard(name)


def _record_project_modules(root: Path | None, before: set[str]) -> None:
    if root is None:
        return
    names = _PROJECT_MODULES.setdefault(root, set())
    names.update(name for name in set(sys.modules) - before if _from_root(name, sys.modules.get(name), root))


def _evict_foreign(top: str, root: Path | None) -> None:
    """Forget ``top`` (and its submodules) if the project root defines it but ``sys.modules`` holds another one:
    the actions of a previously loaded project with the same module name."""
    if root is None or top not in sys.modules:
        return
    if importlib.machinery.PathFinder.find_spec(top, [str(root)]) is None:
        return  # not a project module (an installed package): share it
    if _from_root(top, sys.modules[top], root):
        return  # this project's own module, imported before
    for key in _family(top):
        del sys.modules[key]


def _action_classes() -> list[type]:
    from rasa_sdk import utils
    from rasa_sdk.interfaces import Action

    seen: dict[type, None] = {}
    for cls in utils.all_subclasses(Action):
        seen.setdefault(cls, None)
    return list(seen)


def _owner_class(function: Any) -> type | None:
    owner = getattr(function, "__self__", None)
    return type(owner) if owner is not None else None


def _import_failure(exc: BaseException) -> BaseException:
    """The real error behind rasa_sdk's ``sys.exit(1)`` on an ``ImportError`` while registering a package."""
    if isinstance(exc, SystemExit) and exc.__context__ is not None:
        return exc.__context__
    return exc


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass
class ModuleActionRunner:
    """Run the custom actions of ``module`` (``endpoints.yml`` ``action_endpoint.actions_module``) in-process.

    Needs ``rasa_sdk`` (its ``ActionExecutor`` loads the package and runs the actions); without it every run
    raises :class:`~pytest_cmdgen.runtime.errors.ActionError` explaining how to serve the actions instead.
    ``project_path`` (the project root) is put on ``sys.path`` while the module is imported.
    """

    module: str
    project_path: Path | None = None
    _executor: Any = field(default=None, init=False, repr=False)

    # --- loading ---------------------------------------------------------------------------------------------

    @property
    def _root(self) -> Path | None:
        return Path(self.project_path).resolve() if self.project_path is not None else None

    def _where(self) -> str:
        return f"actions_module {self.module!r}"

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
        from rasa_sdk.executor import ActionExecutor

        root = self._root
        where = f"{self._where()}" + (f" (project {root})" if root else "")
        before = set(_action_classes())
        executor = ActionExecutor()
        with _on_sys_path(root):
            _evict_other_projects(root)
            _evict_foreign(self.module.split(".")[0], root)
            modules_before = set(sys.modules)
            try:
                try:
                    package = importlib.import_module(self.module)
                except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code: any import failure
                    raise ActionError(action_name, f"cannot import {where}: {_describe(exc)}") from exc
                try:
                    executor.register_package(package)  # imports the submodules; sys.exit(1) on an ImportError
                except (Exception, SystemExit) as exc:  # noqa: BLE001
                    cause = _import_failure(exc)
                    raise ActionError(action_name, f"cannot load {where}: {_describe(cause)}") from cause
            finally:
                _record_project_modules(root, modules_before)
        self._keep_own_actions(executor, before)
        self._executor = executor
        return executor

    def _keep_own_actions(self, executor: Any, before: set[type]) -> None:
        """Drop the actions rasa_sdk registered from ``Action`` classes that do not belong to this module.

        ``register_package`` registers every ``Action`` subclass alive in the process. Ours are those created
        while importing the module, plus those bound in the module's namespaces (a shared library imported by
        an earlier project too, or the module itself when a previous runner imported it already).
        """
        from rasa_sdk.interfaces import Action

        owned = set(_action_classes()) - before
        for key in _family(self.module):
            for value in list(vars(sys.modules[key]).values()):
                if isinstance(value, type) and issubclass(value, Action):
                    owned.add(value)
        foreign = [
            name
            for name, function in executor.actions.items()
            if (cls := _owner_class(function)) is not None and cls not in owned
        ]
        if not foreign:
            return
        for name in foreign:
            del executor.actions[name]
        # a foreign class may have overwritten one of ours of the same name: register ours again, in
        # rasa_sdk's order (the last class of a name wins, as in the server)
        registered = {_owner_class(function) for function in executor.actions.values()}
        for cls in _action_classes():
            if cls not in owned or cls in registered or inspect.isabstract(cls):
                continue
            if cls.__module__.startswith(("rasa_sdk.", "rasa.", "rasa_core.", "rasa_core_sdk.")):
                continue
            action = cls()
            if action.name() in foreign:
                executor.register_action(action)

    # --- running ---------------------------------------------------------------------------------------------

    def run(self, action_name: str, tracker: Any, project: Any) -> ActionResult:
        """Run ``action_name`` through rasa_sdk's executor, as the action server's webhook would."""
        executor = self._load(action_name)
        try:
            payload = json.loads(json.dumps(webhook_payload(action_name, tracker, project), default=str))
        except (TypeError, ValueError) as exc:
            raise ActionError(action_name, f"cannot encode the webhook request for {self._where()}: {exc}") from exc
        if action_name not in executor.actions:
            raise self._unknown(action_name, executor)
        rejection, not_found = self._sdk_exceptions()
        try:
            answer = executor.run(payload)
            if inspect.isawaitable(answer):
                answer = _run_coroutine(answer)
        except rejection:
            return rejection_result(action_name)
        except not_found as exc:
            raise self._unknown(action_name, executor) from exc
        except Exception as exc:  # the server's HTTP 500
            raise ActionError(action_name, f"{self._where()} raised {_describe(exc)}") from exc
        if answer is None:
            raise self._unknown(action_name, executor)
        if hasattr(answer, "model_dump"):  # rasa_sdk >= 3.9: ActionExecutorRunResult
            answer = answer.model_dump()
        elif hasattr(answer, "dict") and not isinstance(answer, dict):  # pydantic 1 models
            answer = answer.dict()
        try:
            answer = json.loads(json.dumps(answer))
        except (TypeError, ValueError) as exc:  # the server could not serialise it either (HTTP 500)
            raise ActionError(action_name, f"{self._where()} answered something that is not JSON: {exc}") from exc
        return check_result(action_name, answer, self._where())

    def _unknown(self, action_name: str, executor: Any) -> ActionError:
        known = ", ".join(sorted(executor.actions)) or "none"
        return ActionError(action_name, f"{self._where()} has no action named {action_name!r} (it has: {known})")

    @staticmethod
    def _sdk_exceptions() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
        from rasa_sdk import interfaces

        rejection = getattr(interfaces, "ActionExecutionRejection", None)
        not_found = getattr(interfaces, "ActionNotFoundException", None)
        return (rejection,) if rejection else (), (not_found,) if not_found else ()


__all__ = ["ModuleActionRunner", "rasa_sdk_available"]
