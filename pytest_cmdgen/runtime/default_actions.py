"""Rasa's built-in actions used by the patterns (§13.3), run in-process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_cmdgen.runtime import predicates
from pytest_cmdgen.runtime.context import RuntimeContext
from pytest_cmdgen.runtime.events import (
    BotUttered,
    Event,
    FlowCancelled,
    FlowResumed,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from pytest_cmdgen.runtime.flows import CONTINUE_PREFIX, END, START
from pytest_cmdgen.runtime.slots import InvalidSlotValue
from pytest_cmdgen.runtime.stack import (
    CHITCHAT_FRAME,
    COLLECT_PATTERN,
    CORRECTION_PATTERN,
    SEARCH_FRAME,
    Frame,
    frame_context,
    frames_of_flow,
    move_frames_to_top,
    top_user_frame,
)

DefaultAction = Callable[[RuntimeContext], list[Event]]


def utter(ctx: RuntimeContext, name: str, kwargs: dict[str, Any] | None = None) -> list[Event]:
    """The BotUttered event of a response (none if the response has no matching variation)."""
    tracker = ctx.tracker
    context = tracker.context()
    message = ctx.nlg.generate(name, tracker.slots, context, ctx.rng, kwargs=kwargs, channel=ctx.channel)
    if message is None:
        return []
    extra = {"active_flow": context.get("flow_id"), "step_id": context.get("step_id")}
    return [ctx.nlg.bot_event(message, name, extra)]


def _top(ctx: RuntimeContext, frame_type: str) -> tuple[list[Frame], Frame | None]:
    frames = ctx.tracker.copy_stack()
    for frame in reversed(frames):
        if frame.type == frame_type:
            return frames, frame
    return frames, None


def _stack_events(ctx: RuntimeContext, frames: list[Frame]) -> list[Event]:
    event = ctx.tracker.stack_update_event(frames)
    return [event] if event is not None else []


def action_listen(ctx: RuntimeContext) -> list[Event]:
    """Wait for the user: no events."""
    return []


def action_run_slot_rejections(ctx: RuntimeContext) -> list[Event]:
    """Validate the slot of the top collect (or 3.12+ ``pattern_validate_slot``) frame: type, then rejections."""
    tracker = ctx.tracker
    top = tracker.top_frame
    if top is None or top.type not in (COLLECT_PATTERN, "pattern_validate_slot"):
        return []
    name = str(top.fields.get("collect" if top.type == COLLECT_PATTERN else "validate"))
    slot = ctx.project.domain.slots.get(name)
    if slot is None or not tracker.has_been_set(name):
        return []
    value = tracker.get_slot(name)
    if value is None:
        return []
    try:
        coerced = slot.coerce(value)
    except InvalidSlotValue:
        response = {"bool": "utter_boolean_slot_rejection", "float": "utter_float_slot_rejection"}.get(
            slot.type, "utter_categorical_slot_rejection"
        )
        return [SlotSet(key=name, value=None), *utter(ctx, response, {"value": value})]
    document = {"slots": {name: coerced}}
    context = tracker.context()
    for rejection in top.fields.get("rejections") or []:
        try:
            violated = predicates.evaluate_strict(rejection["if"], document, context)
        except Exception:  # noqa: BLE001 - Rasa treats any evaluation error as a violation
            return [SlotSet(key=name, value=None), *utter(ctx, "utter_internal_error_rasa", {"value": value})]
        if violated:
            return [SlotSet(key=name, value=None), *utter(ctx, str(rejection["utter"]), {"value": value})]
    if coerced != value:
        return [SlotSet(key=name, value=coerced)]
    return []


def action_cancel_flow(ctx: RuntimeContext) -> list[Event]:
    """Set every frame named in ``canceled_frames`` to ``NEXT:END``."""
    frames, top = _top(ctx, "pattern_cancel_flow")
    if top is None:
        return []
    canceled = set(top.fields.get("canceled_frames") or [])
    for frame in frames:
        if frame.frame_id in canceled:
            frame.step_id = CONTINUE_PREFIX + END
    return _stack_events(ctx, frames)


def join_names(names: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} or {names[-1]}"


def action_clarify_flows(ctx: RuntimeContext) -> list[Event]:
    """Fill ``clarification_options`` with the readable names of the options."""
    frames, top = _top(ctx, "pattern_clarification")
    if top is None:
        return []
    top.fields["clarification_options"] = join_names([str(n) for n in top.fields.get("names") or []])
    return _stack_events(ctx, frames)


def action_correct_flow_slot(ctx: RuntimeContext) -> list[Event]:
    """Rewind the stack to the earliest corrected collect step, then set the corrected slots (§13.3)."""
    tracker = ctx.tracker
    frames = tracker.copy_stack()
    top = frames[-1] if frames else None
    if top is None or top.type != CORRECTION_PATTERN:
        return []
    events: list[Event] = []
    reset_flow_id = top.fields.get("reset_flow_id")
    reset_step_id = top.fields.get("reset_step_id") or START
    if reset_flow_id:
        skip_link = ctx.project.profile.active_flow_skips_link
        rebuilt = rewind_stack(frames, str(reset_flow_id), str(reset_step_id), tracker.stack_states, skip_link)
        if rebuilt is not None:
            events.extend(_stack_events(ctx, rebuilt))
    corrected = top.fields.get("corrected_slots") or {}
    for name, value in corrected.items():
        if ctx.project.profile.corrected_slots_nested and isinstance(value, dict):
            value = value["value"]
        events.append(SlotSet(key=name, value=value))
    return events


def rewind_stack(
    frames: list[Frame], flow_id: str, step_id: str, states: list[list[Frame]], skip_link: bool = False
) -> list[Frame] | None:
    """Rasa's ``reset_stack_on_tracker_to_prior_state``: the stack as it was at ``flow_id``/``step_id``.

    The reference state is the most recent earlier stack whose top frame is ``flow_id`` at ``step_id``
    (the top may be a ``call`` frame: a correction rewinds into a called flow). Its target is its topmost
    user frame that is not a ``call`` frame (3.11+: nor a ``link`` frame). The new stack = the current
    frames below the target + the reference frames from the target up, the topmost flow frame set to
    re-run its step (``NEXT:<step>``) + the current frames missing from it, in order, with ``call``
    frames and collect patterns set to ``NEXT:END``. None when no such state or target exists.
    """
    reference = next(
        (s for s in reversed(states) if s and s[-1].is_flow and s[-1].flow_id == flow_id and s[-1].step_id == step_id),
        None,
    )
    if reference is None:
        return None
    target = top_user_frame(reference, skip_call=True, skip_link=skip_link)
    if target is None:
        return None
    rebuilt: list[Frame] = []
    for frame in frames:
        if frame.frame_id == target.frame_id:
            break
        rebuilt.append(frame.copy())
    start = next(i for i, f in enumerate(reference) if f.frame_id == target.frame_id)
    rebuilt.extend(f.copy() for f in reference[start:])
    for frame in reversed(rebuilt):
        if frame.is_flow and frame.step_id != START:
            frame.step_id = CONTINUE_PREFIX + frame.step_id
            break
    kept = {f.frame_id for f in rebuilt}
    for frame in frames:
        if frame.frame_id in kept:
            continue
        ended = frame.copy()
        if ended.type == COLLECT_PATTERN or (ended.is_user_flow and ended.frame_type == "call"):
            ended.step_id = CONTINUE_PREFIX + END
        rebuilt.append(ended)
    return rebuilt


def action_clean_stack(ctx: RuntimeContext) -> list[Event]:
    """End every flow on the stack; user frames become ``regular``."""
    frames = ctx.tracker.copy_stack()
    for frame in frames:
        if frame.is_flow:
            frame.step_id = CONTINUE_PREFIX + END
        if frame.is_user_flow:
            frame.frame_type = "regular"
    return _stack_events(ctx, frames)


def _push_non_flow(ctx: RuntimeContext, kind: str) -> list[Event]:
    frames = ctx.tracker.copy_stack()
    frames.append(Frame(frame_id=ctx.new_frame_id(), type=kind))
    return _stack_events(ctx, frames)


def action_trigger_chitchat(ctx: RuntimeContext) -> list[Event]:
    """Push a ``chitchat`` frame (answered by the IntentlessPolicy responder)."""
    return _push_non_flow(ctx, CHITCHAT_FRAME)


def action_trigger_search(ctx: RuntimeContext) -> list[Event]:
    """Push a ``search`` frame (answered by the EnterpriseSearchPolicy responder)."""
    return _push_non_flow(ctx, SEARCH_FRAME)


def action_restart(ctx: RuntimeContext) -> list[Event]:
    """Restart the conversation (``utter_restart`` first when the domain has it)."""
    return [*utter(ctx, "utter_restart"), Restarted()]


def action_session_start(ctx: RuntimeContext) -> list[Event]:
    """Start a new session, carrying over the slots that were set."""
    tracker = ctx.tracker
    carried = [SlotSet(key=n, value=tracker.get_slot(n)) for n in sorted(tracker.set_slots)]
    return [SessionStarted(), *carried]


def action_repeat_bot_messages(ctx: RuntimeContext) -> list[Event]:
    """Repeat the last run of bot messages before the latest user message."""
    tracker = ctx.tracker
    collected: list[BotUttered] = []
    seen_user = False
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            if seen_user and collected:
                break
            seen_user = True
        elif isinstance(event, BotUttered) and seen_user:
            collected.append(event)
    collected.reverse()
    frames = tracker.stack
    if len(frames) >= 2 and frames[-2].type == COLLECT_PATTERN and collected:
        collected = collected[:-1]
    return [BotUttered(text=e.text, data=dict(e.data), metadata=dict(e.metadata)) for e in collected]


INTERRUPTED_FLOW_TO_CONTINUE_SLOT = "interrupted_flow_to_continue"
CONTINUE_INTERRUPTED_FLOW_CONFIRMATION_SLOT = "continue_interrupted_flow_confirmation"
CONTINUE_INTERRUPTED_PATTERN = "pattern_continue_interrupted"


def _active_continue_interrupted(frames: list[Frame]) -> Frame | None:
    """Rasa's ``get_active_continue_interrupted_pattern_frame``: the pattern frame above the top user frame."""
    for frame in reversed(frames):
        if frame.type == CONTINUE_INTERRUPTED_PATTERN:
            return frame
        if frame.is_user_flow:
            return None
    return None


def _reset_continue_slots() -> list[Event]:
    return [
        SlotSet(key=INTERRUPTED_FLOW_TO_CONTINUE_SLOT, value=None),
        SlotSet(key=CONTINUE_INTERRUPTED_FLOW_CONFIRMATION_SLOT, value=None),
    ]


def action_continue_interrupted_flow(ctx: RuntimeContext) -> list[Event]:
    """3.14+ ``ActionContinueInterruptedFlow``: resume the interrupted flow the user chose.

    One interrupted flow: it is resumed (the user confirmed). Several: the slot
    ``interrupted_flow_to_continue`` must name one of the pattern's flow ids, or else one of its readable
    names; otherwise Rasa only sends a plain text to the output channel (no tracker event) and nothing
    changes. Resuming moves the flow's frames to the top (``resume_flow``), logs FlowResumed and resets
    both pattern slots.
    """
    frames = ctx.tracker.copy_stack()
    pattern = _active_continue_interrupted(frames)
    if pattern is None:
        return []
    ids = [str(i) for i in pattern.fields.get("interrupted_flow_ids") or []]
    names = [str(n) for n in pattern.fields.get("interrupted_flow_names") or []]
    if not ids:
        return []
    chosen: str | None = None
    if len(names) <= 1:
        chosen = ids[0]
    else:
        selected = ctx.tracker.get_slot(INTERRUPTED_FLOW_TO_CONTINUE_SLOT)
        if selected in ids:
            chosen = str(selected)
        elif selected in names:
            chosen = ids[names.index(selected)]
    if chosen is None:
        return []
    moved, target = frames_of_flow(frames, chosen)
    if target is None:
        return []
    resumed = FlowResumed(flow_id=str(target.flow_id), step_id=target.step_id)
    rebuilt = move_frames_to_top(frames, moved)
    return [resumed, *_stack_events(ctx, rebuilt), *_reset_continue_slots()]


def action_cancel_interrupted_flows(ctx: RuntimeContext) -> list[Event]:
    """3.14+ ``ActionCancelInterruptedFlows``: push one ``pattern_cancel_flow`` per interrupted flow.

    Each cancel frame names the flow id (``canceled_name``) and cancels the flow's frames and every frame
    above it up to the next regular/interrupt user frame. Rasa computes each stack update against the
    unchanged tracker stack, so the JSON patches insert every new frame at the same index: the first
    flow's cancel frame ends on top. Both pattern slots are reset.
    """
    original = ctx.tracker.copy_stack()
    pattern = _active_continue_interrupted(original)
    if pattern is None:
        return []
    events: list[Event] = []
    pushed: list[Frame] = []
    for flow_id in [str(i) for i in pattern.fields.get("interrupted_flow_ids") or []]:
        canceled, target = frames_of_flow(original, flow_id)
        if target is None:
            continue
        pushed.append(
            Frame(
                frame_id=ctx.new_frame_id(),
                type="pattern_cancel_flow",
                flow_id="pattern_cancel_flow",
                fields={"canceled_name": flow_id, "canceled_frames": [f.frame_id for f in canceled]},
            )
        )
        events.append(FlowCancelled(flow_id=flow_id, step_id=target.step_id))
    if pushed:
        events.extend(_stack_events(ctx, [*original, *reversed(pushed)]))
    return [*events, *_reset_continue_slots()]


def action_noop(ctx: RuntimeContext) -> list[Event]:
    """Built-ins without an effect on a text conversation (hangup, handoff metric, fallback...)."""
    return []


DEFAULT_ACTIONS: dict[str, DefaultAction] = {
    "action_listen": action_listen,
    "action_run_slot_rejections": action_run_slot_rejections,
    "action_cancel_flow": action_cancel_flow,
    "action_clarify_flows": action_clarify_flows,
    "action_correct_flow_slot": action_correct_flow_slot,
    "action_clean_stack": action_clean_stack,
    "action_trigger_chitchat": action_trigger_chitchat,
    "action_trigger_search": action_trigger_search,
    "action_restart": action_restart,
    "action_session_start": action_session_start,
    "action_repeat_bot_messages": action_repeat_bot_messages,
    "action_continue_interrupted_flow": action_continue_interrupted_flow,
    "action_cancel_interrupted_flows": action_cancel_interrupted_flows,
    "action_hangup": action_noop,
    "action_handoff_metric": action_noop,
    "action_default_fallback": action_noop,
    "action_deactivate_loop": action_noop,
    "action_back": action_noop,
    "action_extract_slots": action_noop,
    "action_validate_slot_mappings": action_noop,
}


def context_for(frames: list[Frame]) -> dict[str, Any]:
    """Context of the top of an uncommitted stack."""
    return frame_context(frames)
