"""The version profile: every behaviour that differs between Rasa Pro 3.10 and 3.21, in one table.

Code that behaves differently per version reads a field of :class:`VersionProfile`: the runtime (command
clean-up, flow executor), the command generator (grammar, prompt inputs, templates, LLM defaults) and the
recipe (rephraser defaults). Nothing outside this module compares version numbers.

``profile_for("3.13")`` picks the profile of a minor version, ``profile_for("3.12.6")`` that of a patch
release. Each minor profile below holds the behaviour of one patch release of its line: the reference's
convention ("3.13" means 3.13.9), and for 3.11, 3.12 and 3.14 the latest patch (3.11.20, 3.12.42, 3.14.29)
(:data:`REFERENCE_PATCH`). The runtime facts that changed *within* a line are listed once, per patch
release, in :data:`PATCH_HISTORY` (bisected from the rasa-pro wheels of every 3.10 – 3.14 patch release; of
3.15 – 3.21 the first and the latest patch agree on them);
a profile for another patch of the line replays that history up to its patch. The few generator facts that
changed within a minor version are "from patch N" gates (:data:`PatchGate`), read through properties.
The patch is kept in :attr:`VersionProfile.patch` (:attr:`VersionProfile.release`: ``"3.12.6"``).
Sources: reference/rasa-recipe.md §5/§9/§10/§13, reference/rasa-modern-generators.md §0–§4, the wheels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from types import MappingProxyType
from typing import Any, Literal

from pytest_cmdgen.errors import CmdgenInputError

DEFAULT_VERSION = "3.13"

ActiveLookup = Literal["skip_call", "skip_call_link", "any"]

CorrectionRule = Literal["visited", "visited_or_set", "set", "set_not_none"]
"""Which slots a SetSlot may *correct* (Rasa's ``clean_up_slot_command``): the slots of the collect steps the
active flow has visited (``filled_slots_for_active_flow``); those and every slot with a SlotSet event; every
slot with a SlotSet event; every such slot that also has a value (``_get_slots_eligible_for_correction``)."""

Version = tuple[int, int, int]
"""A Rasa version as ``(major, minor, patch)``."""

PatchGate = int | None
"""A fact that changed inside a minor version: it holds from this patch on (0: every patch; None: none)."""

_VERSION_RE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


class UnknownVersionError(CmdgenInputError, ValueError):
    """The version string does not name a supported Rasa Pro version (3.10 to 3.21)."""


def parse_version(rasa_version: str | Version) -> Version:
    """Turn ``"3.10.16"`` (or ``"3.13"``, ``"3.12.0rc1"``) into ``(3, 10, 16)``; a tuple passes through."""
    if isinstance(rasa_version, tuple):
        major, minor, *rest = rasa_version
        return (int(major), int(minor), int(rest[0]) if rest else 0)
    match = _VERSION_RE.match(str(rasa_version))
    if not match:
        raise UnknownVersionError(f"not a Rasa version: {rasa_version!r}")
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


# --- LLM defaults (reference §5.1/§9.1, modern §1.3/§2.2/§3.2); key order is the order written to files ---

_SINGLE_STEP_LLM_310 = _frozen(
    {"provider": "openai", "model": "gpt-4-0613", "temperature": 0.0, "max_tokens": 256, "timeout": 7}
)
_SINGLE_STEP_LLM_311 = _frozen(
    {"provider": "openai", "model": "gpt-4-0613", "temperature": 0.0, "max_completion_tokens": 256, "timeout": 7}
)
_GPT_4O_LLM = _frozen(
    {
        "provider": "openai",
        "model": "gpt-4o-2024-11-20",
        "temperature": 0.0,
        "max_completion_tokens": 256,
        "timeout": 7,
    }
)
_GPT_51_LLM = _frozen(
    {
        "provider": "openai",
        "model": "gpt-5.1-2025-11-13",
        "reasoning_effort": "none",
        "temperature": 1.0,
        "max_completion_tokens": 256,
        "timeout": 7,
    }
)
_REPHRASE_LLM_310 = _frozen(
    {"provider": "openai", "model": "gpt-4o-mini", "timeout": 7, "temperature": 0.0, "max_tokens": 4096}
)
_REPHRASE_LLM_311 = _frozen(
    {"provider": "openai", "model": "gpt-4o-mini", "timeout": 7, "temperature": 0.0, "max_completion_tokens": 4096}
)
_REPHRASE_LLM_313 = _frozen(
    {
        "provider": "openai",
        "model": "gpt-4.1-mini-2025-04-14",
        "timeout": 7,
        "temperature": 0.0,
        "max_completion_tokens": 4096,
    }
)
_REPHRASE_LLM_316 = _frozen(
    {
        "provider": "openai",
        "model": "gpt-5-mini-2025-08-07",
        "timeout": 7,
        "temperature": 1.0,
        "max_completion_tokens": 4096,
        "reasoning_effort": "minimal",
    }
)

# --- response rephraser (``nlg: {type: rephrase}``) defaults: modern §4.2 / Appendix E.3, checked against
# rasa/core/nlg/contextual_response_rephraser.py of 3.10.16, 3.11.20, 3.12.42, 3.13.9, 3.15.36, 3.16.32, 3.21.0 ---

_RESPONSE_REPHRASE_LLM_310 = _frozen(
    {"provider": "openai", "model": "gpt-3.5-turbo", "temperature": 0.3, "max_tokens": 256, "timeout": 5}
)
_RESPONSE_REPHRASE_LLM_311 = _frozen(
    {"provider": "openai", "model": "gpt-3.5-turbo", "temperature": 0.3, "max_completion_tokens": 256, "timeout": 5}
)
_RESPONSE_REPHRASE_LLM_313 = _frozen(
    {"provider": "openai", "model": "gpt-4o-2024-11-20", "temperature": 0.3, "max_completion_tokens": 256, "timeout": 5}
)
_RESPONSE_REPHRASE_LLM_316 = _frozen(
    {
        "provider": "openai",
        "model": "gpt-5.1-2025-11-13",
        "reasoning_effort": "none",
        "temperature": 1.0,
        "max_completion_tokens": 256,
        "timeout": 5,
    }
)

# --- default prompt templates (modern §2.3) ---

TEMPLATE_FAMILY_GPT_4O = "gpt_4o_2024_11_20"
TEMPLATE_FAMILY_CLAUDE_35 = "claude_3_5_sonnet_20240620"
TEMPLATE_FAMILY_GPT_51 = "gpt_5_1_2025_11_13"
TEMPLATE_FAMILY_GPT_52 = "gpt_5_2_2025_12_11"
TEMPLATE_FAMILY_CLAUDE_45 = "claude_sonnet_4_5_20250929"

_TEMPLATE_FAMILIES_312 = _frozen(
    {
        "openai/gpt-4o-2024-11-20": TEMPLATE_FAMILY_GPT_4O,
        "azure/gpt-4o-2024-11-20": TEMPLATE_FAMILY_GPT_4O,
        "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0": TEMPLATE_FAMILY_CLAUDE_35,
        "anthropic/claude-3-5-sonnet-20240620": TEMPLATE_FAMILY_CLAUDE_35,
    }
)
_TEMPLATE_FAMILIES_316 = _frozen(
    {
        **_TEMPLATE_FAMILIES_312,
        "openai/gpt-5.1-2025-11-13": TEMPLATE_FAMILY_GPT_51,
        "azure/gpt-5.1-2025-11-13": TEMPLATE_FAMILY_GPT_51,
        "openai/gpt-5.2-2025-12-11": TEMPLATE_FAMILY_GPT_52,
        "azure/gpt-5.2-2025-12-11": TEMPLATE_FAMILY_GPT_52,
        "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0": TEMPLATE_FAMILY_CLAUDE_45,
        "anthropic/claude-sonnet-4-5-20250929": TEMPLATE_FAMILY_CLAUDE_45,
        "bedrock/anthropic.claude-sonnet-4-6": TEMPLATE_FAMILY_CLAUDE_45,
        "anthropic/claude-sonnet-4-6": TEMPLATE_FAMILY_CLAUDE_45,
    }
)

V1_TEMPLATE_FILE = "command_prompt_template.jinja2"
"""Rasa's file name of the SingleStep (v1) default template."""


def modern_template_file(syntax: str, family: str) -> str:
    """Rasa's file name of a Compact (``v2``) / SearchReady (``v3``) default template of a model family."""
    return f"command_prompt_{syntax}_{family}_template.jinja2"


# Revisions of each packaged template: (first version that ships it, label of our packaged copy). The
# packaged files are named "<label>__<Rasa file name>"; the newest revision <= the version is used.
_TEMPLATE_REVISIONS: dict[str, tuple[tuple[Version, str], ...]] = {
    V1_TEMPLATE_FILE: (((3, 10, 0), "3.10"), ((3, 13, 0), "3.13"), ((3, 16, 0), "3.16")),
    **{
        modern_template_file("v2", family): (
            ((3, 12, 0), "3.12"),
            ((3, 13, 0), "3.13"),
            ((3, 15, 0), "3.15"),
            ((3, 16, 0), "3.16"),
        )
        for family in (TEMPLATE_FAMILY_GPT_4O, TEMPLATE_FAMILY_CLAUDE_35)
    },
    **{
        modern_template_file("v3", family): (((3, 13, 0), "3.13"), ((3, 15, 0), "3.15"))
        for family in (TEMPLATE_FAMILY_GPT_4O, TEMPLATE_FAMILY_CLAUDE_35)
    },
    # 3.16.0 still listed `hand over` in this one file; later patches do not
    modern_template_file("v2", TEMPLATE_FAMILY_GPT_51): (((3, 16, 0), "3.16.0"), ((3, 16, 1), "3.16")),
    **{
        modern_template_file(syntax, family): (((3, 16, 0), "3.16"),)
        for syntax, family in (
            ("v3", TEMPLATE_FAMILY_GPT_51),
            ("v2", TEMPLATE_FAMILY_GPT_52),
            ("v3", TEMPLATE_FAMILY_GPT_52),
            ("v2", TEMPLATE_FAMILY_CLAUDE_45),
            ("v3", TEMPLATE_FAMILY_CLAUDE_45),
        )
    },
}


@dataclass(frozen=True)
class VersionProfile:
    """Behaviours of one Rasa Pro minor version (see the module docstring for sources)."""

    version: str
    patterns_file: str
    """Data file under ``pytest_cmdgen/data/patterns/`` with the default patterns, responses, slots."""

    # --- command clean-up (§10.1) ---
    unknown_slot_cannot_handle: bool
    """3.11.17+, 3.12.21+, 3.13+: a SetSlot for a slot not in the domain becomes CannotHandle (before: dropped)."""
    correction_eligible: CorrectionRule
    """Which slots a SetSlot may correct (:data:`CorrectionRule`; per patch: :data:`PATCH_HISTORY`)."""
    same_value_str_both: bool
    """3.11.17+, 3.12.21+, 3.13+: "same value" is ``str(current) == str(new)`` (before: ``current == str(new)``)."""
    mapping_any_from_llm: bool
    """3.12+: any ``from_llm`` mapping accepts an LLM value (3.10/3.11: only the first mapping counts)."""
    mapping_mismatch_once_per_slot: bool
    """3.12+: no mismatch CannotHandle when a SetSlot for the same slot was already kept."""
    cancel_without_flow_cannot_handle: bool
    """3.12.38+, 3.13.15+, 3.14.3+: CancelFlow with an empty stack becomes CannotHandle."""
    startflow_active_lookup: ActiveLookup
    """Which top user frame counts as "already active" when dropping a StartFlow."""
    drop_every_cannot_handle: bool
    """3.11+: every CannotHandle is removed next to other commands (3.10: only the mapping-mismatch one)."""
    dedupe_singletons: bool
    """3.12+: keep at most one CannotHandle, RepeatBotMessages and ChitChat."""
    startflow_first_when_idle: bool
    """3.11.19+, 3.12.29+, 3.13.5+: with no active user flow, StartFlows execute before the other commands."""
    active_flow_skips_link: bool
    """3.11+: "topmost user flow" skips ``link`` frames as well as ``call`` frames."""
    cancel_active_any_frame: bool
    """3.11+: CancelFlow cancels the topmost user frame of any type (call/link included)."""
    default_flows_count_started: bool
    """3.11.16+, 3.12.18+, 3.13+: with no StartFlow in the message, default (pattern) flows collecting a slot
    count as started (``find_default_flows_collecting_slot``)."""
    restrict_nlu_setslots: bool
    """3.12+: NLU SetSlots are checked against the active flows too; built-in slots are exempt."""
    correction_needs_flow_on_stack: bool
    """3.11.19+, 3.12.29+, 3.13.5+: CorrectSlots does nothing unless each slot is collected by a user flow on
    the stack (``should_correct_slot``)."""
    startflow_resumes_interrupted: bool
    """3.14+: while ``pattern_continue_interrupted`` is active (above the top user frame) a StartFlow of the
    top user flow is kept; executing a StartFlow removes the pattern frames on top (FlowCompleted each) and
    resumes a flow already on the stack (FlowResumed, ``move_frames_to_top``) instead of skipping it
    (3.14.29 ``StartFlowCommand.run_command_on_tracker``, ``commands/utils.resume_flow``)."""
    startflow_removes_completed: bool
    """3.15+: executing a StartFlow first removes an active ``pattern_completed`` frame (and the pattern frames
    above it), FlowCompleted each (3.15.36 ``StartFlowCommand`` / ``remove_pattern_completed_frames``)."""
    slot_validation: bool
    """3.12+: a domain slot's ``validation`` (rejections, refill_utter) pushes ``pattern_validate_slot``
    after a command sets it (``command_processor.execute_commands`` / ``initialize_pattern_validate_slot``)."""
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
    default_intents: tuple[str, ...]
    """Intents every domain has (``rasa.shared.core.constants.DEFAULT_INTENTS``): a ``/intent`` payload is
    only unpacked for a domain intent (``YAMLStoryReader._intent_name_from_regex_match``)."""

    # --- flow executor (§13.4) ---
    continue_interrupted_asks: bool
    """3.14+: ``pattern_continue_interrupted`` lists every unfinished interrupted user flow
    (``interrupted_flow_names/ids/options``, ``multiple_flows_interrupted``) and asks; no FlowResumed is
    logged when it is pushed (``flow_executor.trigger_pattern_continue_interrupted``)."""
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
    """3.12+: ``corrected_slots`` maps each slot to ``{"value", "filled_by"}`` (checked in the 3.12.42–3.21.0
    wheels: ``CorrectSlotsCommand.corrected_slots_dict``)."""

    # --- command generators: availability and command grammar (§9.5, modern §2.5–§2.6) ---
    compact_generator: bool
    """3.12+: ``CompactLLMCommandGenerator`` (command syntax v2) exists."""
    search_ready_generator: bool
    """3.13+: ``SearchReadyLLMCommandGenerator`` (command syntax v3) exists."""
    v1_every_pattern_per_line: bool
    """3.12+: each v1 answer line is tested against every pattern (3.10/3.11: first match wins)."""
    v1_legacy_clarify: bool
    """3.10/3.11 v1 Clarify: no ``-``, at least one character, sort before quote removal, split on ``,``."""
    v1_cannot_handle_dsl: bool
    """3.11+: ``CannotHandle`` has a v1 textual form (v2/v3 always have one). It is never parsed."""
    empty_slot_value_is_none: bool
    """3.12+: an empty SetSlot value in an LLM answer becomes None (3.10/3.11 keep ``""``)."""
    empty_clarify_parsed: bool
    """3.15+: an answer's Clarify with no (valid) option yields ``Clarify([])`` instead of nothing."""
    force_slot_filling: bool
    """3.12+: the answer to a ``force_slot_filling`` collect step is set without asking the LLM."""

    # --- command prompt inputs (§9.3/§9.4, modern §2.2/§2.4) ---
    flow_slots_dedupe_from_patch: PatchGate
    """``flow_slots`` de-duplicated by (slot, description): every 3.12, 3.13.25+, 3.14+ (not 3.13.9, <=3.11)."""
    transcript_buttons_from_patch: PatchGate
    """Bot lines of the transcript list the buttons and skip empty messages: 3.13.25+, 3.14+."""
    date_time_in_prompt: bool
    """3.15+: ``current_datetime`` reaches the default templates (``include_date_time`` defaults to true)."""
    mocked_datetime_now: bool
    """3.15+: the ``mocked_datetime`` slot overrides "now" in the date/time block."""
    repeat_command_beta_flag: bool
    """3.12 only: the v1 template's repeat line, behind the ``RASA_PRO_BETA_REPEAT_COMMAND`` flag."""
    template_families: Mapping[str, str] = field(hash=False)
    """Default template choice: ``"<provider>/<model>"`` (or the model) → template model family."""
    default_template_family: str
    """The family of the default template when the model is unknown (gpt-4o up to 3.15, gpt-5.1 from 3.16)."""

    # --- LLM defaults (§5.1/§9.1, modern §1.3/§2.2/§3.2) ---
    single_step_llm: Mapping[str, Any] = field(hash=False)
    """The default ``llm`` config of ``SingleStepLLMCommandGenerator``."""
    modern_generator_llm: Mapping[str, Any] = field(hash=False)
    """The default ``llm`` config of ``CompactLLMCommandGenerator`` / ``SearchReadyLLMCommandGenerator``."""
    reasoning_effort_by_model: bool
    """3.16+: a ``reasoning_effort`` the user did not write is set from the model prefix table or removed."""
    embeddings_model: str
    """Flow retrieval's default (OpenAI) embedding model."""
    rephrase_llm: Mapping[str, Any] = field(hash=False)
    """The rephraser's default ``llm`` config."""

    # --- response rephraser, ``nlg: {type: rephrase}`` (modern §4.2, Appendix E.3) ---
    response_rephrase_llm: Mapping[str, Any] = field(hash=False)
    """The response rephraser's default ``llm`` config (also used for its history summary)."""
    response_rephrase_template: Literal["3.10", "3.11", "3.12"]
    """Revision of the default rephrase prompt: 3.10 has no ``Last user message:`` label, 3.10/3.11 say
    "Use simple english.", 3.12+ render ``{{language}}`` (Appendix E.3 quotes the 3.13 – 3.21 text)."""
    response_rephrase_history_options: bool
    """3.11+: ``summarize_history``, ``max_historical_turns`` and ``count_multiple_utterances_as_single_turn``
    exist and the current input is the latest user message; 3.10 always summarises (5 lines, no grouping)
    and shows the current input only when the last utterance is the user's."""
    response_rephrase_prompt_template_key: bool
    """3.13+: the custom prompt may be given as ``prompt_template`` (``prompt`` still works)."""
    response_rephrase_error_fails_action: bool
    """3.15+: a failed rephrase call is not caught (the utter action fails); up to 3.14 it falls back to the
    template text."""
    response_rephrase_blank_falls_back: bool
    """3.16+: a whitespace-only answer keeps the template text (before, only an empty answer does)."""

    # --- custom actions ---
    action_response_template_wins: bool = False
    """When a custom action answers ``response: utter_x`` plus other keys (``text``, ``image``, ``custom``, …),
    whose value wins where both have one (``RemoteAction._utter_responses``): the action's (False:
    ``draft.update(response)``) or the response template's (True: ``response.update(draft)``). Buttons are
    appended to the template's either way. Per patch: :data:`PATCH_HISTORY`; 3.14 – 3.21: the template's."""

    correction_skips_unvisited: bool = False
    """3.10, 3.11.0 – 3.11.17, 3.12.0 – 3.12.23, 3.13.0: CorrectSlots does nothing when no visited collect step
    fills a corrected slot and not every one is ``ask_before_filling`` (``create_correction_frame``)."""

    patch: int = 0
    """The patch number of the profile (``profile_for("3.13.25")`` → 25; ``"3.12"`` → its reference patch, 42)."""

    # --- patch-level facts ---
    def _from_patch(self, gate: PatchGate) -> bool:
        return gate is not None and self.patch >= gate

    @property
    def dedupe_flow_slots(self) -> bool:
        """Whether ``flow_slots`` are de-duplicated at this patch (see ``flow_slots_dedupe_from_patch``)."""
        return self._from_patch(self.flow_slots_dedupe_from_patch)

    @property
    def transcript_buttons(self) -> bool:
        """Whether bot transcript lines carry buttons at this patch (see ``transcript_buttons_from_patch``)."""
        return self._from_patch(self.transcript_buttons_from_patch)

    @property
    def release(self) -> str:
        """``"3.12.6"``: the version with its patch, which :func:`profile_for` maps back to this profile."""
        return f"{self.version}.{self.patch}"

    @property
    def version_tuple(self) -> Version:
        """``(major, minor, patch)`` of this profile."""
        major, minor = self.version.split(".")
        return (int(major), int(minor), self.patch)

    def template_revision(self, rasa_file: str) -> str | None:
        """The label of the packaged copy of Rasa's template ``rasa_file`` this version ships (None: none).

        Raises ``KeyError`` for a file that no version ships.
        """
        usable = [label for since, label in _TEMPLATE_REVISIONS[rasa_file] if since <= self.version_tuple]
        return usable[-1] if usable else None


_BASE_310 = VersionProfile(
    version="3.10",
    patterns_file="3.10.yml",
    unknown_slot_cannot_handle=False,
    correction_eligible="visited",
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
    startflow_removes_completed=False,
    slot_validation=False,
    clarify_removes_completed=False,
    clarification_ids=False,
    human_handoff_command=True,
    repeat_command=False,
    payload_list_values=False,
    default_intents=("restart", "back", "out_of_scope", "session_start", "nlu_fallback"),
    continue_interrupted_asks=False,
    continue_interrupted_after_link="linked_name",
    reset_metadata=False,
    persisted_slots=False,
    filled_by_on_slot_set=False,
    builtin_slots=(),
    correction_new_slot_values=False,
    corrected_slots_nested=False,
    compact_generator=False,
    search_ready_generator=False,
    v1_every_pattern_per_line=False,
    v1_legacy_clarify=True,
    v1_cannot_handle_dsl=False,
    empty_slot_value_is_none=False,
    empty_clarify_parsed=False,
    force_slot_filling=False,
    flow_slots_dedupe_from_patch=None,
    transcript_buttons_from_patch=None,
    date_time_in_prompt=False,
    mocked_datetime_now=False,
    repeat_command_beta_flag=False,
    template_families=_TEMPLATE_FAMILIES_312,
    default_template_family=TEMPLATE_FAMILY_GPT_4O,
    single_step_llm=_SINGLE_STEP_LLM_310,
    modern_generator_llm=_GPT_4O_LLM,
    reasoning_effort_by_model=False,
    embeddings_model="text-embedding-ada-002",
    rephrase_llm=_REPHRASE_LLM_310,
    response_rephrase_llm=_RESPONSE_REPHRASE_LLM_310,
    response_rephrase_template="3.10",
    response_rephrase_history_options=False,
    response_rephrase_prompt_template_key=False,
    response_rephrase_error_fails_action=False,
    response_rephrase_blank_falls_back=False,
    correction_skips_unvisited=True,
)

_311 = replace(
    _BASE_310,
    version="3.11",
    unknown_slot_cannot_handle=True,
    correction_eligible="set_not_none",
    same_value_str_both=True,
    startflow_active_lookup="skip_call_link",
    drop_every_cannot_handle=True,
    startflow_first_when_idle=True,
    active_flow_skips_link=True,
    cancel_active_any_frame=True,
    default_flows_count_started=True,
    correction_needs_flow_on_stack=True,
    default_intents=(
        "restart",
        "back",
        "out_of_scope",
        "session_start",
        "session_end",
        "silence_timeout",
        "nlu_fallback",
    ),
    continue_interrupted_after_link="top",
    v1_cannot_handle_dsl=True,
    single_step_llm=_SINGLE_STEP_LLM_311,
    rephrase_llm=_REPHRASE_LLM_311,
    response_rephrase_llm=_RESPONSE_REPHRASE_LLM_311,
    response_rephrase_template="3.11",
    response_rephrase_history_options=True,
    correction_skips_unvisited=False,
)
# "3.12" means 3.12.42, the latest patch (REFERENCE_PATCH); earlier patches: PATCH_HISTORY.
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
    slot_validation=True,
    repeat_command=True,
    payload_list_values=True,
    continue_interrupted_after_link="below_link",
    reset_metadata=True,
    persisted_slots=True,
    filled_by_on_slot_set=True,
    correction_new_slot_values=True,
    corrected_slots_nested=True,
    compact_generator=True,
    v1_every_pattern_per_line=True,
    v1_legacy_clarify=False,
    empty_slot_value_is_none=True,
    force_slot_filling=True,
    flow_slots_dedupe_from_patch=0,
    repeat_command_beta_flag=True,
    response_rephrase_template="3.12",
    action_response_template_wins=True,
)
# "3.13" means 3.13.9 (the reference's convention): no cancel→CannotHandle, no list payloads yet.
_313 = replace(
    _312,
    version="3.13",
    patterns_file="3.13.yml",
    cancel_without_flow_cannot_handle=False,
    payload_list_values=False,
    search_ready_generator=True,
    flow_slots_dedupe_from_patch=25,
    transcript_buttons_from_patch=25,
    repeat_command_beta_flag=False,
    embeddings_model="text-embedding-3-large",
    action_response_template_wins=True,
    rephrase_llm=_REPHRASE_LLM_313,
    response_rephrase_llm=_RESPONSE_REPHRASE_LLM_313,
    response_rephrase_prompt_template_key=True,
)
_314 = replace(
    _313,
    version="3.14",
    patterns_file="3.14.yml",
    cancel_without_flow_cannot_handle=True,
    payload_list_values=True,
    startflow_resumes_interrupted=True,
    continue_interrupted_asks=True,
    flow_slots_dedupe_from_patch=0,
    transcript_buttons_from_patch=0,
)
_315 = replace(
    _314,
    version="3.15",
    patterns_file="3.15.yml",
    clarify_removes_completed=True,
    startflow_removes_completed=True,
    clarification_ids=True,
    builtin_slots=(("mocked_datetime", "text"),),
    empty_clarify_parsed=True,
    date_time_in_prompt=True,
    mocked_datetime_now=True,
    response_rephrase_error_fails_action=True,
)
_316 = replace(
    _315,
    version="3.16",
    patterns_file="3.16.yml",
    human_handoff_command=False,
    template_families=_TEMPLATE_FAMILIES_316,
    default_template_family=TEMPLATE_FAMILY_GPT_51,
    single_step_llm=_GPT_51_LLM,
    modern_generator_llm=_GPT_51_LLM,
    reasoning_effort_by_model=True,
    rephrase_llm=_REPHRASE_LLM_316,
    response_rephrase_llm=_RESPONSE_REPHRASE_LLM_316,
    response_rephrase_blank_falls_back=True,
)
_321 = replace(_316, version="3.21", patterns_file="3.21.yml")

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


REFERENCE_PATCH: Mapping[str, int] = MappingProxyType({"3.11": 20, "3.12": 42, "3.13": 9, "3.14": 29})
"""The patch release a bare ``X.Y`` stands for, in the lines whose patch releases differ here (the one its
profile above describes): the latest for 3.11, 3.12 and 3.14, the reference's 3.13.9. Other lines: ``X.Y.0``."""

LATEST_PATCH: Mapping[str, int] = MappingProxyType(
    {"3.10": 28, "3.11": 20, "3.12": 42, "3.13": 25, "3.14": 29, "3.15": 36, "3.16": 32}
    | {"3.17": 12, "3.18": 9, "3.19": 9, "3.20": 5, "3.21": 0}
)
"""The newest patch release of each line on PyPI when this table was written (for messages only)."""

PATCH_HISTORY: Mapping[str, tuple[tuple[int, Mapping[str, Any]], ...]] = MappingProxyType(
    {
        # Bisected from rasa/dialogue_understanding/processor/command_processor.py,
        # .../commands/correct_slots_command.py, .../commands/set_slot_command.py and
        # rasa/core/actions/action.py of every rasa-pro wheel of the line. The first entry gives the values
        # at X.Y.0 of every field a later entry changes; each later entry, what changed in that patch.
        "3.11": (
            (
                0,
                {
                    "correction_eligible": "visited",
                    "correction_skips_unvisited": True,
                    "correction_needs_flow_on_stack": False,
                    "same_value_str_both": False,
                    "unknown_slot_cannot_handle": False,
                    "default_flows_count_started": False,
                    "startflow_first_when_idle": False,
                },
            ),
            (16, {"default_flows_count_started": True}),
            (17, {"same_value_str_both": True, "unknown_slot_cannot_handle": True}),
            (18, {"correction_eligible": "visited_or_set", "correction_skips_unvisited": False}),
            (
                19,
                {
                    "correction_eligible": "set_not_none",
                    "correction_needs_flow_on_stack": True,
                    "startflow_first_when_idle": True,
                },
            ),
        ),
        "3.12": (
            (
                0,
                {
                    "correction_eligible": "visited",
                    "correction_skips_unvisited": True,
                    "correction_needs_flow_on_stack": False,
                    "same_value_str_both": False,
                    "unknown_slot_cannot_handle": False,
                    "default_flows_count_started": False,
                    "startflow_first_when_idle": False,
                    "cancel_without_flow_cannot_handle": False,
                    "action_response_template_wins": False,
                },
            ),
            (18, {"default_flows_count_started": True}),
            (21, {"same_value_str_both": True, "unknown_slot_cannot_handle": True}),
            (24, {"correction_eligible": "visited_or_set", "correction_skips_unvisited": False}),
            (26, {"action_response_template_wins": True}),
            (
                29,
                {
                    "correction_eligible": "set",
                    "correction_needs_flow_on_stack": True,
                    "startflow_first_when_idle": True,
                },
            ),
            (30, {"correction_eligible": "set_not_none"}),
            (38, {"cancel_without_flow_cannot_handle": True}),
        ),
        "3.13": (
            (
                0,
                {
                    "correction_eligible": "visited",
                    "correction_skips_unvisited": True,
                    "correction_needs_flow_on_stack": False,
                    "startflow_first_when_idle": False,
                    "cancel_without_flow_cannot_handle": False,
                    "action_response_template_wins": False,
                },
            ),
            (1, {"correction_eligible": "visited_or_set", "correction_skips_unvisited": False}),
            (3, {"action_response_template_wins": True}),
            (
                5,
                {
                    "correction_eligible": "set",
                    "correction_needs_flow_on_stack": True,
                    "startflow_first_when_idle": True,
                },
            ),
            (7, {"correction_eligible": "set_not_none"}),
            (11, {"action_response_template_wins": False}),
            (15, {"cancel_without_flow_cannot_handle": True}),
        ),
        "3.14": ((0, {"cancel_without_flow_cannot_handle": False}), (3, {"cancel_without_flow_cannot_handle": True})),
    }
)
"""The runtime facts that changed within a minor line, per patch release (see the module docstring)."""


def _at_patch(profile: VersionProfile, patch: int) -> VersionProfile:
    """``profile`` moved to ``patch``: its line's :data:`PATCH_HISTORY` replayed up to that patch."""
    changes: dict[str, Any] = {}
    for since, values in PATCH_HISTORY.get(profile.version, ()):
        if since <= patch:
            changes.update(values)
    return replace(profile, patch=patch, **changes) if changes or patch != profile.patch else profile


def has_patch(version: str | Version | None) -> bool:
    """Whether ``version`` names a patch release (``"3.12.6"``, ``(3, 12, 6)``), not just a minor version."""
    if version is None:
        return False
    if isinstance(version, tuple):
        return len(version) > 2
    match = _VERSION_RE.match(str(version))
    return bool(match and match.group(3) is not None)


def version_label(profile: VersionProfile, requested: str | Version | None) -> str:
    """How the session header names the version reproduced: ``3.12.6`` when a patch was asked for; for a bare
    ``X.Y`` of a line whose patch releases differ here, the patch it stands for (``3.12 = 3.12.42, its latest
    patch``, ``3.13 = 3.13.9``); otherwise the minor version (``3.10``)."""
    if has_patch(requested):
        return profile.release
    if profile.version not in REFERENCE_PATCH:
        return profile.version
    latest = ", its latest patch" if profile.patch == LATEST_PATCH.get(profile.version) else ""
    return f"{profile.version} = {profile.release}{latest}"


@cache
def _profile(key: str, patch: int | None) -> VersionProfile:
    base = PROFILES[key]
    return _at_patch(base, REFERENCE_PATCH.get(key, 0) if patch is None else patch)


def profile_for(version: str | Version | None = None) -> VersionProfile:
    """The profile of ``version`` ("3.13", "3.12.6", ``(3, 12, 6)``); ``None`` gives the default (3.13).

    A bare ``X.Y`` stands for its :data:`REFERENCE_PATCH` (``X.Y.0`` in lines not listed there); a patch of
    a line with a :data:`PATCH_HISTORY` gets that history replayed up to it.
    """
    try:
        major, minor, patch = parse_version(version or DEFAULT_VERSION)
    except UnknownVersionError:
        major, minor, patch = -1, -1, 0
    key = f"{major}.{minor}"
    if key not in PROFILES:
        known = ", ".join(PROFILES)
        raise UnknownVersionError(f"unsupported Rasa Pro version {version!r}; expected one of {known}")
    return _profile(key, patch if has_patch(version) else None)
