"""The version profile: every runtime behaviour that differs between Rasa Pro 3.10 and 3.21, in one table.

Code that behaves differently per version reads a field of :class:`VersionProfile`; nothing else in the
runtime compares version numbers. ``profile_for("3.13")`` picks the profile of a minor version (patch
numbers are accepted and ignored). Sources: reference/rasa-recipe.md §10/§13 and
reference/rasa-modern-generators.md §0/§4.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

DEFAULT_VERSION = "3.13"

ActiveLookup = Literal["skip_call", "skip_call_link", "any"]


@dataclass(frozen=True)
class VersionProfile:
    """Behaviours of one Rasa Pro minor version (see the module docstring for sources)."""

    version: str
    patterns_file: str
    """Data file under ``pytest_cmdgen/data/patterns/`` with the default patterns, responses, slots."""

    # --- command clean-up (§10.1) ---
    unknown_slot_cannot_handle: bool
    """3.11+: a SetSlot for a slot not in the domain becomes CannotHandle (3.10: dropped silently)."""
    correction_by_slot_history: bool
    """3.11+: any slot with a SlotSet event and a non-null value is correctable (3.10: collected in flow)."""
    same_value_str_both: bool
    """3.11+: "same value" is ``str(current) == str(new)`` (3.10: ``current == str(new)``)."""
    mapping_any_from_llm: bool
    """3.12+: any ``from_llm`` mapping accepts an LLM value (3.10/3.11: only the first mapping counts)."""
    mapping_mismatch_once_per_slot: bool
    """3.12+: no mismatch CannotHandle when a SetSlot for the same slot was already kept."""
    cancel_without_flow_cannot_handle: bool
    """3.12.42, 3.13.25, 3.14+: CancelFlow with an empty stack becomes CannotHandle."""
    startflow_active_lookup: ActiveLookup
    """Which top user frame counts as "already active" when dropping a StartFlow."""
    drop_every_cannot_handle: bool
    """3.11+: every CannotHandle is removed next to other commands (3.10: only the mapping-mismatch one)."""
    dedupe_singletons: bool
    """3.12+: keep at most one CannotHandle, RepeatBotMessages and ChitChat."""
    startflow_first_when_idle: bool
    """3.11+: with no active user flow, StartFlows execute before the other commands."""
    active_flow_skips_link: bool
    """3.11+: "topmost user flow" skips ``link`` frames as well as ``call`` frames."""
    cancel_active_any_frame: bool
    """3.11+: CancelFlow cancels the topmost user frame of any type (call/link included)."""
    default_flows_count_started: bool
    """3.11+: with no StartFlow in the message, default (pattern) flows collecting a slot count as started."""
    restrict_nlu_setslots: bool
    """3.12+: NLU SetSlots are checked against the active flows too; built-in slots are exempt."""
    correction_needs_flow_on_stack: bool
    """3.11+: CorrectSlots does nothing unless each slot is collected by a user flow on the stack."""
    startflow_resumes_interrupted: bool
    """3.14+: StartFlow of the flow on top is kept while ``pattern_continue_interrupted`` is active."""
    clarify_removes_completed: bool
    """3.15+: a lingering ``pattern_completed`` frame is removed before pushing clarification."""
    clarification_ids: bool
    """3.15+: the clarification frame carries ``clarification_ids`` (the option flow ids; its FlowStarted
    metadata is what ``flow_started``/``pattern_clarification_contains`` ``{operator, flow_ids}`` compare) and
    a Clarify without options still pushes the pattern (``utter_clarification_no_options_rasa``)."""
    human_handoff_command: bool
    """Up to 3.15: the HumanHandoff command exists and pushes ``pattern_human_handoff``."""
    repeat_command: bool
    """3.12+: RepeatBotMessages exists."""
    payload_list_values: bool
    """3.12.42/3.13.25+: ``/SetSlots`` values may be bracketed lists."""

    # --- flow executor (§13.4) ---
    continue_interrupted_after_link: Literal["linked_name", "top", "below_link"]
    """Where/what the continue-interrupted pattern is after an interrupting flow links another one."""
    reset_metadata: bool
    """3.12+: slot-reset SlotSets carry ``{"reset": true}`` metadata."""
    persisted_slots: bool
    """3.12+: the flow key ``persisted_slots`` and ``run_pattern_completed`` are honoured."""
    filled_by_on_slot_set: bool
    """3.12+: SlotSet events from commands record ``filled_by``."""
    builtin_slots: tuple[tuple[str, str], ...]
    """Extra built-in slots added to every domain, as (name, type)."""
    correction_new_slot_values: bool
    """3.12+: the correction frame also carries ``new_slot_values`` (its default response uses them)."""
    corrected_slots_nested: bool
    """3.21: ``corrected_slots`` maps each slot to ``{"value": ...}`` (the response reads ``val.value``)."""


_BASE_310 = VersionProfile(
    version="3.10",
    patterns_file="3.10.yml",
    unknown_slot_cannot_handle=False,
    correction_by_slot_history=False,
    same_value_str_both=False,
    mapping_any_from_llm=False,
    mapping_mismatch_once_per_slot=False,
    cancel_without_flow_cannot_handle=False,
    startflow_active_lookup="skip_call",
    drop_every_cannot_handle=False,
    dedupe_singletons=False,
    startflow_first_when_idle=False,
    active_flow_skips_link=False,
    cancel_active_any_frame=False,
    default_flows_count_started=False,
    restrict_nlu_setslots=False,
    correction_needs_flow_on_stack=False,
    startflow_resumes_interrupted=False,
    clarify_removes_completed=False,
    clarification_ids=False,
    human_handoff_command=True,
    repeat_command=False,
    payload_list_values=False,
    continue_interrupted_after_link="linked_name",
    reset_metadata=False,
    persisted_slots=False,
    filled_by_on_slot_set=False,
    builtin_slots=(),
    correction_new_slot_values=False,
    corrected_slots_nested=False,
)

_311 = replace(
    _BASE_310,
    version="3.11",
    unknown_slot_cannot_handle=True,
    correction_by_slot_history=True,
    same_value_str_both=True,
    startflow_active_lookup="skip_call_link",
    drop_every_cannot_handle=True,
    startflow_first_when_idle=True,
    active_flow_skips_link=True,
    cancel_active_any_frame=True,
    default_flows_count_started=True,
    correction_needs_flow_on_stack=True,
    continue_interrupted_after_link="top",
)
_312 = replace(
    _311,
    version="3.12",
    patterns_file="3.12.yml",
    mapping_any_from_llm=True,
    mapping_mismatch_once_per_slot=True,
    cancel_without_flow_cannot_handle=True,
    startflow_active_lookup="any",
    dedupe_singletons=True,
    restrict_nlu_setslots=True,
    repeat_command=True,
    payload_list_values=True,
    continue_interrupted_after_link="below_link",
    reset_metadata=True,
    persisted_slots=True,
    filled_by_on_slot_set=True,
    correction_new_slot_values=True,
)
# "3.13" means 3.13.9 (the reference's convention): no cancel→CannotHandle, no list payloads yet.
_313 = replace(
    _312,
    version="3.13",
    patterns_file="3.13.yml",
    cancel_without_flow_cannot_handle=False,
    payload_list_values=False,
)
_314 = replace(
    _313,
    version="3.14",
    patterns_file="3.14.yml",
    cancel_without_flow_cannot_handle=True,
    payload_list_values=True,
    startflow_resumes_interrupted=True,
)
_315 = replace(
    _314,
    version="3.15",
    patterns_file="3.15.yml",
    clarify_removes_completed=True,
    clarification_ids=True,
    builtin_slots=(("mocked_datetime", "text"),),
)
_316 = replace(_315, version="3.16", patterns_file="3.16.yml", human_handoff_command=False)
_321 = replace(_316, version="3.21", patterns_file="3.21.yml", corrected_slots_nested=True)

PROFILES: dict[str, VersionProfile] = {
    "3.10": _BASE_310,
    "3.11": _311,
    "3.12": _312,
    "3.13": _313,
    "3.14": _314,
    "3.15": _315,
    **{f"3.{minor}": replace(_316, version=f"3.{minor}") for minor in range(16, 21)},
    "3.21": _321,
}


class UnknownVersionError(ValueError):
    """The version string does not name a supported Rasa Pro version (3.10 to 3.21)."""


def profile_for(version: str | None = None) -> VersionProfile:
    """The profile of ``version`` ("3.13", "3.13.9", ...); ``None`` gives the default (3.13)."""
    text = (version or DEFAULT_VERSION).strip()
    parts = text.split(".")
    key = ".".join(parts[:2])
    if key not in PROFILES:
        known = ", ".join(PROFILES)
        raise UnknownVersionError(f"unsupported Rasa Pro version {version!r}; expected one of {known}")
    return PROFILES[key]
