"""From the runtime's dialogue state to the command prompt's template inputs (:class:`PromptState`).

Implements reference rasa-recipe.md §9.3 (inputs), §9.4 (transcript), §9.8 (flow retrieval) and
rasa-modern-generators.md §2.2/§2.4 (3.12+ deltas: ``flow_slots`` de-duplication, the date/time block,
``mocked_datetime``). The runtime hands a :class:`~pytest_cmdgen.runtime.interfaces.CommandRequest`;
:func:`build_prompt_state` computes every template variable from it:

* the prompt's flow list — set (a) of §9.3 (``request.available_flows``), optionally filtered and
  ordered by flow retrieval (:class:`FlowRetriever`), the guard re-check of §9.3 (c), user flows only;
* each flow's extractable collect steps, with allowed values of bool / categorical slots;
* ``current_flow`` / ``current_slot`` (+ description, type, allowed values) and ``flow_slots``;
* the readable transcript (last 20 lines) plus the latest message;
* ``current_datetime`` (``--cmdgen-now``, else the ``mocked_datetime`` slot from 3.15, else "now" in the
  configured timezone) and whether it reaches the template.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from pytest_cmdgen.generator.prompt import (
    FlowSlotState,
    GeneratorName,
    PromptFlow,
    PromptSlot,
    PromptState,
    TranscriptTurn,
    current_conversation,
    flow_retrieval_document,
    format_allowed_values,
    format_slot_value,
    readable_transcript,
    sanitize_message,
)
from pytest_cmdgen.generator.retrieval import effective_num_flows, order_prompt_flows
from pytest_cmdgen.llm.purpose import Purpose
from pytest_cmdgen.runtime import predicates
from pytest_cmdgen.runtime.events import BotUttered, FlowStarted, UserUttered
from pytest_cmdgen.runtime.stack import top_flow_frame
from pytest_cmdgen.versions import Version, VersionProfile, parse_version, profile_for

if TYPE_CHECKING:
    from pytest_cmdgen.llm.config import LLMConfig
    from pytest_cmdgen.llm.service import LLMService
    from pytest_cmdgen.runtime.flows import Flow, FlowStep
    from pytest_cmdgen.runtime.interfaces import CommandRequest
    from pytest_cmdgen.runtime.project import Project
    from pytest_cmdgen.runtime.tracker import Tracker

log = logging.getLogger(__name__)

MOCKED_DATETIME_SLOT = "mocked_datetime"
"""E2E fixture slot (3.15+) whose ISO value replaces "now" in the date/time block."""

RECENTLY_STARTED_TURNS = 20
"""Flow retrieval keeps flows started within this many user/bot turns (reference §9.8)."""

_REPEAT_BETA_ENV = "RASA_PRO_BETA_REPEAT_COMMAND"


# --------------------------------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class RetrievalSettings:
    """``flow_retrieval`` of the generator config (defaults of reference §9.1)."""

    active: bool = True
    num_flows: int = 20
    turns_to_embed: int = 1
    should_embed_slots: bool = True

    @classmethod
    def from_config(cls, block: Mapping[str, Any] | None) -> RetrievalSettings:
        """Parse a ``flow_retrieval`` mapping; ``num_flows < 0`` → 20, ``turns_to_embed < 1`` → 1 like Rasa."""
        block = dict(block or {})
        turns = int(block.get("turns_to_embed", 1) or 1)
        return cls(
            active=bool(block.get("active", True)),
            num_flows=effective_num_flows(int(block["num_flows"]) if block.get("num_flows") is not None else None),
            turns_to_embed=max(1, turns),
            should_embed_slots=bool(block.get("should_embed_slots", True)),
        )


@dataclass(frozen=True)
class StateSettings:
    """What the state builder needs from the generator's config and the Rasa version."""

    generator: GeneratorName
    rasa_version: str
    retrieval: RetrievalSettings = RetrievalSettings(active=False)
    include_date_time: bool | None = None
    """The ``include_date_time`` key as written (``None``: not written; Rasa 3.15+ defaults to true)."""
    timezone: str = "UTC"
    custom_template: bool = False
    """A ``prompt_template`` is configured: ``current_datetime`` is offered to it in every version."""

    @property
    def version(self) -> Version:
        """The Rasa version as a tuple."""
        return parse_version(self.rasa_version)

    @property
    def profile(self) -> VersionProfile:
        """The version profile of ``rasa_version`` (patch number included)."""
        return profile_for(self.rasa_version)

    @property
    def date_time_enabled(self) -> bool:
        """Whether ``current_datetime`` reaches the template.

        Rasa 3.15+: ``include_date_time`` (default true). Custom templates: always, unless switched off
        explicitly (our extension, see DESIGN.md).
        """
        if self.include_date_time is False:
            return False
        return self.custom_template or self.profile.date_time_in_prompt

    @property
    def dedupe_flow_slots(self) -> bool:
        """``flow_slots`` de-duplicated by (slot, description): 3.12, 3.13.25+, 3.14+ (not 3.13.9, ≤3.11)."""
        return self.profile.dedupe_flow_slots

    @property
    def uses_mocked_datetime(self) -> bool:
        """The ``mocked_datetime`` slot overrides "now" (3.15+)."""
        return self.profile.mocked_datetime_now

    @property
    def repeat_command_enabled(self) -> bool:
        """3.12 only: the v1 template's repeat line behind the ``RASA_PRO_BETA_REPEAT_COMMAND`` flag."""
        return self.profile.repeat_command_beta_flag and os.environ.get(_REPEAT_BETA_ENV, "").lower() == "true"

    def tz(self) -> tzinfo:
        """The configured timezone (``UTC`` by default); raises ``ValueError`` for an unknown name."""
        return timezone_named(self.timezone)


def timezone_named(name: str | None) -> tzinfo:
    """An IANA timezone by name; ``UTC`` (or empty) is :data:`datetime.timezone.utc` (``tzname()`` = ``UTC``)."""
    if not name or name.upper() == "UTC":
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r} in the command generator config") from exc


# --------------------------------------------------------------------------------------------------
# transcript and history


def transcript_turns(tracker: Tracker) -> list[TranscriptTurn]:
    """The tracker's utterances since the last session start / restart, as transcript turns (§9.4)."""
    turns: list[TranscriptTurn] = []
    for event in tracker.applied_events():
        if isinstance(event, UserUttered):
            error_type = None
            for command in event.commands:
                if command.get("command") == "error":
                    error_type = str(command.get("error_type") or "")
                    break
            turns.append(TranscriptTurn("user", event.text, error_type=error_type))
        elif isinstance(event, BotUttered):
            buttons = tuple(str(b.get("title") or "") for b in event.buttons or () if isinstance(b, Mapping))
            turns.append(TranscriptTurn("bot", event.text, buttons=buttons))
    return turns


def recently_started_flows(tracker: Tracker, max_turns: int = RECENTLY_STARTED_TURNS) -> list[str]:
    """Ids of flows with a ``FlowStarted`` event in the last ``max_turns`` user/bot turns, most recent first."""
    result: list[str] = []
    turns = 0
    for event in reversed(tracker.events):
        if isinstance(event, (UserUttered, BotUttered)):
            turns += 1
            if turns > max_turns:
                break
        elif isinstance(event, FlowStarted) and event.flow_id not in result:
            result.append(event.flow_id)
    return result


# --------------------------------------------------------------------------------------------------
# flows and slots


def is_link_only(flow: Flow) -> bool:
    """A flow whose guard is statically false (``if: False``): it can only be reached by a link or call."""
    guard = flow.guard
    if isinstance(guard, bool):
        return not guard
    return isinstance(guard, str) and guard.strip().lower() == "false"


def _guard_passes(flow: Flow, tracker: Tracker, context: dict[str, Any]) -> bool:
    if flow.guard is None or flow.id == context.get("flow_id"):
        return True
    return predicates.evaluate(flow.guard, context, tracker.slots)


def prompt_slots(flow_id: str, project: Project, tracker: Tracker) -> tuple[PromptSlot, ...]:
    """Extractable collect steps of a flow (calls resolved, not de-duplicated), §9.3."""
    slots: list[PromptSlot] = []
    for step in project.flows.collect_steps_resolved(flow_id):
        name = step.collect or ""
        definition = project.domain.slots.get(name)
        if definition is None:
            continue
        if step.ask_before_filling and not tracker.has_been_set(name):
            continue
        slots.append(PromptSlot(name, step.description, format_allowed_values(definition.type, definition.values)))
    return tuple(slots)


def asked_collect_step(tracker: Tracker, project: Project) -> FlowStep | None:
    """The collect step being asked: the current step of the topmost flow frame (called flows included)
    when it is a ``collect`` step naming a slot, else None."""
    frame = top_flow_frame(tracker.stack, ignore_collect=True, ignore_call=False)
    if frame is None:
        return None
    flow = project.flows.get(frame.flow_id)
    step = flow.step(frame.step_id) if flow is not None else None
    if step is not None and step.kind == "collect" and step.collect:
        return step
    return None


def document_slots(flow_id: str, project: Project) -> tuple[PromptSlot, ...]:
    """Every collect step of a flow (calls resolved) for its retrieval document (no tracker involved)."""
    slots: list[PromptSlot] = []
    for step in project.flows.collect_steps_resolved(flow_id):
        definition = project.domain.slots.get(step.collect or "")
        allowed = format_allowed_values(definition.type, definition.values) if definition else None
        slots.append(PromptSlot(step.collect or "", step.description, allowed))
    return tuple(slots)


class FlowRetriever:
    """Flow retrieval (§9.8): embeds every retrievable flow once, then ranks them for each query.

    Embeddings go through :meth:`LLMService.embed` (purpose ``"embeddings"``, so they are cached and
    metered like every other call). Scores are inner products, as in Rasa's FAISS store.
    """

    def __init__(
        self,
        project: Project,
        service: LLMService,
        config: LLMConfig,
        settings: RetrievalSettings,
    ) -> None:
        self.project = project
        self.service = service
        self.config = config
        self.settings = settings
        self._flow_ids: list[str] | None = None
        self._vectors: list[list[float]] | None = None

    def documents(self) -> list[tuple[str, str]]:
        """``(flow id, document text)`` of every user flow that is not link-only, in flow order."""
        docs = []
        for flow in self.project.flows.user_flows:
            if is_link_only(flow):
                continue
            text = flow_retrieval_document(
                flow.readable_name,
                flow.description,
                document_slots(flow.id, self.project),
                embed_slots=self.settings.should_embed_slots,
            )
            docs.append((flow.id, text))
        return docs

    def _index(self) -> tuple[list[str], list[list[float]]]:
        if self._flow_ids is None or self._vectors is None:
            docs = self.documents()
            vectors = self.service.embed(self.config, [text for _, text in docs], purpose=Purpose.EMBEDDINGS).vectors
            self._flow_ids, self._vectors = [flow_id for flow_id, _ in docs], vectors
        return self._flow_ids, self._vectors

    def query_text(self, request: CommandRequest) -> str:
        """The text embedded for the search: the message, or the last turns plus it (``turns_to_embed``)."""
        if self.settings.turns_to_embed <= 1:
            return request.text
        history = readable_transcript(
            transcript_turns(request.tracker), request.profile.release, self.settings.turns_to_embed
        )
        return f"{history}\nUSER: {sanitize_message(request.text)}"

    def similar(self, request: CommandRequest) -> list[tuple[str, float]]:
        """``(flow id, score)`` for every indexed flow (unsorted; the caller keeps the top ``num_flows``)."""
        first = None
        if self._vectors is None and self.documents():  # a first query goes out with the index, not after it
            first = self.service.submit_embed(self.config, [self.query_text(request)], purpose=Purpose.EMBEDDINGS)
        flow_ids, vectors = self._index()
        if not flow_ids:
            return []
        if first is not None:
            query = first.result().vectors[0]
        else:
            query = self.service.embed(self.config, [self.query_text(request)], purpose=Purpose.EMBEDDINGS).vectors[0]
        return [(flow_id, _dot(query, vector)) for flow_id, vector in zip(flow_ids, vectors, strict=True)]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=False))


def prompt_flow_list(
    request: CommandRequest, settings: StateSettings, retriever: FlowRetriever | None = None
) -> list[Flow]:
    """The flows listed in the prompt, in prompt order (§9.3 (a)–(d), §9.8)."""
    tracker = request.tracker
    available = list(request.available_flows)
    if settings.retrieval.active and retriever is not None:
        candidates = [f for f in available if not is_link_only(f)]
        by_id = {f.id: f for f in candidates}
        ordered = order_prompt_flows(
            list(by_id),
            always_include=[f.id for f in candidates if f.always_include_in_prompt],
            recently_started=recently_started_flows(tracker),
            similar=retriever.similar(request),
            num_flows=settings.retrieval.num_flows,
        )
        flows = [by_id[flow_id] for flow_id in ordered]
    else:
        flows = available
    context = tracker.context()
    return [f for f in flows if not f.is_pattern and _guard_passes(f, tracker, context)]


# --------------------------------------------------------------------------------------------------
# date and time


def prompt_datetime(tracker: Tracker, settings: StateSettings, now: datetime | None = None) -> datetime:
    """``current_datetime``: ``now`` (``--cmdgen-now``) if given, else the ``mocked_datetime`` slot (3.15+),
    else the wall clock — always timezone-aware, in the configured timezone.

    A naive ``now`` is UTC; a naive ``mocked_datetime`` is taken in the configured timezone.
    """
    tz = settings.tz()
    if now is not None:
        aware = now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)
        return aware.astimezone(tz)
    if settings.uses_mocked_datetime:
        mocked = tracker.get_slot(MOCKED_DATETIME_SLOT)
        if mocked:
            try:
                value = datetime.fromisoformat(str(mocked).strip().replace("Z", "+00:00"))
            except ValueError:
                log.warning("slot %s=%r is not an ISO timestamp; using the clock", MOCKED_DATETIME_SLOT, mocked)
            else:
                return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    return datetime.now(tz)


# --------------------------------------------------------------------------------------------------
# the whole state


def build_prompt_state(
    request: CommandRequest,
    settings: StateSettings,
    *,
    retriever: FlowRetriever | None = None,
    now: datetime | None = None,
) -> PromptState:
    """Every template input for ``request`` (see the module docstring)."""
    tracker = request.tracker
    project = request.project
    domain = project.domain
    flows = [
        PromptFlow(flow.id, flow.description, prompt_slots(flow.id, project, tracker))
        for flow in prompt_flow_list(request, settings, retriever)
    ]

    current_flow: str | None = None
    current_slot: str | None = None
    current_slot_description: str | None = None
    current_slot_type: str | None = None
    current_slot_allowed_values: str | None = None
    flow_frame = top_flow_frame(tracker.stack, ignore_collect=True, ignore_call=True)
    if flow_frame is not None:
        current_flow = flow_frame.flow_id
    asked_step = asked_collect_step(tracker, project)
    if asked_step is not None and asked_step.collect:
        current_slot = asked_step.collect
        current_slot_description = asked_step.description
        definition = domain.slots.get(asked_step.collect)
        if definition is not None:
            current_slot_type = definition.type
            current_slot_allowed_values = format_allowed_values(definition.type, definition.values)

    flow_slots: list[FlowSlotState] = []
    if current_flow is not None:
        seen: set[tuple[str, str | None]] = set()
        for step in project.flows.collect_steps_resolved(current_flow):
            name = step.collect or ""
            definition = domain.slots.get(name)
            if definition is None:
                continue
            asked = name == current_slot
            if step.ask_before_filling and not tracker.has_been_set(name) and not asked:
                continue
            if settings.dedupe_flow_slots:
                key = (name, step.description)
                if key in seen:
                    continue
                seen.add(key)
            flow_slots.append(
                FlowSlotState(
                    name=name,
                    value=format_slot_value(tracker.get_slot(name)),
                    type=definition.type,
                    description=step.description,
                    allowed_values=format_allowed_values(definition.type, definition.values),
                )
            )

    include_date_time = settings.date_time_enabled
    return PromptState(
        available_flows=flows,
        current_conversation=current_conversation(transcript_turns(tracker), request.text, settings.rasa_version),
        user_message=sanitize_message(request.text),
        current_flow=current_flow,
        current_slot=current_slot,
        current_slot_description=current_slot_description,
        current_slot_type=current_slot_type,
        current_slot_allowed_values=current_slot_allowed_values,
        flow_slots=flow_slots,
        current_datetime=prompt_datetime(tracker, settings, now) if include_date_time else None,
        include_date_time=include_date_time,
        is_repeat_command_enabled=settings.repeat_command_enabled,
    )


__all__ = [
    "MOCKED_DATETIME_SLOT",
    "FlowRetriever",
    "RetrievalSettings",
    "StateSettings",
    "asked_collect_step",
    "build_prompt_state",
    "document_slots",
    "is_link_only",
    "prompt_datetime",
    "prompt_flow_list",
    "prompt_slots",
    "recently_started_flows",
    "timezone_named",
    "transcript_turns",
]
