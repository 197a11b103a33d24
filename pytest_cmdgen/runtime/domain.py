"""The domain: slots, responses and custom action names, merged from one file or a directory (§12.4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_cmdgen.runtime.errors import ProjectError, load_project_yaml
from pytest_cmdgen.runtime.slots import SLOT_TYPES, SlotDefinition
from pytest_cmdgen.yamlio import MarkedDict, line_of

# Actions every Rasa assistant knows; flows may name them without listing them in the domain.
DEFAULT_ACTIONS = (
    "action_listen",
    "action_restart",
    "action_session_start",
    "action_default_fallback",
    "action_deactivate_loop",
    "action_revert_fallback_events",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_two_stage_fallback",
    "action_unlikely_intent",
    "action_back",
    "action_send_text",
    "action_extract_slots",
    "action_validate_slot_mappings",
    "action_cancel_flow",
    "action_correct_flow_slot",
    "action_clarify_flows",
    "action_run_slot_rejections",
    "action_clean_stack",
    "action_trigger_search",
    "action_trigger_chitchat",
    "action_repeat_bot_messages",
    "action_continue_interrupted_flow",
    "action_cancel_interrupted_flows",
    "action_hangup",
    "action_handoff_metric",
)


@dataclass
class Domain:
    """Slots, responses (name → variations) and custom actions of an assistant."""

    slots: dict[str, SlotDefinition] = field(default_factory=dict)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    session_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._action_names: frozenset[str] | None = None

    @property
    def action_names(self) -> frozenset[str]:
        """Every action the assistant can run: default actions, custom actions and responses."""
        if self._action_names is None:
            self._action_names = frozenset(DEFAULT_ACTIONS) | frozenset(self.actions) | frozenset(self.responses)
        return self._action_names

    def is_custom_action(self, name: str) -> bool:
        """A custom action (served by the action server), not a response or a built-in."""
        return (
            name in self.actions
            and name not in self.responses
            and (name not in DEFAULT_ACTIONS or name == "action_session_start")
        )

    def merge_defaults(self, other: Domain) -> None:
        """Add ``other``'s slots and responses where this domain does not define them (user wins)."""
        for name, slot in other.slots.items():
            self.slots.setdefault(name, slot)
        for name, variations in other.responses.items():
            self.responses.setdefault(name, variations)
        for action in other.actions:
            if action not in self.actions:
                self.actions.append(action)
        self._action_names = None

    def as_dict(self) -> dict[str, Any]:
        """The domain as Rasa sends it in an action-server request's ``domain`` field."""
        return {
            "version": "3.1",
            "session_config": self.session_config
            or {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
            "intents": list(self.intents),
            "entities": list(self.entities),
            "slots": {name: slot.as_dict() for name, slot in self.slots.items()},
            "responses": self.responses,
            "actions": list(self.actions),
            "forms": {},
            "e2e_actions": [],
        }


def _domain_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    return [path]


def load_domain(path: Path, problems: list[ProjectError] | None = None) -> Domain:
    """Load a domain file or a directory of domain files (merged in sorted path order).

    With ``problems``, a slot type Rasa does not know is recorded there (and the slot kept) instead of raised.
    """
    if not path.exists():
        raise ProjectError(str(path), 0, "domain", "a domain file or directory (not found)")
    domain = Domain()
    for file in _domain_files(path):
        data = load_project_yaml(file)
        if data is None:
            continue
        if not isinstance(data, dict):
            raise ProjectError(str(file), line_of(data), "domain", "a mapping at the top level")
        merge_domain_dict(domain, data, str(file), problems)
    return domain


def merge_domain_dict(
    domain: Domain, data: dict[str, Any], source: str, problems: list[ProjectError] | None = None
) -> None:
    """Merge one parsed domain file into ``domain`` (slots, responses, actions, intents, entities)."""
    slots = data.get("slots") or {}
    if not isinstance(slots, dict):
        raise ProjectError(source, line_of(data, "slots"), "slots", "a mapping of slot names to definitions")
    for name, spec in slots.items():
        domain.slots[str(name)] = parse_slot(str(name), spec, source, line_of(slots, name), problems)
    responses = data.get("responses") or {}
    if not isinstance(responses, dict):
        raise ProjectError(source, line_of(data, "responses"), "responses", "a mapping of response names")
    for name, variations in responses.items():
        if not isinstance(variations, list) or not all(isinstance(v, dict) for v in variations):
            raise ProjectError(
                source, line_of(responses, name), f"responses.{name}", "a list of variations (mappings with text)"
            )
        domain.responses[str(name)] = [dict(v) for v in variations]
    for key, target in (("actions", domain.actions), ("intents", domain.intents), ("entities", domain.entities)):
        items = data.get(key) or []
        if not isinstance(items, list):
            raise ProjectError(source, line_of(data, key), key, "a list")
        for item in items:
            name = next(iter(item)) if isinstance(item, dict) else item
            if str(name) not in target:
                target.append(str(name))
    if isinstance(data.get("session_config"), dict):
        domain.session_config = dict(data["session_config"])
    domain._action_names = None


def parse_slot(
    name: str, spec: Any, source: str, line: int, problems: list[ProjectError] | None = None
) -> SlotDefinition:
    """One slot definition from its YAML mapping; an unknown type goes to ``problems`` when given, else raises."""
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise ProjectError(source, line, f"slots.{name}", "a mapping with at least `type`")
    slot_type = str(spec.get("type", "text"))
    if slot_type not in SLOT_TYPES:
        problem = ProjectError(
            source,
            line_of(spec, "type", line),
            f"slots.{name}.type",
            f"one of {', '.join(SLOT_TYPES)} (got {spec.get('type')!r})",
        )
        if problems is None:
            raise problem
        problems.append(problem)
    mappings = spec.get("mappings")
    if mappings is None:
        mappings = [{"type": "from_llm"}]
    if not isinstance(mappings, list) or not all(isinstance(m, dict) for m in mappings):
        raise ProjectError(source, line_of(spec, "mappings", line), f"slots.{name}.mappings", "a list of mappings")
    # Categorical values are stringified at load time; YAML null entries are dropped (§9.3).
    values = [str(v) for v in (spec.get("values") or []) if v is not None]
    raw = dict(spec) if isinstance(spec, MarkedDict) else spec
    return SlotDefinition(
        name=name,
        type=slot_type,
        initial_value=spec.get("initial_value"),
        mappings=[dict(m) for m in mappings],
        values=values,
        influence_conversation=bool(spec.get("influence_conversation", False)),
        raw=raw,
        validation=dict(spec["validation"]) if isinstance(spec.get("validation"), dict) else None,
    )
