"""Shared pieces of the action runners: the result type and the request payload."""

from __future__ import annotations

from typing import Any

from pytest_cmdgen.runtime.errors import ActionError
from pytest_cmdgen.runtime.interfaces import ActionResult

#: The Rasa version sent in webhook payloads when the project does not say.
DEFAULT_RASA_VERSION = "3.13.0"


def rejection_result(action_name: str) -> ActionResult:
    """The result of a rejected action: a single ``action_execution_rejected`` event (Rasa's semantics)."""
    return ActionResult(events=[{"event": "action_execution_rejected", "name": action_name}], responses=[])


def tracker_state(tracker: Any) -> dict[str, Any]:
    """The rasa-sdk tracker dict of a runtime tracker (``tracker.current_state()``) or of a plain dict."""
    if isinstance(tracker, dict):
        return tracker
    state = tracker.current_state()
    return dict(state)


def domain_dict(project: Any) -> dict[str, Any]:
    """``project.domain.as_dict()``, or ``{}`` for a project without a domain (tests)."""
    domain = getattr(project, "domain", None)
    if domain is None:
        return {}
    if isinstance(domain, dict):
        return domain
    return dict(domain.as_dict())


def rasa_version(project: Any) -> str:
    """The Rasa version the project targets (from its version profile), for the webhook ``version`` key."""
    for attr in ("rasa_version", "version"):
        value = getattr(project, attr, None)
        if isinstance(value, str) and value:
            return value
    profile = getattr(project, "profile", None) or getattr(project, "version_profile", None)
    for attr in ("rasa_version", "version"):
        value = getattr(profile, attr, None)
        if value:
            return str(value)
    return DEFAULT_RASA_VERSION


def webhook_payload(action_name: str, tracker: Any, project: Any) -> dict[str, Any]:
    """The rasa-sdk webhook request body: ``{next_action, sender_id, tracker, domain, version}``."""
    state = tracker_state(tracker)
    return {
        "next_action": action_name,
        "sender_id": state.get("sender_id") or getattr(tracker, "sender_id", None),
        "tracker": state,
        "domain": domain_dict(project),
        "version": rasa_version(project),
    }


def check_result(action_name: str, body: Any, where: str) -> ActionResult:
    """Validate an action server answer (``{"events": [...], "responses": [...]}``) into an ActionResult."""
    if not isinstance(body, dict):
        raise ActionError(action_name, f"{where} answered {type(body).__name__}, expected a JSON object")
    events = body.get("events") or []
    responses = body.get("responses") or []
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ActionError(action_name, f"{where} answered 'events' that are not a list of event objects")
    if not isinstance(responses, list) or not all(isinstance(r, dict) for r in responses):
        raise ActionError(action_name, f"{where} answered 'responses' that are not a list of message objects")
    return ActionResult(events=list(events), responses=list(responses))


__all__ = [
    "DEFAULT_RASA_VERSION",
    "ActionError",
    "ActionResult",
    "check_result",
    "domain_dict",
    "rasa_version",
    "rejection_result",
    "tracker_state",
    "webhook_payload",
]
