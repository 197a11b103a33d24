"""The dialogue stack: frames, their Rasa dict form, contexts, lookups and JSON patches (§13.1)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pytest_cmdgen.runtime.flows import START

USER_FLOW = "flow"
COLLECT_PATTERN = "pattern_collect_information"
CORRECTION_PATTERN = "pattern_correction"
# Non-flow frames pushed by action_trigger_chitchat / action_trigger_search, answered by other policies.
CHITCHAT_FRAME = "chitchat"
SEARCH_FRAME = "search"
NON_FLOW_FRAMES = (CHITCHAT_FRAME, SEARCH_FRAME)


@dataclass
class Frame:
    """One stack frame: a user flow (``type == "flow"``), a pattern (``type`` = pattern id) or a non-flow frame."""

    frame_id: str
    type: str
    flow_id: str | None = None
    step_id: str = START
    frame_type: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def is_user_flow(self) -> bool:
        """A frame of a user flow (any frame type)."""
        return self.type == USER_FLOW

    @property
    def is_flow(self) -> bool:
        """A frame that runs a flow (user flow or pattern)."""
        return self.flow_id is not None

    def as_dict(self) -> dict[str, Any]:
        """Rasa's dump of the frame (the form in stack events and action-server requests)."""
        data: dict[str, Any] = {"frame_id": self.frame_id}
        if self.flow_id is not None:
            data["flow_id"] = self.flow_id
            data["step_id"] = self.step_id
        if self.type == USER_FLOW:
            data["frame_type"] = self.frame_type or "regular"
        data.update(self.fields)
        data["type"] = self.type
        return data

    def copy(self) -> Frame:
        """A copy whose fields can be changed independently."""
        return Frame(self.frame_id, self.type, self.flow_id, self.step_id, self.frame_type, dict(self.fields))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Frame:
        """Rebuild a frame from its dump."""
        known = {"frame_id", "flow_id", "step_id", "frame_type", "type"}
        return cls(
            frame_id=str(data.get("frame_id", "")),
            type=str(data.get("type", USER_FLOW)),
            flow_id=data.get("flow_id"),
            step_id=str(data.get("step_id", START)),
            frame_type=data.get("frame_type"),
            fields={k: v for k, v in data.items() if k not in known},
        )


def frame_context(stack: list[Frame], index: int | None = None) -> dict[str, Any]:
    """The context of a frame (default: the top); the collect pattern merges the frame below over its own."""
    if not stack:
        return {}
    index = len(stack) - 1 if index is None else index
    frame = stack[index]
    context = frame.as_dict()
    if frame.type == COLLECT_PATTERN and index > 0:
        context.update(frame_context(stack, index - 1))
    return context


def top_user_frame(stack: list[Frame], skip_call: bool = True, skip_link: bool = False) -> Frame | None:
    """The topmost user-flow frame, optionally skipping ``call`` and/or ``link`` frames."""
    for frame in reversed(stack):
        if not frame.is_user_flow:
            continue
        if skip_call and frame.frame_type == "call":
            continue
        if skip_link and frame.frame_type == "link":
            continue
        return frame
    return None


def top_flow_frame(stack: list[Frame], ignore_collect: bool = True, ignore_call: bool = False) -> Frame | None:
    """The topmost flow frame (user flow or pattern), ignoring the collect pattern and optionally calls."""
    for frame in reversed(stack):
        if not frame.is_flow:
            continue
        if ignore_collect and frame.type == COLLECT_PATTERN:
            continue
        if ignore_call and frame.is_user_flow and frame.frame_type == "call":
            continue
        return frame
    return None


def active_user_frames(stack: list[Frame]) -> list[Frame]:
    """Walking from the top: every ``call`` user frame until the first other user frame (included)."""
    result: list[Frame] = []
    for frame in reversed(stack):
        if not frame.is_user_flow:
            continue
        result.append(frame)
        if frame.frame_type != "call":
            break
    return result


def dump(stack: list[Frame]) -> list[dict[str, Any]]:
    """The stack as a list of frame dicts (bottom first)."""
    return [frame.as_dict() for frame in stack]


def make_patch(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str:
    """A JSON patch (RFC 6902) turning one stack dump into another, as a JSON string."""
    ops: list[dict[str, Any]] = []
    for i in range(min(len(old), len(new))):
        before, after = old[i], new[i]
        if before == after:
            continue
        if before.get("frame_id") != after.get("frame_id"):
            ops.append({"op": "replace", "path": f"/{i}", "value": after})
            continue
        for key in before:
            if key not in after:
                ops.append({"op": "remove", "path": f"/{i}/{key}"})
            elif before[key] != after[key]:
                ops.append({"op": "replace", "path": f"/{i}/{key}", "value": after[key]})
        for key in after:
            if key not in before:
                ops.append({"op": "add", "path": f"/{i}/{key}", "value": after[key]})
    for i in range(len(old) - 1, len(new) - 1, -1):
        ops.append({"op": "remove", "path": f"/{i}"})
    for i in range(len(old), len(new)):
        ops.append({"op": "add", "path": f"/{i}", "value": new[i]})
    return json.dumps(ops)


def apply_patch(current: list[dict[str, Any]], patch: str) -> list[dict[str, Any]]:
    """Apply a JSON patch (add/remove/replace on frames and their keys) to a stack dump."""
    result = [dict(frame) for frame in current]
    for op in json.loads(patch or "[]"):
        parts = [p for p in str(op.get("path", "")).split("/") if p != ""]
        kind = op.get("op")
        if not parts:
            if kind in ("add", "replace"):
                result = [dict(f) for f in op.get("value") or []]
            continue
        index = len(result) if parts[0] == "-" else int(parts[0])
        if len(parts) == 1:
            if kind == "add":
                result.insert(index, dict(op["value"]))
            elif kind == "remove":
                result.pop(index)
            elif kind == "replace":
                result[index] = dict(op["value"])
        else:
            key = parts[1]
            if kind in ("add", "replace"):
                result[index][key] = op["value"]
            elif kind == "remove":
                result[index].pop(key, None)
    return result


def frames_of_flow(frames: list[Frame], flow_id: str) -> tuple[list[Frame], Frame | None]:
    """``collect_frames_to_resume`` / ``_collect_frames_to_cancel``: the flow's regular/interrupt frame and
    every frame above it up to the next regular/interrupt frame of another flow."""
    collected: list[Frame] = []
    target: Frame | None = None
    for frame in frames:
        if frame.is_user_flow and frame.frame_type in ("regular", "interrupt", None):
            if frame.flow_id == flow_id:
                collected.append(frame)
                target = frame
                continue
            if target is not None:
                break
        if target is not None:
            collected.append(frame)
    return collected, target


def move_frames_to_top(frames: list[Frame], moved: list[Frame]) -> list[Frame]:
    """``DialogueStack.move_frames_to_top``: reorder, regular user frames become ``interrupt`` (call/link
    frames untouched), then the lowest user frame becomes ``regular``."""
    moved_ids = {f.frame_id for f in moved}
    result = [f for f in frames if f.frame_id not in moved_ids] + moved
    for frame in result:
        if frame.is_user_flow and frame.frame_type in ("regular", None):
            frame.frame_type = "interrupt"
    for frame in result:
        if frame.is_user_flow:
            frame.frame_type = "regular"
            break
    return result
