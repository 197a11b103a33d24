"""Flows: parsing the YAML into steps with Rasa's ids and links, and the list of all flows (§12.1, §12.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_cmdgen.runtime.errors import ProjectError, load_project_yaml
from pytest_cmdgen.runtime.predicates import check_syntax
from pytest_cmdgen.yamlio import MarkedDict, line_of

START = "START"
END = "END"
CONTINUE_PREFIX = "NEXT:"
PATTERN_PREFIX = "pattern_"

_STEP_KINDS = ("collect", "action", "set_slots", "call", "link", "noop")
_SLOT_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]*$")


@dataclass
class NextLink:
    """One outgoing link of a step: ``condition`` None means unconditional (or the ``else`` branch)."""

    target: str
    condition: str | bool | None = None


@dataclass
class Rejection:
    """A collect step's rejection: when ``condition`` holds the value is refused and ``utter`` is said."""

    condition: str | bool
    utter: str


@dataclass
class FlowStep:
    """One step; ``kind`` is collect, action, set_slots, call, link or noop."""

    id: str
    kind: str
    next: list[NextLink] = field(default_factory=list)
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    collect: str | None = None
    utter: str | None = None
    ask_before_filling: bool = False
    reset_after_flow_ends: bool = True
    force_slot_filling: bool = False
    rejections: list[Rejection] = field(default_factory=list)
    action: str | None = None
    slot_sets: list[tuple[str, Any]] = field(default_factory=list)
    call: str | None = None
    link: str | None = None

    @property
    def is_static_next(self) -> bool:
        """True when the step has exactly one unconditional link."""
        return len(self.next) == 1 and self.next[0].condition is None

    def collect_action(self) -> str:
        """The ask action Rasa also tries for a collect step (``action_ask_<slot>``)."""
        return f"action_ask_{self.collect}"


@dataclass
class Flow:
    """A user flow or pattern with its steps in Rasa's pre-order."""

    id: str
    description: str
    steps: list[FlowStep]
    name: str | None = None
    guard: str | bool | None = None
    always_include_in_prompt: bool = False
    nlu_triggers: list[tuple[str, float]] = field(default_factory=list)
    persisted_slots: list[str] = field(default_factory=list)
    run_pattern_completed: bool = True
    file: str | None = None
    line: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_id = {step.id: step for step in self.steps}

    @property
    def readable_name(self) -> str:
        """``name`` if given, else the id with ``_``/``-`` as spaces (used in pattern texts)."""
        return self.name or self.id.replace("_", " ").replace("-", " ")

    @property
    def is_pattern(self) -> bool:
        """Patterns are flows whose id starts with ``pattern_``."""
        return self.id.startswith(PATTERN_PREFIX)

    @property
    def first_step(self) -> FlowStep:
        """The step a new frame of this flow starts with."""
        return self.steps[0]

    def step(self, step_id: str) -> FlowStep | None:
        """The step with this id, or None (START/END/NEXT:x are not steps)."""
        return self._by_id.get(step_id)

    @property
    def collect_steps(self) -> list[FlowStep]:
        """The collect steps of this flow (calls not resolved), in pre-order."""
        return [s for s in self.steps if s.kind == "collect"]

    @property
    def has_link_step(self) -> bool:
        """Whether any step links to another flow."""
        return any(s.kind == "link" for s in self.steps)


class FlowsList:
    """All flows of an assistant (user flows and patterns), in load order."""

    def __init__(self, flows: list[Flow]) -> None:
        self.flows = list(flows)
        self._by_id = {f.id: f for f in self.flows}
        self._collect_cache: dict[str, list[FlowStep]] = {}

    def __iter__(self):
        return iter(self.flows)

    def __len__(self) -> int:
        return len(self.flows)

    def __contains__(self, flow_id: object) -> bool:
        return flow_id in self._by_id

    def get(self, flow_id: str | None) -> Flow | None:
        """The flow with this id, or None."""
        return self._by_id.get(flow_id) if flow_id else None

    @property
    def user_flows(self) -> list[Flow]:
        """Flows that are not patterns."""
        return [f for f in self.flows if not f.is_pattern]

    def collect_steps_resolved(self, flow_id: str) -> list[FlowStep]:
        """Collect steps of a flow with ``call`` steps expanded into the called flow's collect steps."""
        cached = self._collect_cache.get(flow_id)
        if cached is not None:
            return cached
        result: list[FlowStep] = []
        self._collect_into(flow_id, result, set())
        self._collect_cache[flow_id] = result
        return result

    def _collect_into(self, flow_id: str, out: list[FlowStep], seen: set[str]) -> None:
        flow = self.get(flow_id)
        if flow is None or flow_id in seen:
            return
        seen = seen | {flow_id}
        for step in flow.steps:
            if step.kind == "collect":
                out.append(step)
            elif step.kind == "call" and step.call:
                self._collect_into(step.call, out, seen)

    def set_slot_keys_resolved(self, flow_id: str) -> list[str]:
        """Slot names set by ``set_slots`` steps of the flow (calls resolved)."""
        names: list[str] = []
        stack, seen = [flow_id], set()
        while stack:
            flow = self.get(stack.pop())
            if flow is None or flow.id in seen:
                continue
            seen.add(flow.id)
            for step in flow.steps:
                if step.kind == "set_slots":
                    names.extend(name for name, _ in step.slot_sets)
                elif step.kind == "call" and step.call:
                    stack.append(step.call)
        return names

    def nlu_trigger_flow(self, intent: str) -> Flow | None:
        """The flow whose ``nlu_trigger`` names this intent."""
        for flow in self.flows:
            if any(name == intent for name, _ in flow.nlu_triggers):
                return flow
        return None


# --- parsing -------------------------------------------------------------------------------------------


class _StepBuilder:
    """Turns a flow's nested step lists into :class:`FlowStep` objects with Rasa's ids and links."""

    def __init__(self, flow_id: str, source: str) -> None:
        self.flow_id = flow_id
        self.source = source
        self.steps: list[FlowStep] = []

    def error(self, node: Any, key: Any, what: str, expected: str) -> ProjectError:
        return ProjectError(self.source, line_of(node, key), f"flows.{self.flow_id}.{what}", expected)

    def build_sequence(self, items: Any, parent: Any, parent_key: Any, path: str, top_level: bool) -> str:
        """Parse a list of steps; returns the id of its first step."""
        if not isinstance(items, list) or not items:
            raise self.error(parent, parent_key, path, "a non-empty list of steps")
        built: list[tuple[FlowStep, Any, Any]] = []
        for index, item in enumerate(items):
            built.append(self.build_step(item, items, index, f"{path}[{index}]"))
        for position, (step, node, raw_next) in enumerate(built):
            if raw_next is not None:
                step.next = self.parse_next(raw_next, node, f"{path}[{position}].next")
            elif step.kind == "link":
                step.next = [NextLink(END)]
            elif position + 1 < len(built):
                step.next = [NextLink(built[position + 1][0].id)]
            else:
                # Rasa requires an explicit next at the end of a branch; END is the lenient reading.
                step.next = [NextLink(END)]
        return built[0][0].id

    def build_step(self, item: Any, items: Any, index: int, path: str) -> tuple[FlowStep, Any, Any]:
        if not isinstance(item, dict):
            raise self.error(items, index, path, "a step mapping (collect, action, set_slots, call, link or noop)")
        kinds = [k for k in _STEP_KINDS if k in item]
        if len(kinds) != 1:
            raise self.error(items, index, path, "exactly one of collect, action, set_slots, call, link, noop")
        kind = kinds[0]
        idx = len(self.steps)
        step = FlowStep(id="", kind=kind, description=item.get("description"))
        self.steps.append(step)
        meta = dict(item.get("metadata") or {})
        if isinstance(item, MarkedDict):
            meta.setdefault("line_numbers", f"{item.mark.line}-{max(item.mark.line, item.end_mark.line - 1)}")
        step.metadata = meta
        if kind == "collect":
            slot = item["collect"]
            if not isinstance(slot, str) or not _SLOT_NAME.match(slot):
                raise self.error(item, "collect", f"{path}.collect", "a slot name matching [a-zA-Z_][a-zA-Z0-9_-]*")
            step.collect = slot
            step.utter = str(item.get("utter") or f"utter_ask_{slot}")
            step.ask_before_filling = bool(item.get("ask_before_filling", False))
            step.reset_after_flow_ends = bool(item.get("reset_after_flow_ends", True))
            step.force_slot_filling = bool(item.get("force_slot_filling", False))
            rejections = item.get("rejections") or []
            if not isinstance(rejections, list):
                raise self.error(item, "rejections", f"{path}.rejections", "a list of {if, utter}")
            for r_index, rejection in enumerate(rejections):
                if not isinstance(rejection, dict) or "if" not in rejection or "utter" not in rejection:
                    raise self.error(
                        rejections, r_index, f"{path}.rejections[{r_index}]", "a mapping with `if` and `utter`"
                    )
                self._check_condition(rejection["if"], rejection, "if", f"{path}.rejections[{r_index}].if")
                step.rejections.append(Rejection(rejection["if"], str(rejection["utter"])))
            postfix = f"collect_{slot}"
        elif kind == "action":
            action = item["action"]
            if not isinstance(action, str) or not action:
                raise self.error(item, "action", f"{path}.action", "an action name")
            step.action = action
            postfix = action
        elif kind == "set_slots":
            entries = item["set_slots"]
            if not isinstance(entries, list):
                raise self.error(item, "set_slots", f"{path}.set_slots", "a list of {slot: value}")
            for entry in entries:
                if not isinstance(entry, dict):
                    raise self.error(item, "set_slots", f"{path}.set_slots", "a list of {slot: value}")
                step.slot_sets.extend((str(k), v) for k, v in entry.items())
            postfix = "set_slots"
        elif kind == "call":
            step.call = str(item["call"])
            postfix = f"call_{step.call}"
        elif kind == "link":
            step.link = str(item["link"])
            if "next" in item:
                raise self.error(item, "next", f"{path}.next", "no `next` on a link step (a link ends the flow)")
            postfix = f"link_{step.link}"
        else:
            postfix = "noop"
        custom_id = item.get("id")
        step.id = str(custom_id) if custom_id is not None else f"{idx}_{postfix}"
        if step.id in (START, END) or step.id.startswith(CONTINUE_PREFIX):
            raise self.error(item, "id", f"{path}.id", "a step id other than the reserved START / END / NEXT:*")
        raw_next = item.get("next")
        if kind == "noop" and raw_next is None:
            raise self.error(items, index, f"{path}.next", "a `next` on a noop step")
        # Branch steps are numbered right after their step (pre-order), so parse them now.
        if raw_next is not None and not isinstance(raw_next, str):
            raw_next = self._prebuild_branches(raw_next, item, f"{path}.next")
        return step, item, raw_next

    def _prebuild_branches(self, raw_next: Any, item: Any, path: str) -> list[tuple[Any, str]]:
        if not isinstance(raw_next, list):
            raise self.error(item, "next", path, "a step id or a list of if/then and else blocks")
        links: list[tuple[Any, str]] = []
        seen_else = False
        for index, block in enumerate(raw_next):
            if not isinstance(block, dict) or not ("if" in block or "else" in block):
                raise self.error(raw_next, index, f"{path}[{index}]", "a mapping with `if`/`then` or `else`")
            if "if" in block:
                if "then" not in block:
                    raise self.error(raw_next, index, f"{path}[{index}]", "a `then` with the `if`")
                self._check_condition(block["if"], block, "if", f"{path}[{index}].if")
                target = self._branch_target(block["then"], block, "then", f"{path}[{index}].then")
                links.append((block["if"], target))
            else:
                seen_else = True
                target = self._branch_target(block["else"], block, "else", f"{path}[{index}].else")
                links.append((None, target))
        if not seen_else and any(cond is not None for cond, _ in links):
            raise self.error(item, "next", path, "an `else` branch after the `if` branches")
        return links

    def _branch_target(self, value: Any, node: Any, key: str, path: str) -> str:
        if isinstance(value, str):
            return value
        return self.build_sequence(value, node, key, path, top_level=False)

    def _check_condition(self, condition: Any, node: Any, key: str, path: str) -> None:
        if not isinstance(condition, (str, bool)):
            raise self.error(node, key, path, "a condition string or boolean")
        problem = check_syntax(condition)
        if problem:
            raise self.error(node, key, path, f"a valid pypred condition ({problem})")

    def parse_next(self, raw_next: Any, node: Any, path: str) -> list[NextLink]:
        if isinstance(raw_next, str):
            return [NextLink(raw_next)]
        return [NextLink(target, condition) for condition, target in raw_next]


def parse_flow(flow_id: str, data: Any, source: str, line: int) -> Flow:
    """Parse one flow mapping; raises :class:`ProjectError` with file:line on malformed input."""
    if not isinstance(data, dict):
        raise ProjectError(source, line, f"flows.{flow_id}", "a mapping with `description` and `steps`")
    if "steps" not in data:
        raise ProjectError(source, line, f"flows.{flow_id}", "a `steps` list")
    builder = _StepBuilder(flow_id, source)
    builder.build_sequence(data["steps"], data, "steps", "steps", top_level=True)
    steps = builder.steps
    ids = [s.id for s in steps]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ProjectError(
            source, line, f"flows.{flow_id}.steps", f"unique step ids (duplicated: {sorted(duplicates)})"
        )
    known = set(ids) | {END}
    for step in steps:
        for link in step.next:
            target = link.target[len(CONTINUE_PREFIX) :] if link.target.startswith(CONTINUE_PREFIX) else link.target
            if target not in known:
                step_line = int(str(step.metadata.get("line_numbers", "0")).split("-")[0] or 0)
                raise ProjectError(
                    source,
                    step_line or line,
                    f"flows.{flow_id}.{step.id}.next",
                    f"an existing step id or END (got {link.target!r})",
                )
    guard = data.get("if")
    if guard is not None:
        if not isinstance(guard, (str, bool)):
            raise ProjectError(
                source, line_of(data, "if", line), f"flows.{flow_id}.if", "a condition string or boolean"
            )
        problem = check_syntax(guard)
        if problem:
            raise ProjectError(
                source, line_of(data, "if", line), f"flows.{flow_id}.if", f"a valid pypred condition ({problem})"
            )
    triggers: list[tuple[str, float]] = []
    for trigger in data.get("nlu_trigger") or []:
        intent = trigger.get("intent") if isinstance(trigger, dict) else trigger
        if isinstance(intent, dict):
            triggers.append((str(intent.get("name")), float(intent.get("confidence_threshold", 0.0))))
        elif intent is not None:
            triggers.append((str(intent), 0.0))
    description = data.get("description")
    if description is None and not flow_id.startswith(PATTERN_PREFIX):
        raise ProjectError(source, line, f"flows.{flow_id}.description", "a description (required for user flows)")
    return Flow(
        id=flow_id,
        description=str(description or ""),
        steps=steps,
        name=str(data["name"]) if data.get("name") is not None else None,
        guard=guard,
        always_include_in_prompt=bool(data.get("always_include_in_prompt", False)),
        nlu_triggers=triggers,
        persisted_slots=[str(s) for s in data.get("persisted_slots") or []],
        run_pattern_completed=bool(data.get("run_pattern_completed", True)),
        file=source,
        line=line,
        raw=dict(data),
    )


def parse_flows_document(data: Any, source: str) -> list[Flow]:
    """All flows of one parsed flows file (a mapping with a ``flows`` key)."""
    flows_node = data.get("flows") if isinstance(data, dict) else None
    if not isinstance(flows_node, dict):
        raise ProjectError(source, line_of(data, "flows"), "flows", "a mapping of flow ids to flows")
    return [parse_flow(str(fid), spec, source, line_of(flows_node, fid)) for fid, spec in flows_node.items()]


def is_flows_file(data: Any) -> bool:
    """Whether a parsed YAML document is a flows file (has a top-level ``flows`` key)."""
    return isinstance(data, dict) and "flows" in data


def load_flow_files(paths: list[Path]) -> list[Flow]:
    """Load every flows file among ``paths`` (files or directories, searched recursively)."""
    flows: list[Flow] = []
    seen: dict[str, str] = {}
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")) if path.is_dir() else [path]
        for file in files:
            data = load_project_yaml(file)
            if not is_flows_file(data):
                continue
            for flow in parse_flows_document(data, str(file)):
                if flow.id in seen:
                    raise ProjectError(
                        str(file), flow.line, f"flows.{flow.id}", f"a unique flow id (also defined in {seen[flow.id]})"
                    )
                seen[flow.id] = str(file)
                flows.append(flow)
    return flows


__all__ = [
    "CONTINUE_PREFIX",
    "END",
    "START",
    "Flow",
    "FlowStep",
    "FlowsList",
    "NextLink",
    "Rejection",
    "load_flow_files",
    "parse_flow",
    "parse_flows_document",
]
