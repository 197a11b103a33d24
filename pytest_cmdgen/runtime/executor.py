"""The flow executor (FlowPolicy): advance the stack until the next action to run (§13.4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_cmdgen.runtime import predicates
from pytest_cmdgen.runtime.context import RuntimeContext
from pytest_cmdgen.runtime.events import Event, FlowCompleted, FlowResumed, FlowStarted, SlotSet
from pytest_cmdgen.runtime.flows import CONTINUE_PREFIX, END, START, Flow, FlowStep
from pytest_cmdgen.runtime.stack import COLLECT_PATTERN, USER_FLOW, Frame, frame_context, top_user_frame

MAX_STEP_TRANSITIONS = 250
ACTION_LISTEN = "action_listen"


@dataclass
class Prediction:
    """The next action: a name to run, or a non-flow frame (``delegate``) another policy must answer."""

    action: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    delegate: str | None = None
    policy: str = "FlowPolicy"


def pattern_frame(ctx: RuntimeContext, pattern_id: str, **fields: Any) -> Frame:
    """A new frame for a pattern flow, with its context fields."""
    return Frame(frame_id=ctx.new_frame_id(), type=pattern_id, flow_id=pattern_id, fields=dict(fields))


def user_frame(ctx: RuntimeContext, flow_id: str, frame_type: str) -> Frame:
    """A new frame for a user flow (``regular``, ``interrupt``, ``link`` or ``call``)."""
    return Frame(frame_id=ctx.new_frame_id(), type=USER_FLOW, flow_id=flow_id, frame_type=frame_type)


def flow_frame_for(ctx: RuntimeContext, flow_id: str, frame_type: str) -> Frame:
    """A frame for any flow id: pattern frames for patterns, user frames otherwise."""
    flow = ctx.project.flows.get(flow_id)
    if flow is not None and flow.is_pattern:
        return pattern_frame(ctx, flow_id)
    return user_frame(ctx, flow_id, frame_type)


class FlowExecutor:
    """Runs steps of the flows on the stack until an action must be executed."""

    def __init__(self, ctx: RuntimeContext) -> None:
        self.ctx = ctx
        self.flows = ctx.project.flows
        self.profile = ctx.project.profile

    def predict(self) -> Prediction:
        """Advance the flows; the step events are applied to the tracker as they happen."""
        tripped = False
        while True:
            prediction = self._advance()
            if prediction is not None:
                return prediction
            if tripped:
                return Prediction(ACTION_LISTEN)
            tripped = True
            self._trip_circuit_breaker()

    # --- the loop ---------------------------------------------------------------------------------

    def _advance(self) -> Prediction | None:
        tracker = self.ctx.tracker
        for _ in range(MAX_STEP_TRANSITIONS):
            top = tracker.top_frame
            if top is None:
                return Prediction(ACTION_LISTEN)
            if not top.is_flow:
                return Prediction(None, delegate=top.type)
            flow = self.flows.get(top.flow_id)
            if flow is None:
                frames = tracker.copy_stack()
                frames.pop()
                tracker.update_stack(frames)
                continue
            previous = top.step_id
            next_id = self._select_next(flow, top)
            frames = tracker.copy_stack()
            frames[-1].step_id = next_id
            tracker.update_stack(frames)
            if previous == START:
                tracker.update(FlowStarted(flow_id=flow.id, metadata=tracker.context()))
            if next_id == END:
                self._end_flow(flow, previous)
                continue
            step = flow.step(next_id)
            if step is None:
                self._end_flow(flow, previous)
                continue
            action = self._run_step(flow, step)
            if action is not None:
                return Prediction(action, metadata=self._metadata())
        return None

    def _metadata(self) -> dict[str, Any]:
        context = self.ctx.tracker.context()
        return {"active_flow": context.get("flow_id"), "step_id": context.get("step_id")}

    def _select_next(self, flow: Flow, frame: Frame) -> str:
        step_id = frame.step_id
        if step_id == START:
            return flow.first_step.id
        if step_id.startswith(CONTINUE_PREFIX):
            return step_id[len(CONTINUE_PREFIX) :]
        step = flow.step(step_id)
        if step is None:
            return END
        if step.is_static_next:
            return step.next[0].target
        tracker = self.ctx.tracker
        context = tracker.context()
        for link in step.next:
            if link.condition is None or predicates.evaluate(link.condition, context, tracker.slots):
                return link.target
        return END

    # --- steps ------------------------------------------------------------------------------------

    def _run_step(self, flow: Flow, step: FlowStep) -> str | None:
        tracker = self.ctx.tracker
        if step.kind == "action":
            name = predicates.render_template(step.action or "", {"context": tracker.context()})
            if name and name in self.ctx.project.domain.action_names:
                return name
            return None
        if step.kind == "collect":
            self._run_collect(flow, step)
        elif step.kind == "set_slots":
            for name, value in step.slot_sets:
                tracker.update(SlotSet(key=name, value=value))
        elif step.kind == "call" and step.call:
            frames = tracker.copy_stack()
            frames.append(flow_frame_for(self.ctx, step.call, "call"))
            tracker.update_stack(frames)
        elif step.kind == "link" and step.link:
            frames = tracker.copy_stack()
            frames.insert(len(frames) - 1, flow_frame_for(self.ctx, step.link, "link"))
            tracker.update_stack(frames)
        return None

    def _run_collect(self, flow: Flow, step: FlowStep) -> None:
        tracker = self.ctx.tracker
        domain = self.ctx.project.domain
        slot = domain.slots.get(step.collect or "")
        has_initial = slot is not None and slot.initial_value is not None
        can_ask = (step.utter in domain.action_names) or (step.collect_action() in domain.action_names)
        if slot is not None and any(m.get("type") == "custom" and "action" not in m for m in slot.mappings):
            can_ask = step.collect_action() in domain.action_names
        if not (has_initial or can_ask):
            self._collect_failed()
            return
        frames = tracker.copy_stack()
        frames.append(
            pattern_frame(
                self.ctx,
                COLLECT_PATTERN,
                collect=step.collect,
                utter=step.utter,
                collect_action=step.collect_action(),
                rejections=[{"if": r.condition, "utter": r.utter} for r in step.rejections],
            )
        )
        tracker.update_stack(frames)
        if step.ask_before_filling:
            tracker.update(SlotSet(key=step.collect or "", value=None))

    def _collect_failed(self) -> None:
        tracker = self.ctx.tracker
        frames = tracker.copy_stack()
        canceled = []
        for frame in reversed(frames):
            canceled.append(frame.frame_id)
            if frame.is_user_flow and frame.frame_type != "call":
                break
        user = top_user_frame(frames)
        flow = self.flows.get(user.flow_id) if user else None
        name = flow.readable_name if flow else ""
        frames.append(pattern_frame(self.ctx, "pattern_cancel_flow", canceled_name=name, canceled_frames=canceled))
        frames.append(
            pattern_frame(self.ctx, "pattern_internal_error", error_type="rasa_internal_error_default", info={})
        )
        tracker.update_stack(frames)

    # --- end of a flow ----------------------------------------------------------------------------

    def _end_flow(self, flow: Flow, previous_step: str) -> None:
        tracker = self.ctx.tracker
        frames = tracker.copy_stack()
        popped = frames.pop()
        if not (popped.is_user_flow and popped.frame_type == "call"):
            for event in self._reset_events(flow):
                tracker.update(event)
        tracker.update(FlowCompleted(flow_id=flow.id, step_id=previous_step))
        resumed: Event | None = None
        completed_allowed = flow.run_pattern_completed or not self.profile.persisted_slots
        if not frames and (popped.is_user_flow or popped.flow_id == "pattern_search"):
            if completed_allowed and "pattern_completed" in self.flows:
                frames.append(pattern_frame(self.ctx, "pattern_completed", previous_flow_name=flow.readable_name))
        elif popped.is_user_flow and popped.frame_type == "interrupt" and self.profile.continue_interrupted_asks:
            frame = self._continue_interrupted_frame(frames)
            if frame is not None:
                self._place_continue_interrupted(frames, frame)
        elif popped.is_user_flow and popped.frame_type == "interrupt":
            skip_link = self.profile.continue_interrupted_after_link != "linked_name"
            below = top_user_frame(frames, skip_call=True, skip_link=skip_link)
            if below is not None and below.step_id not in (END, CONTINUE_PREFIX + END):
                below_flow = self.flows.get(below.flow_id)
                name = below_flow.readable_name if below_flow else str(below.flow_id)
                frame = pattern_frame(self.ctx, "pattern_continue_interrupted", previous_flow_name=name)
                self._place_continue_interrupted(frames, frame)
                resumed = FlowResumed(flow_id=str(below.flow_id), step_id=below.step_id)
        tracker.update_stack(frames)
        if resumed is not None:
            tracker.update(resumed)

    def _place_continue_interrupted(self, frames: list[Frame], frame: Frame) -> None:
        top = frames[-1] if frames else None
        if (
            self.profile.continue_interrupted_after_link == "below_link"
            and top is not None
            and top.is_user_flow
            and top.frame_type == "link"
        ):
            frames.insert(len(frames) - 1, frame)
        else:
            frames.append(frame)

    def _continue_interrupted_frame(self, frames: list[Frame]) -> Frame | None:
        """3.14+ ``trigger_pattern_continue_interrupted``: one frame listing every unfinished user flow.

        The candidates are the ``regular``/``interrupt`` user frames left on the stack (bottom first) whose
        flow exists and is not at ``END``/``NEXT:END``; none → no pattern. ``interrupted_flow_options`` is
        Rasa's ``assemble_options_string`` (``a``, ``a and b``, ``a, b and c``) over the readable names and
        ``multiple_flows_interrupted`` is ``len(names) > 1`` (what ``from_dict`` recomputes).
        """
        names: list[str] = []
        ids: list[str] = []
        for candidate in frames:
            if not candidate.is_user_flow or candidate.frame_type in ("call", "link"):
                continue
            flow = self.flows.get(candidate.flow_id)
            if flow is None or candidate.step_id in (END, CONTINUE_PREFIX + END):
                continue
            names.append(flow.readable_name)
            ids.append(str(candidate.flow_id))
        if not names:
            return None
        return pattern_frame(
            self.ctx,
            "pattern_continue_interrupted",
            interrupted_flow_names=names,
            interrupted_flow_ids=ids,
            interrupted_flow_options=assemble_options(names),
            multiple_flows_interrupted=len(names) > 1,
        )

    def _reset_events(self, flow: Flow) -> list[SlotSet]:
        domain = self.ctx.project.domain
        persisted = set(flow.persisted_slots) if self.profile.persisted_slots else set()
        if self.profile.persisted_slots:
            for step in flow.steps:
                if step.kind == "call" and step.call and self.flows.get(step.call):
                    persisted |= set(self.flows.get(step.call).persisted_slots)  # type: ignore[union-attr]
        metadata = {"reset": True} if self.profile.reset_metadata else {}
        events: list[SlotSet] = []
        protected: set[str] = set()
        for step in self.flows.collect_steps_resolved(flow.id):
            name = step.collect or ""
            if not step.reset_after_flow_ends:
                protected.add(name)
                continue
            if name in persisted:
                continue
            initial = domain.slots[name].initial_value if name in domain.slots else None
            events.append(SlotSet(key=name, value=initial, metadata=dict(metadata)))
        for name in self.flows.set_slot_keys_resolved(flow.id):
            if name in protected or name in persisted:
                continue
            initial = domain.slots[name].initial_value if name in domain.slots else None
            events.append(SlotSet(key=name, value=initial, metadata=dict(metadata)))
        return events

    def _trip_circuit_breaker(self) -> None:
        tracker = self.ctx.tracker
        frames = tracker.copy_stack()
        for frame in reversed(frames):
            if frame.is_flow:
                frame.step_id = CONTINUE_PREFIX + END
            if frame.is_user_flow:
                break
        frames.append(
            pattern_frame(self.ctx, "pattern_internal_error", error_type="rasa_internal_error_default", info={})
        )
        tracker.update_stack(frames)


def assemble_options(names: list[str], conjunction: str = "and") -> str:
    """Rasa's ``assemble_options_string``: ``a``, ``a and b``, ``a, b and c``."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def context_of(frames: list[Frame]) -> dict[str, Any]:
    """The top context of a list of frames (helper for callers holding an uncommitted stack)."""
    return frame_context(frames)
