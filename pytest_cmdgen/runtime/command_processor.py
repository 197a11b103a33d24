"""Command clean-up and execution (§10): what each command does to the stack and the slots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_cmdgen.runtime.commands import (
    CancelFlow,
    CannotHandle,
    ChitChat,
    Clarify,
    Command,
    CorrectedSlot,
    CorrectSlots,
    Error,
    HandleCodeChange,
    HumanHandoff,
    Knowledge,
    RepeatBotMessages,
    Restart,
    SessionStart,
    SetSlot,
    SkipQuestion,
    StartFlow,
)
from pytest_cmdgen.runtime.context import RuntimeContext
from pytest_cmdgen.runtime.default_actions import CONTINUE_INTERRUPTED_PATTERN
from pytest_cmdgen.runtime.events import (
    DialogueStackUpdated,
    Event,
    FlowCancelled,
    FlowCompleted,
    FlowInterrupted,
    FlowResumed,
    SlotSet,
)
from pytest_cmdgen.runtime.executor import flow_frame_for, pattern_frame
from pytest_cmdgen.runtime.flows import FlowStep
from pytest_cmdgen.runtime.slots import NLU_MAPPING_TYPES, SlotDefinition
from pytest_cmdgen.runtime.stack import (
    COLLECT_PATTERN,
    CORRECTION_PATTERN,
    Frame,
    dump,
    frames_of_flow,
    make_patch,
    move_frames_to_top,
    top_flow_frame,
    top_user_frame,
)

ROUTING_SLOT = "route_session_to_calm"
REASON_UNKNOWN_SLOT = "The slot predicted by the LLM is not defined in the domain."
REASON_MAPPING = (
    "A command generator attempted to set a slot with a value extracted by an extractor "
    "that is incompatible with the slot mapping type."
)
REASON_NO_ACTIVE_FLOW = "CancelFlowCommand was predicted but no flows are active."
REASON_CHITCHAT = "cannot_handle_chitchat"
FREE_FORM = (ChitChat, Knowledge)
COMPLETED_PATTERN = "pattern_completed"


class CommandInvariantError(ValueError):
    """The cleaned commands break one of Rasa's invariants; the message is not processed further."""


# --- shared lookups ------------------------------------------------------------------------------------


def previous_collect_steps(
    ctx: RuntimeContext, user_frame_id: str | None, skip_link: bool = False
) -> list[tuple[FlowStep, str]]:
    """Collect steps visited, in order, in earlier stack states whose active user frame is ``user_frame_id``.

    Each step comes with the flow id of the frame that sat on it: a step of a flow reached through a
    ``call`` (or of a pattern still on the stack) names the called flow / pattern, not the user frame
    (Rasa's ``previous_collect_steps_for_active_flow``, REF §10.1; the correction rewinds into that
    frame, §13.3). The "active user frame" of a state skips ``call`` frames (3.11+: ``link`` too).
    """
    if user_frame_id is None:
        return []
    flows = ctx.project.flows
    current_ids = {f.frame_id for f in ctx.tracker.stack}
    result: list[tuple[FlowStep, str]] = []
    for state in ctx.tracker.stack_states:
        if not state:
            continue
        user = top_user_frame(state, skip_call=True, skip_link=skip_link)
        if user is None or user.frame_id != user_frame_id:
            continue
        top = state[-1]
        if not top.is_flow or not (top.is_user_flow or top.frame_id in current_ids):
            continue
        flow = flows.get(top.flow_id)
        step = flow.step(top.step_id) if flow else None
        if step is not None and step.kind == "collect":
            result.append((step, str(top.flow_id)))
    return result


def collected_steps(ctx: RuntimeContext, user_frame_id: str | None, skip_link: bool = False) -> list[FlowStep]:
    """The steps of :func:`previous_collect_steps` without their flow ids."""
    return [step for step, _ in previous_collect_steps(ctx, user_frame_id, skip_link)]


def active_pattern(frames: list[Frame], pattern_id: str) -> Frame | None:
    """Rasa's ``get_active_pattern_frame``: the topmost frame of the pattern, if no user frame is above it."""
    for frame in reversed(frames):
        if frame.type == pattern_id:
            return frame
        if frame.is_user_flow:
            return None
    return None


def slot_being_asked(frames: list[Frame]) -> str | None:
    """The slot of the collect pattern on top of the stack, if any."""
    if frames and frames[-1].type == COLLECT_PATTERN:
        return frames[-1].fields.get("collect")
    return None


def mapping_accepts(slot: SlotDefinition, extractor: str, any_from_llm: bool) -> bool:
    """Whether the slot's mappings accept a value from this extractor (§10.2)."""
    if extractor == "CommandPayloadReader":
        return True
    types = slot.mapping_types
    if not types:
        return False
    considered = types if any_from_llm else types[:1]
    if extractor == "NLU":
        return any(t in NLU_MAPPING_TYPES for t in considered)
    return "from_llm" in considered


# --- clean-up ------------------------------------------------------------------------------------------


@dataclass
class _Cleaner:
    ctx: RuntimeContext
    commands: list[Command]
    clean: list[Command] = field(default_factory=list)

    def run(self) -> list[Command]:
        profile = self.ctx.project.profile
        for command in self.commands:
            if isinstance(command, SetSlot):
                self._set_slot(command)
            elif isinstance(command, CancelFlow):
                self._cancel_flow(command)
            elif isinstance(command, CannotHandle):
                if not any(isinstance(c, CannotHandle) for c in self.clean):
                    self.clean.append(command)
            elif isinstance(command, StartFlow):
                if not self._start_flow_is_active(command.flow):
                    self.clean.append(command)
            elif isinstance(command, ChitChat):
                if self._chitchat_needs_fallback():
                    self.clean.insert(0, CannotHandle(reason=REASON_CHITCHAT))
                else:
                    self.clean.insert(0, command)
            elif isinstance(command, Knowledge):
                self.clean.insert(0, command)
            elif isinstance(command, Clarify):
                self._clarify(command)
            else:
                self.clean.append(command)
        if profile.dedupe_singletons:
            self._keep_first_of(CannotHandle, RepeatBotMessages, ChitChat)
        threshold = 2 if ROUTING_SLOT in self.ctx.project.domain.slots else 1
        if len(self.clean) > threshold:
            self.clean = [
                c
                for c in self.clean
                if not (
                    isinstance(c, CannotHandle) and (profile.drop_every_cannot_handle or c.reason == REASON_MAPPING)
                )
            ]
        return self.clean

    def _keep_first_of(self, *kinds: type[Command]) -> None:
        seen: set[type[Command]] = set()
        result = []
        for command in self.clean:
            kind = type(command)
            if kind in kinds and kind in seen:
                continue
            seen.add(kind)
            result.append(command)
        self.clean = result

    def _add_cannot_handle(self, reason: str) -> None:
        if not any(isinstance(c, CannotHandle) and c.reason == reason for c in self.clean):
            self.clean.append(CannotHandle(reason=reason))

    def _set_slot(self, command: SetSlot) -> None:
        ctx, profile = self.ctx, self.ctx.project.profile
        tracker = ctx.tracker
        slot = ctx.project.domain.slots.get(command.name)
        if slot is None:
            if profile.unknown_slot_cannot_handle:
                self._add_cannot_handle(REASON_UNKNOWN_SLOT)
            return
        if not mapping_accepts(slot, command.extractor, profile.mapping_any_from_llm):
            kept = any(isinstance(c, SetSlot) and c.name == command.name for c in self.clean)
            if not (profile.mapping_mismatch_once_per_slot and kept):
                self._add_cannot_handle(REASON_MAPPING)
            return
        if slot_being_asked(tracker.stack) == command.name:
            self.clean.append(command)
            return
        if not self._correctable(command.name):
            self.clean.append(command)
            return
        current = tracker.get_slot(command.name)
        same = str(current) == str(command.value) if profile.same_value_str_both else current == str(command.value)
        if same or self._pending_correction(command):
            return
        corrected = CorrectedSlot(command.name, command.value, command.extractor)
        for index, existing in enumerate(self.clean):
            if isinstance(existing, CorrectSlots):
                self.clean[index] = CorrectSlots(corrected_slots=(*existing.corrected_slots, corrected))
                return
        self.clean.append(CorrectSlots(corrected_slots=(corrected,)))

    def _correctable(self, name: str) -> bool:
        """Whether a SetSlot for ``name`` is a correction candidate (:data:`~pytest_cmdgen.versions.CorrectionRule`):
        the slots of the collect steps the active flow visited (``filled_slots_for_active_flow``) up to 3.11.17,
        3.12.23, 3.13.0; those and every slot with a SlotSet event in 3.11.18, 3.12.24 – 3.12.28, 3.13.1 – 3.13.4;
        every slot with a SlotSet event in 3.12.29, 3.13.5 – 3.13.6; only those that also have a value from
        3.11.19, 3.12.30, 3.13.7 (``_get_slots_eligible_for_correction``). So a value rejected by validation
        (reset to None) and given again is a correction before that, a plain answer after."""
        ctx, profile = self.ctx, self.ctx.project.profile
        tracker = ctx.tracker
        rule = profile.correction_eligible
        if rule in ("set", "set_not_none"):
            return tracker.has_been_set(name) and (rule == "set" or tracker.get_slot(name) is not None)
        if rule == "visited_or_set" and tracker.has_been_set(name):
            return True
        user = top_user_frame(tracker.stack, skip_link=profile.active_flow_skips_link)
        visited = collected_steps(ctx, user.frame_id if user else None, profile.active_flow_skips_link)
        return name in {s.collect for s in visited}

    def _pending_correction(self, command: SetSlot) -> bool:
        frame = top_flow_frame(self.ctx.tracker.stack, ignore_collect=True, ignore_call=True)
        if frame is None or frame.type != CORRECTION_PATTERN:
            return False
        pending = frame.fields.get("corrected_slots") or {}
        if command.name not in pending:
            return False
        # Rasa compares the stringified entry; from 3.12 that entry is {"value", "filled_by"}, so this never matches
        # there and a repeated correction becomes a correction again (reproduced, not fixed: it changes the flow).
        return str(pending[command.name]) == str(command.value)

    def _cancel_flow(self, command: CancelFlow) -> None:
        if any(isinstance(c, CancelFlow) for c in self.clean):
            return
        profile = self.ctx.project.profile
        if profile.cancel_without_flow_cannot_handle and self.ctx.tracker.active_flow is None:
            if not any(isinstance(c, CannotHandle) for c in self.clean):
                self.clean.append(CannotHandle(reason=REASON_NO_ACTIVE_FLOW))
            return
        self.clean.append(command)

    def _start_flow_is_active(self, flow_id: str) -> bool:
        stack = self.ctx.tracker.stack
        lookup = self.ctx.project.profile.startflow_active_lookup
        if lookup == "skip_call":
            active = top_user_frame(stack, skip_call=True)
        elif lookup == "skip_call_link":
            active = top_user_frame(stack, skip_call=True, skip_link=True)
        else:
            active = top_user_frame(stack, skip_call=False)
        if active is None or active.flow_id != flow_id:
            return False
        # 3.14+ ``clean_up_start_flow_command``: kept while pattern_continue_interrupted is active.
        resuming = active_pattern(stack, CONTINUE_INTERRUPTED_PATTERN) is not None
        return not (self.ctx.project.profile.startflow_resumes_interrupted and resuming)

    def _chitchat_needs_fallback(self) -> bool:
        flow = self.ctx.project.flows.get("pattern_chitchat")
        uses_trigger = flow is not None and any(s.action == "action_trigger_chitchat" for s in flow.steps)
        return uses_trigger and not self.ctx.project.config.has_policy("IntentlessPolicy")

    def _clarify(self, command: Clarify) -> None:
        others = [c for c in self.commands if not (isinstance(c, SetSlot) and c.name == ROUTING_SLOT)]
        all_clarify = all(isinstance(c, Clarify) for c in others)
        if len(self.commands) > 1 and not all_clarify:
            return
        if any(isinstance(c, Clarify) for c in self.clean):
            return
        self.clean.append(command)


def clean_up_commands(ctx: RuntimeContext, commands: list[Command]) -> list[Command]:
    """Rasa's clean-up pass (§10.1), per the version profile."""
    return _Cleaner(ctx, list(commands)).run()


def check_invariants(commands: list[Command]) -> None:
    """At most one CancelFlow and one CorrectSlots; free-form commands only at the front."""
    if sum(isinstance(c, CancelFlow) for c in commands) > 1:
        raise CommandInvariantError("more than one CancelFlow command")
    if sum(isinstance(c, CorrectSlots) for c in commands) > 1:
        raise CommandInvariantError("more than one CorrectSlots command")
    seen_other = False
    for command in commands:
        if isinstance(command, FREE_FORM):
            if seen_other:
                raise CommandInvariantError("free-form commands must come first")
        else:
            seen_other = True


# --- execution -----------------------------------------------------------------------------------------


@dataclass
class _Executor:
    ctx: RuntimeContext
    original: list[Frame]
    predicted: list[Command]
    frames: list[Frame] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.frames = [f.copy() for f in self.original]
        self.slots = dict(self.ctx.tracker.slots)

    @property
    def profile(self):
        return self.ctx.project.profile

    def push(self, frame: Frame, index: int | None = None) -> None:
        before = dump(self.frames)
        if index is None:
            self.frames.append(frame)
        else:
            self.frames.insert(index, frame)
        self._stack_event(before)

    def _stack_event(self, before: list[dict[str, Any]]) -> None:
        after = dump(self.frames)
        if before != after:
            event = DialogueStackUpdated(update=make_patch(before, after))
            event._frames = [f.copy() for f in self.frames]  # type: ignore[attr-defined]
            self.events.append(event)

    def push_validate_frames(self) -> None:
        """3.12+: one ``pattern_validate_slot`` frame per command SlotSet of a slot with ``validation``,
        pushed in event order after every command ran (``execute_commands`` /
        ``push_stack_frames_to_follow_commands``)."""
        if VALIDATE_PATTERN not in self.ctx.project.flows:
            return
        slots = self.ctx.project.domain.slots
        for event in list(self.events):
            if not isinstance(event, SlotSet) or event.key not in slots:
                continue
            fields = validate_frame_fields(slots[event.key])
            if fields is not None:
                self.push(pattern_frame(self.ctx, VALIDATE_PATTERN, **fields))

    def original_active(self, any_type: bool = False) -> Frame | None:
        if any_type:
            return top_user_frame(self.original, skip_call=False)
        return top_user_frame(self.original, skip_call=True, skip_link=self.profile.active_flow_skips_link)

    def run(self, command: Command) -> None:
        handler = getattr(self, f"_run_{type(command).__name__}", None)
        if handler is not None:
            handler(command)

    def _run_StartFlow(self, command: StartFlow) -> None:  # noqa: N802
        flows = self.ctx.project.flows
        if command.flow not in flows:
            return
        if self.profile.startflow_resumes_interrupted:
            self._start_flow_314(command.flow)
            return
        if any(f.is_user_flow and f.flow_id == command.flow for f in self.frames):
            return
        active = self.original_active()
        frame_type = "interrupt" if active is not None else "regular"
        if active is not None:
            self.events.append(FlowInterrupted(flow_id=str(active.flow_id), step_id=active.step_id))
        self.push(flow_frame_for(self.ctx, command.flow, frame_type))

    def _pop_patterns_if_active(self, pattern_id: str) -> None:
        """``remove_pattern_continue_interrupted_frames`` / ``remove_pattern_completed_frames``: if the pattern
        is active, pop every pattern frame on top (one FlowCompleted each); the stack event comes later."""
        if active_pattern(self.frames, pattern_id) is None:
            return
        while self.frames and self.frames[-1].is_flow and not self.frames[-1].is_user_flow:
            popped = self.frames.pop()
            self.events.append(FlowCompleted(flow_id=str(popped.flow_id), step_id=popped.step_id))

    def _resume(self, flow_id: str, before: list[dict[str, Any]], saved: list[Frame]) -> bool:
        """``resume_flow``: move the flow's frames to the top and log FlowResumed; False (and the stack
        unchanged, as Rasa drops its local copy) when the flow has no regular/interrupt frame."""
        moved, target = frames_of_flow(self.frames, flow_id)
        if target is None:
            self.frames = saved
            return False
        self.events.append(FlowResumed(flow_id=str(target.flow_id), step_id=target.step_id))
        self.frames = move_frames_to_top(self.frames, moved)
        self._stack_event(before)
        return True

    def _start_flow_314(self, flow_id: str) -> None:
        """3.14+ ``StartFlowCommand.run_command_on_tracker`` (3.15+: pattern_completed removed first)."""
        before = dump(self.frames)
        saved = [f.copy() for f in self.frames]
        if self.profile.startflow_removes_completed:
            self._pop_patterns_if_active(COMPLETED_PATTERN)
        original = top_user_frame(self.original, skip_call=True, skip_link=True)
        if original is not None and original.flow_id == flow_id:
            if active_pattern(self.frames, CONTINUE_INTERRUPTED_PATTERN) is None:
                self._stack_event(before)  # 3.15+: the pattern_completed removal, if any
                return
            self._pop_patterns_if_active(CONTINUE_INTERRUPTED_PATTERN)
            self._resume(flow_id, before, saved)
            return
        if original is not None and any(f.is_user_flow and f.flow_id == flow_id for f in self.frames):
            self._pop_patterns_if_active(CONTINUE_INTERRUPTED_PATTERN)
            self._resume(flow_id, before, saved)
            self.events.append(FlowInterrupted(flow_id=str(original.flow_id), step_id=original.step_id))
            return
        self._pop_patterns_if_active(CONTINUE_INTERRUPTED_PATTERN)
        frame_type = "regular"
        if original is not None:
            frame_type = "interrupt"
            self.events.append(FlowInterrupted(flow_id=str(original.flow_id), step_id=original.step_id))
        self.frames.append(flow_frame_for(self.ctx, flow_id, frame_type))
        self._stack_event(before)

    def _allowed_slots(self) -> set[str]:
        flows = self.ctx.project.flows
        profile = self.profile
        active_ids: list[str] = []
        primary = top_user_frame(self.frames, skip_call=True, skip_link=profile.active_flow_skips_link)
        if primary is not None:
            active_ids.append(str(primary.flow_id))
        if profile.active_flow_skips_link:
            any_top = top_user_frame(self.frames, skip_call=False)
            if any_top is not None:
                active_ids.append(str(any_top.flow_id))
        started = [c.flow for c in self.predicted if isinstance(c, StartFlow)]
        active_ids.extend(started)
        allowed = {
            s.collect or "" for fid in active_ids for s in flows.collect_steps_resolved(fid) if not s.ask_before_filling
        }
        if profile.default_flows_count_started and not started:
            allowed |= {s.collect or "" for f in flows if f.is_pattern for s in f.collect_steps}
        asked = slot_being_asked(self.frames)
        if asked:
            allowed.add(asked)
        allowed.add(ROUTING_SLOT)
        if profile.restrict_nlu_setslots:
            allowed |= {name for name, _ in profile.builtin_slots}
        return allowed

    def _run_SetSlot(self, command: SetSlot) -> None:  # noqa: N802
        slot = self.ctx.project.domain.slots.get(command.name)
        if slot is None:
            return
        value = slot.try_coerce(command.value)
        if value == self.slots.get(command.name):
            return
        checked = command.extractor in ("LLM", "CommandPayloadReader") or self.profile.restrict_nlu_setslots
        if checked and command.name not in self._allowed_slots():
            return
        filled_by = command.extractor if self.profile.filled_by_on_slot_set else None
        self.slots[command.name] = value
        self.events.append(SlotSet(key=command.name, value=value, filled_by=filled_by))

    def _run_CorrectSlots(self, command: CorrectSlots) -> None:  # noqa: N802
        ctx, profile = self.ctx, self.profile
        flows = ctx.project.flows
        kept = [s for s in command.corrected_slots if self.slots.get(s.name) != s.value]
        corrected = {s.name: s.value for s in kept}
        filled_by = {s.name: s.filled_by for s in kept}
        if not corrected:
            return
        user = top_user_frame(self.frames, skip_call=True, skip_link=profile.active_flow_skips_link)
        collecting = {name: [s for f in flows for s in f.collect_steps if s.collect == name] for name in corrected}
        is_reset_only = all(all(s.ask_before_filling for s in steps) for steps in collecting.values())
        if profile.correction_needs_flow_on_stack:
            on_stack = {
                s.collect for f in self.frames if f.is_user_flow for s in flows.collect_steps_resolved(str(f.flow_id))
            }
            if not all(name in on_stack for name in corrected):
                return
        visited = previous_collect_steps(ctx, user.frame_id if user else None, profile.active_flow_skips_link)
        earliest = next(((s, fid) for s, fid in visited if s.collect in corrected), None)
        if earliest is None and not is_reset_only and profile.correction_skips_unvisited:
            return
        slots_field: dict[str, Any] = (
            {k: {"value": v, "filled_by": filled_by[k]} for k, v in corrected.items()}
            if profile.corrected_slots_nested
            else dict(corrected)
        )
        fields: dict[str, Any] = {
            "is_reset_only": is_reset_only,
            "corrected_slots": slots_field,
            "reset_flow_id": earliest[1] if earliest is not None else None,
            "reset_step_id": earliest[0].id if earliest is not None else None,
        }
        if profile.correction_new_slot_values:
            fields["new_slot_values"] = list(corrected.values())
        frame = pattern_frame(ctx, CORRECTION_PATTERN, **fields)
        existing = top_flow_frame(self.frames, ignore_collect=True, ignore_call=True)
        if existing is not None and existing.type == CORRECTION_PATTERN:
            index = self.frames.index(existing)
            before = dump(self.frames)
            for other in self.frames[index:]:
                if other.is_flow:
                    other.step_id = "NEXT:END"
            self.frames.insert(index, frame)
            self._stack_event(before)
        else:
            self.push(frame)

    def _run_CancelFlow(self, command: CancelFlow) -> None:  # noqa: N802
        active = self.original_active(any_type=self.profile.cancel_active_any_frame)
        if active is None:
            return
        canceled: list[str] = []
        for frame in reversed(self.original):
            canceled.append(frame.frame_id)
            if frame.is_user_flow and frame.frame_type != "call":
                break
        flow = self.ctx.project.flows.get(active.flow_id)
        name = flow.readable_name if flow else str(active.flow_id)
        self.push(pattern_frame(self.ctx, "pattern_cancel_flow", canceled_name=name, canceled_frames=canceled))
        self.events.append(FlowCancelled(flow_id=str(active.flow_id), step_id=active.step_id))

    def _run_Clarify(self, command: Clarify) -> None:  # noqa: N802
        flows = self.ctx.project.flows
        options = [o for o in command.options if o in flows]
        if not options and (command.options or not self.profile.clarification_ids):
            return
        if self.profile.clarify_removes_completed and self.frames and self.frames[-1].type == "pattern_completed":
            before = dump(self.frames)
            self.frames.pop()
            self._stack_event(before)
        names = [flows.get(o).readable_name for o in options]  # type: ignore[union-attr]
        fields: dict[str, Any] = {"names": names, "clarification_options": ""}
        if self.profile.clarification_ids:
            fields["clarification_ids"] = list(options)
        self.push(pattern_frame(self.ctx, "pattern_clarification", **fields))

    def _push_pattern(self, pattern_id: str, **fields: Any) -> None:
        if pattern_id in self.ctx.project.flows:
            self.push(pattern_frame(self.ctx, pattern_id, **fields))

    def _run_ChitChat(self, command: ChitChat) -> None:  # noqa: N802
        self._push_pattern("pattern_chitchat")

    def _run_Knowledge(self, command: Knowledge) -> None:  # noqa: N802
        self._push_pattern("pattern_search")

    def _run_SkipQuestion(self, command: SkipQuestion) -> None:  # noqa: N802
        if self.original_active() is not None:
            self._push_pattern("pattern_skip_question")

    def _run_HumanHandoff(self, command: HumanHandoff) -> None:  # noqa: N802
        if self.profile.human_handoff_command:
            self._push_pattern("pattern_human_handoff")

    def _run_CannotHandle(self, command: CannotHandle) -> None:  # noqa: N802
        self._push_pattern("pattern_cannot_handle", reason=command.reason)

    def _run_Error(self, command: Error) -> None:  # noqa: N802
        self._push_pattern("pattern_internal_error", error_type=command.error_type, info=dict(command.info))

    def _run_RepeatBotMessages(self, command: RepeatBotMessages) -> None:  # noqa: N802
        if self.profile.repeat_command:
            self._push_pattern("pattern_repeat_bot_messages")

    def _run_Restart(self, command: Restart) -> None:  # noqa: N802
        self._push_pattern("pattern_restart")

    def _run_SessionStart(self, command: SessionStart) -> None:  # noqa: N802
        self._push_pattern("pattern_session_start")

    def _run_HandleCodeChange(self, command: HandleCodeChange) -> None:  # noqa: N802
        self._push_pattern("pattern_code_change")


def execution_order(ctx: RuntimeContext, commands: list[Command]) -> list[Command]:
    """Reverse order; 3.11+ runs the (last) StartFlow first when no user flow is active."""
    profile = ctx.project.profile
    idle = top_user_frame(ctx.tracker.stack, skip_call=True, skip_link=True) is None
    starts = [c for c in commands if isinstance(c, StartFlow)]
    if profile.startflow_first_when_idle and idle and starts:
        first = starts[-1]
        rest = list(commands)
        rest.remove(first)
        return [first, *reversed(rest)]
    return list(reversed(commands))


def remove_duplicated_slot_sets(events: list[Event]) -> list[Event]:
    """Keep only the last SlotSet per slot (at its position)."""
    last: dict[str, int] = {}
    for index, event in enumerate(events):
        if isinstance(event, SlotSet):
            last[event.key] = index
    return [e for i, e in enumerate(events) if not isinstance(e, SlotSet) or last[e.key] == i]


def execute_commands(ctx: RuntimeContext, predicted: list[Command]) -> list[Event]:
    """Clean up and execute the message's commands; returns the events (not yet applied to the tracker)."""
    clean = clean_up_commands(ctx, predicted)
    check_invariants(clean)
    executor = _Executor(ctx, ctx.tracker.copy_stack(), list(predicted))
    for command in execution_order(ctx, clean):
        executor.run(command)
    if ctx.project.profile.slot_validation:
        executor.push_validate_frames()
    return remove_duplicated_slot_sets(executor.events)


VALIDATE_PATTERN = "pattern_validate_slot"


def corrected_slot_validate_frames(ctx: RuntimeContext) -> list[Frame]:
    """3.12+ ``MessageProcessor.validate_corrected_slots``: a ``pattern_validate_slot`` frame per slot with
    ``validation`` among the SlotSet events that end the tracker (those ``action_correct_flow_slot`` just
    logged), newest first; pushed in that order, the first corrected slot is validated first.

    Rasa collects them into the shared mutable default list of ``create_validate_frames_from_slot_set_events``,
    so every later correction in the same process pushes the frames of every earlier one again, whatever the
    conversation; that leak is not reproduced (README, "Where we differ")."""
    if VALIDATE_PATTERN not in ctx.project.flows:
        return []
    slots = ctx.project.domain.slots
    frames: list[Frame] = []
    for event in reversed(ctx.tracker.events):
        if not isinstance(event, SlotSet):
            break
        fields = validate_frame_fields(slots[event.key]) if event.key in slots else None
        if fields is not None:
            frames.append(pattern_frame(ctx, VALIDATE_PATTERN, **fields))
    return frames


def validate_frame_fields(slot: SlotDefinition) -> dict[str, Any] | None:
    """Rasa's ``initialize_pattern_validate_slot``: the frame fields for a slot with ``validation``, else None."""
    if not slot.validation:
        return None
    rejections = slot.validation.get("rejections") or []
    return {
        "validate": slot.name,
        "refill_utter": slot.validation.get("refill_utter") or f"utter_ask_{slot.name}",
        "refill_action": f"action_ask_{slot.name}",
        "rejections": [{"if": r.get("if"), "utter": r.get("utter")} for r in rejections if isinstance(r, dict)],
    }
