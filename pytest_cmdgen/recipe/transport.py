"""Conversations as plain JSON-able dicts and back, losslessly (prompts and command objects included).

xdist ships each worker's results to the controller through ``config.workeroutput``, which carries only
builtins; the YAML files of the output layout are not enough for that (they omit the prompts).
"""

from __future__ import annotations

from typing import Any

from pytest_cmdgen.recipe.conversation import (
    AnnotatedStep,
    BotMessageStep,
    Conversation,
    ConversationStep,
    FailedRephrasing,
    UserMessageStep,
)
from pytest_cmdgen.runtime.commands import Command, command_from_dict


def _commands(commands: tuple[Command, ...]) -> list[dict[str, Any]]:
    return [c.as_dict() for c in commands]


def _from_commands(data: list[dict[str, Any]]) -> tuple[Command, ...]:
    return tuple(command_from_dict(d) for d in data)


def _step_to_dict(step: ConversationStep) -> dict[str, Any]:
    if isinstance(step, AnnotatedStep):
        return {
            "kind": "annotated",
            "user": step.user,
            "line": step.line,
            "llm_prompt": step.llm_prompt,
            "commands": _commands(step.commands),
            "rephrase": step.rephrase,
            "turn_index": step.turn_index,
            "passing_rephrasings": list(step.passing_rephrasings),
            "failing_rephrasings": [
                {
                    "text": f.text,
                    "missing": _commands(f.missing),
                    "unexpected": _commands(f.unexpected),
                    "answer": f.answer,
                    "error": f.error,
                }
                for f in step.failing_rephrasings
            ],
        }
    if isinstance(step, UserMessageStep):
        return {"kind": "user", "user": step.user, "line": step.line, "turn_index": step.turn_index}
    return {"kind": "bot", "text": step.text, "template": step.template, "line": step.line, "synthetic": step.synthetic}


def _step_from_dict(data: dict[str, Any]) -> ConversationStep:
    kind = data["kind"]
    if kind == "annotated":
        return AnnotatedStep(
            user=data["user"],
            line=data["line"],
            llm_prompt=data["llm_prompt"],
            commands=_from_commands(data["commands"]),
            rephrase=data["rephrase"],
            turn_index=data["turn_index"],
            passing_rephrasings=tuple(data["passing_rephrasings"]),
            failing_rephrasings=tuple(
                FailedRephrasing(
                    text=f["text"],
                    missing=_from_commands(f["missing"]),
                    unexpected=_from_commands(f["unexpected"]),
                    answer=f["answer"],
                    error=f["error"],
                )
                for f in data["failing_rephrasings"]
            ),
        )
    if kind == "user":
        return UserMessageStep(user=data["user"], line=data["line"], turn_index=data["turn_index"])
    return BotMessageStep(text=data["text"], template=data["template"], line=data["line"], synthetic=data["synthetic"])


def conversation_to_dict(conversation: Conversation) -> dict[str, Any]:
    """A JSON-able dict holding everything of ``conversation``."""
    return {
        "test_id": conversation.test_id,
        "transcript": conversation.transcript,
        "warnings": list(conversation.warnings),
        "steps": [_step_to_dict(s) for s in conversation.steps],
    }


def conversation_from_dict(data: dict[str, Any]) -> Conversation:
    """The inverse of :func:`conversation_to_dict`."""
    return Conversation(
        test_id=data["test_id"],
        steps=tuple(_step_from_dict(s) for s in data["steps"]),
        transcript=data["transcript"],
        warnings=tuple(data["warnings"]),
    )
