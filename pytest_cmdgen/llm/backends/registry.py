"""Back-ends by name: :func:`register_backend` and the look-ups the service uses.

A back-end is registered under a name with a :data:`~pytest_cmdgen.llm.backends.base.BackendFactory` or
with a ``"package.module:attr"`` string naming one. A string is imported only when the back-end is first
needed, so a back-end with heavy dependencies (an in-process model importing torch) can register at start-up
without the LLM layer importing them. The built-in ``"openai"`` back-end is registered that way too, so
``import pytest_cmdgen.llm`` does not import ``openai``.

An :class:`~pytest_cmdgen.llm.config.LLMConfig` selects its back-end with
:attr:`~pytest_cmdgen.llm.config.LLMConfig.backend_name`: its ``backend`` field when set, else the default
for its provider (``openai``, ``azure``, ``self-hosted`` and ``rasa`` are all served by ``"openai"``).
"""

from __future__ import annotations

import importlib
import re
import threading
from dataclasses import dataclass
from typing import cast

from pytest_cmdgen.llm.backends.base import Backend, BackendFactory, BackendSettings
from pytest_cmdgen.llm.errors import LLMConfigError

#: The name of the built-in back-end for OpenAI, Azure OpenAI and OpenAI-compatible servers.
OPENAI_BACKEND = "openai"

_DOTTED_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass
class _Entry:
    source: BackendFactory | str  # what was registered
    factory: BackendFactory | None = None  # the callable, once known (imported on first use for a string)


_lock = threading.Lock()
_entries: dict[str, _Entry] = {}


def _normal(name: str) -> str:
    return name.strip().lower()


def register_backend(name: str, factory: BackendFactory | str, *, replace: bool = False) -> None:
    """Register ``factory`` as the back-end called ``name`` (case-insensitive).

    Args:
        name: the name configs use (``LLMConfig(backend=name)``).
        factory: a callable taking :class:`BackendSettings` and returning a back-end (a back-end class
            whose ``__init__`` takes the settings will do), or ``"package.module:attr"`` naming one; the
            string is imported on first use, not here.
        replace: allow replacing a back-end already registered under ``name``.

    Raises:
        ValueError: ``name`` is empty, the string is not of the ``module:attr`` form, or ``name`` is taken
            and ``replace`` is false.
    """
    key = _normal(name)
    if not key:
        raise ValueError("a back-end name must not be empty")
    if isinstance(factory, str):
        if not _DOTTED_RE.match(factory):
            raise ValueError(f"back-end factory {factory!r} must be a 'package.module:attr' string")
    elif not callable(factory):
        raise ValueError(f"back-end factory for {key!r} must be callable or a 'package.module:attr' string")
    with _lock:
        current = _entries.get(key)
        if current is not None and not replace and current.source != factory:
            raise ValueError(f"an LLM back-end named {key!r} is already registered (pass replace=True)")
        if current is None or current.source != factory:
            _entries[key] = _Entry(factory, None if isinstance(factory, str) else factory)


def unregister_backend(name: str) -> None:
    """Forget the back-end called ``name`` (no error if it is not registered)."""
    with _lock:
        _entries.pop(_normal(name), None)


def known_backends() -> list[str]:
    """The registered back-end names, sorted."""
    with _lock:
        return sorted(_entries)


def is_loaded(name: str) -> bool:
    """Whether back-end ``name`` is ready without an import: registered as a callable, or its
    ``module:attr`` string already imported (``False`` for unknown names)."""
    with _lock:
        entry = _entries.get(_normal(name))
    return entry is not None and entry.factory is not None


def _import_factory(name: str, spec: str) -> BackendFactory:
    module_name, _, attr_path = spec.partition(":")
    try:
        target: object = importlib.import_module(module_name)
        for attr in attr_path.split("."):
            target = getattr(target, attr)
    except (ImportError, AttributeError) as exc:
        raise LLMConfigError(f"LLM back-end {name!r} could not be loaded from {spec!r}: {exc}") from exc
    if not callable(target):
        raise LLMConfigError(f"LLM back-end {name!r}: {spec!r} is not callable")
    return cast(BackendFactory, target)


def backend_for(name: str) -> BackendFactory:
    """The factory registered as ``name``, importing a ``module:attr`` string on first use.

    Raises:
        LLMConfigError: no back-end of that name is registered (the message lists the known ones), or its
            string could not be imported.
    """
    key = _normal(name)
    with _lock:
        entry = _entries.get(key)
        known = sorted(_entries)
    if entry is None:
        raise LLMConfigError(f"unknown LLM back-end {name!r}; known back-ends: {known}")
    if entry.factory is not None:
        return entry.factory
    assert isinstance(entry.source, str)
    resolved = _import_factory(key, entry.source)  # outside the lock: an import may take long
    with _lock:
        entry.factory = resolved
    return resolved


def create_backend(name: str, settings: BackendSettings | None = None) -> Backend:
    """A new back-end ``name`` made by its factory with ``settings`` (defaults if ``None``).

    Raises:
        LLMConfigError: as :func:`backend_for`.
    """
    return backend_for(name)(settings or BackendSettings())


register_backend(OPENAI_BACKEND, "pytest_cmdgen.llm.backends.openai_backend:OpenAIBackend")

__all__ = [
    "OPENAI_BACKEND",
    "backend_for",
    "create_backend",
    "is_loaded",
    "known_backends",
    "register_backend",
    "unregister_backend",
]
