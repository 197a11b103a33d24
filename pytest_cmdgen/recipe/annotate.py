"""Module 1 of the recipe: a passing test case's turns → an annotated :class:`Conversation` (reference §4.2).

:func:`annotate_test_case` is a pure function of the test case, its per-turn tracker events and the run's
transcript. It follows Rasa 3.10 with its quirks fixed (DESIGN.md):

* every user step is kept, trailing user steps included (3.10 behaviour; 3.12 dropped them);
* a user step is annotated when its turn sent the step's text and holds **exactly one** ``UserUttered``
  whose ``parse_data`` has a non-empty ``llm_prompt`` and non-empty ``llm_commands``;
* ``rephrase`` is False when the text, lower-cased, equals a lower-cased button payload of the previous
  user turn's last bot message (the user "clicked" a button whose payload went to the LLM);
* assertion-format tests get one synthetic bot step per ``BotUttered`` of each turn;
* slot steps are not kept (they are not written to the conversation YAML either).

A conversation with no annotated step is not built (``None``), as in Rasa.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pytest_cmdgen.e2e import model as m
from pytest_cmdgen.recipe.conversation import (
    AnnotatedStep,
    BotMessageStep,
    Conversation,
    ConversationStep,
    UserMessageStep,
    make_test_id,
)
from pytest_cmdgen.runtime.commands import Command, UnknownCommandError, command_from_dict
from pytest_cmdgen.runtime.events import BotUttered, Event, UserUttered

logger = logging.getLogger(__name__)


class TurnLike(Protocol):
    """What annotation reads from one turn (``pytest_cmdgen.e2e.judge.Turn`` fits)."""

    user_text: str | None
    events: list[Event]


@dataclass(frozen=True)
class TurnInput:
    """One user turn of a test run: the text sent and the tracker events the turn produced, in order."""

    user_text: str | None
    events: Sequence[Event] = field(default_factory=tuple)


def _user_events(turn: TurnLike) -> list[UserUttered]:
    return [e for e in turn.events if isinstance(e, UserUttered)]


def _bot_events(turn: TurnLike) -> list[BotUttered]:
    return [e for e in turn.events if isinstance(e, BotUttered)]


def llm_annotation(turn: TurnLike) -> tuple[str, list[Command]] | None:
    """``(llm_prompt, commands)`` of a turn if exactly one of its user messages called the LLM, else None.

    The prompt must be a non-empty string and ``llm_commands`` a non-empty list of known command dicts.
    """
    recorded = [
        e.parse_data
        for e in _user_events(turn)
        if "llm_prompt" in (e.parse_data or {}) and "llm_commands" in (e.parse_data or {})
    ]
    if len(recorded) != 1:
        return None
    prompt = recorded[0].get("llm_prompt")
    raw_commands = recorded[0].get("llm_commands")
    if not isinstance(prompt, str) or not prompt or not isinstance(raw_commands, list) or not raw_commands:
        return None
    try:
        commands = [command_from_dict(c) for c in raw_commands]
    except (UnknownCommandError, KeyError, TypeError) as exc:
        logger.warning("annotation: unreadable llm_commands %r: %s", raw_commands, exc)
        return None
    return prompt, commands


def should_rephrase(text: str, previous_turn: TurnLike | None) -> bool:
    """The ``rephrase`` flag of §4.2: False iff ``text`` repeats a button payload of the previous turn.

    Looks at the last ``BotUttered`` of the previous user turn; when its ``data.buttons`` is present and
    ``text.lower()`` equals one of the lower-cased payloads, the message is a button click.
    """
    if previous_turn is None:
        return True
    bots = _bot_events(previous_turn)
    if not bots:
        return True
    buttons = bots[-1].data.get("buttons") if bots[-1].data else None
    if buttons is None:
        return True
    payloads = {
        str(b.get("payload")).lower() for b in buttons if isinstance(b, Mapping) and b.get("payload") is not None
    }
    return text.lower() not in payloads


def annotate_test_case(
    test_case: m.TestCase,
    turns: Mapping[int, TurnLike],
    transcript: str,
    test_id: str | None = None,
) -> Conversation | None:
    """Build the annotated conversation of a passing test case, or None if no step could be annotated.

    Args:
        test_case: the test case that ran and passed.
        turns: the turn of every *sent* user step, keyed by the step's index in ``test_case.steps``
            (other keys, e.g. ``-1`` for the session start, are ignored); :class:`TurnInput` or the E2E
            runner's ``Turn``.
        transcript: the readable transcript of the whole run (all turns, reference §9.4).
        test_id: the conversation's id; defaults to ``<test_case.file>::<test_case.name>``.
    """
    conversation_id = test_id if test_id is not None else make_test_id(str(test_case.file), test_case.name)
    assertion_format = test_case.uses_assertions
    sent_indices = sorted(
        i for i in turns if 0 <= i < len(test_case.steps) and isinstance(test_case.steps[i], m.UserStep)
    )
    turn_number = {step_index: n for n, step_index in enumerate(sent_indices)}

    steps: list[ConversationStep] = []
    previous_turn: TurnLike | None = None
    for index, step in enumerate(test_case.steps):
        if isinstance(step, m.UserStep):
            turn = turns.get(index) if index in turn_number else None
            if turn is None:
                steps.append(UserMessageStep(user=step.text, line=step.line, turn_index=None))
                continue
            annotation = llm_annotation(turn) if turn.user_text == step.text else None
            if annotation is None:
                steps.append(UserMessageStep(user=step.text, line=step.line, turn_index=turn_number[index]))
            else:
                prompt, commands = annotation
                steps.append(
                    AnnotatedStep(
                        user=step.text,
                        line=step.line,
                        llm_prompt=prompt,
                        commands=tuple(commands),
                        rephrase=should_rephrase(step.text, previous_turn),
                        turn_index=turn_number[index],
                    )
                )
            if assertion_format:
                steps.extend(
                    BotMessageStep(text=b.text, template=b.metadata.get("utter_action"), line=step.line, synthetic=True)
                    for b in _bot_events(turn)
                )
            previous_turn = turn
        elif isinstance(step, m.BotStep):
            steps.append(BotMessageStep(text=step.text, line=step.line))
        elif isinstance(step, m.UtterStep):
            steps.append(BotMessageStep(template=step.name, line=step.line))
    conversation = Conversation(test_id=conversation_id, steps=tuple(steps), transcript=transcript)
    if not conversation.annotated_steps:
        logger.warning("annotation: %s has no step with an LLM prompt and commands; skipped", conversation_id)
        return None
    return conversation
