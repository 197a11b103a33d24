"""The embedded CALM runtime: a Rasa project loaded from its own files, and conversations run through it.

:class:`Project` loads ``config.yml``, the domain, flows and ``endpoints.yml`` for one Rasa version's
behaviour; :class:`Agent` runs conversations (:class:`Conversation`) through flows, the dialogue stack,
patterns and commands, asking a :class:`CommandSource` (the LLM command generator, a script, a user's
hook) for commands and an :class:`ActionRunner` for custom actions. The tracker's events are Rasa's.
No pytest and no LLM client here: command sources and action runners are injected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_cmdgen._lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_cmdgen.runtime.agent import Agent, Conversation
    from pytest_cmdgen.runtime.commands import Command, command_from_dict
    from pytest_cmdgen.runtime.errors import ActionError, CommandSourceError, ProjectError
    from pytest_cmdgen.runtime.events import Event, event_from_dict
    from pytest_cmdgen.runtime.interfaces import (
        ActionResult,
        ActionRunner,
        CommandPrediction,
        CommandRequest,
        CommandSource,
    )
    from pytest_cmdgen.runtime.project import Project
    from pytest_cmdgen.runtime.tracker import Tracker

__getattr__ = lazy_exports(
    __name__,
    {
        "ActionError": "errors",
        "ActionResult": "interfaces",
        "ActionRunner": "interfaces",
        "Agent": "agent",
        "Command": "commands",
        "command_from_dict": "commands",
        "CommandPrediction": "interfaces",
        "CommandRequest": "interfaces",
        "CommandSource": "interfaces",
        "CommandSourceError": "errors",
        "Conversation": "agent",
        "Event": "events",
        "event_from_dict": "events",
        "Project": "project",
        "ProjectError": "errors",
        "Tracker": "tracker",
    },
)

__all__ = [
    "ActionError",
    "ActionResult",
    "ActionRunner",
    "Agent",
    "Command",
    "CommandPrediction",
    "CommandRequest",
    "CommandSource",
    "CommandSourceError",
    "Conversation",
    "Event",
    "Project",
    "ProjectError",
    "Tracker",
    "command_from_dict",
    "event_from_dict",
]
