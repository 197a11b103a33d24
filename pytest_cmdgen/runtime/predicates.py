"""Conditions as Rasa evaluates them: Jinja pre-rendering with ``context``, then a pypred predicate (§12.3)."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import jinja2
from pypred import Predicate

from pytest_cmdgen.errors import CmdgenInputError

_JINJA = jinja2.Environment(autoescape=False)


class PredicateError(CmdgenInputError, ValueError):
    """A condition could not be parsed."""


_PARSE_LOCK = threading.Lock()


@lru_cache(maxsize=4096)
def _compiled(text: str) -> Predicate:
    # pypred builds a ply parser per predicate and ply may (re)write its table module: one at a time, since
    # conversations run in parallel threads.
    with _PARSE_LOCK:
        predicate = Predicate(text)
    if not predicate.is_valid():
        raise PredicateError(f"invalid condition {text!r}: {predicate.errors()}")
    return predicate


@lru_cache(maxsize=1024)
def _template(text: str) -> jinja2.Template:
    return _JINJA.from_string(text)


def render_template(text: str, variables: dict[str, Any]) -> str:
    """Render a Jinja string (conditions, action names); plain text is returned unchanged."""
    if "{" not in text:
        return text
    return _template(text).render(**variables)


def evaluate(condition: str | bool | None, context: dict[str, Any], slots: dict[str, Any]) -> bool:
    """Evaluate a flow condition; parse or evaluation errors count as false, like Rasa."""
    if condition is None:
        return True
    if isinstance(condition, bool):
        return condition
    text = render_template(str(condition), {"context": context})
    try:
        return bool(_compiled(text).evaluate({"context": context, "slots": slots}))
    except Exception:  # noqa: BLE001 - pypred raises arbitrary errors on type mismatches
        return False


def evaluate_strict(condition: str | bool, document: dict[str, Any], context: dict[str, Any]) -> bool:
    """Evaluate a condition, letting evaluation errors propagate (slot rejections need them)."""
    if isinstance(condition, bool):
        return condition
    text = render_template(str(condition), {"context": context})
    return bool(_compiled(text).evaluate(document))


def check_syntax(condition: str | bool) -> str | None:
    """None if the condition parses (after blanking Jinja expressions), else the parser's complaint."""
    if isinstance(condition, bool):
        return None
    text = str(condition)
    if "{{" in text:
        return None
    try:
        _compiled(text)
    except PredicateError as exc:
        return str(exc)
    return None
