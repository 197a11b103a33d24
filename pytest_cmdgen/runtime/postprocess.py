"""What Rasa's command generators do around the LLM call, for every command source (§9.3 (a), §9.5)."""

from __future__ import annotations

from typing import Any

from pytest_cmdgen.runtime import predicates
from pytest_cmdgen.runtime.commands import CannotHandle, Command, SetSlot, StartFlow
from pytest_cmdgen.runtime.flows import Flow
from pytest_cmdgen.runtime.project import Project
from pytest_cmdgen.runtime.stack import active_user_frames
from pytest_cmdgen.runtime.tracker import Tracker

ROUTING_SLOT = "route_session_to_calm"


def startable_flows(tracker: Tracker, project: Project) -> list[Flow]:
    """Flows (patterns included) whose guard holds in the current context, in load order."""
    context = tracker.context()
    return [f for f in project.flows if f.guard is None or predicates.evaluate(f.guard, context, tracker.slots)]


def available_flows(tracker: Tracker, project: Project) -> tuple[list[Flow], list[Flow]]:
    """(startable ∪ active flows, startable flows); active flows missing from the first come last."""
    startable = startable_flows(tracker, project)
    result = list(startable)
    ids = {f.id for f in result}
    for frame in active_user_frames(tracker.stack):
        flow = project.flows.get(frame.flow_id)
        if flow is not None and flow.id not in ids:
            result.append(flow)
            ids.add(flow.id)
    return result, startable


def _mapping_applicable(mapping: dict[str, Any], tracker: Tracker, project: Project) -> bool:
    conditions = mapping.get("conditions") or []
    if conditions and not any(
        c.get("active_flow") in (None, tracker.active_flow) for c in conditions if isinstance(c, dict)
    ):
        return False
    kind = mapping.get("type")
    if kind == "from_entity":
        return mapping.get("entity") in project.domain.entities
    if kind == "from_intent":
        intents = mapping.get("intent")
        names = intents if isinstance(intents, list) else [intents]
        return all(n in project.domain.intents for n in names if n)
    return True


def slot_applicable(name: str, tracker: Tracker, project: Project) -> bool:
    """Whether at least one of the slot's mappings may fill it now (unknown slots pass: clean-up decides)."""
    slot = project.domain.slots.get(name)
    if slot is None:
        return True
    return any(_mapping_applicable(m, tracker, project) for m in slot.mappings)


def post_process(commands: list[Command], tracker: Tracker, project: Project, startable: list[Flow]) -> list[Command]:
    """No commands → CannotHandle; routing SetSlot; drop StartFlows of unstartable flows and inapplicable SetSlots."""
    result = list(commands) or [CannotHandle()]
    if ROUTING_SLOT in project.domain.slots:
        result.append(SetSlot(name=ROUTING_SLOT, value=True))
    startable_ids = {f.id for f in startable}
    result = [c for c in result if not isinstance(c, StartFlow) or c.flow in startable_ids]
    return [
        c
        for c in result
        if not (isinstance(c, SetSlot) and c.extractor == "LLM" and not slot_applicable(c.name, tracker, project))
    ]
