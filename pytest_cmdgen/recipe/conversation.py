"""The annotated conversation: what annotation records for a passing test case (reference §4.2, §4.4).

A :class:`Conversation` is the test case seen as the fine-tuning recipe sees it: its user steps (annotated
with the exact prompt and the commands the command generator produced, or plain when the LLM was not
involved), its bot steps, and the readable transcript of the whole run. Rephrasing fills the annotated
steps' passing and failing rephrasings; data points are built from the result.

Everything here is an immutable value: functions that "change" a conversation return a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pytest_cmdgen.runtime.commands import Command

TEST_ID_SEPARATOR = "::"
"""Separates the test file from the test case name in a test id (``<file>::<name>``)."""


def make_test_id(file: str, name: str) -> str:
    """The recipe's test id of a test case: ``<file as discovered>::<test case name>``."""
    return f"{file}{TEST_ID_SEPARATOR}{name}"


def split_test_id(test_id: str) -> tuple[str, str]:
    """``(file, name)`` of a test id (the first ``::`` separates them; names may contain ``::``)."""
    file, sep, name = test_id.partition(TEST_ID_SEPARATOR)
    if not sep:
        return "", test_id
    return file, name


def sanitize_message(text: str | None) -> str:
    """A user message as it stands in a prompt: newlines replaced by spaces (``None`` → ``""``)."""
    return "" if text is None else text.replace("\n", " ")


@dataclass(frozen=True)
class FailedRephrasing:
    """A paraphrase whose validation answer did not reproduce the original commands.

    ``missing`` are original commands the answer lacked, ``unexpected`` are commands the answer had
    beyond the original ones (both empty only when the answer could not be obtained, see ``error``).
    """

    text: str
    missing: tuple[Command, ...] = ()
    unexpected: tuple[Command, ...] = ()
    answer: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class AnnotatedStep:
    """A user step whose turn called the command generator exactly once (reference §4.2).

    Attributes:
        user: the user text as written in the test.
        line: the 1-based YAML line of the step (0 if unknown).
        llm_prompt: the exact prompt sent to the command generator's LLM.
        commands: the commands parsed from its answer (before any clean-up), in order.
        rephrase: False for a message that repeats a button payload of the previous bot message.
        turn_index: position of this message among the user messages that were sent (0-based); it is the
            message's position among the ``USER:`` lines of later prompts.
        passing_rephrasings: paraphrases that reproduced ``commands`` (module 2).
        failing_rephrasings: paraphrases that did not, with the differing commands, and those whose
            validation call failed (with its ``error``).
    """

    user: str
    line: int
    llm_prompt: str
    commands: tuple[Command, ...]
    rephrase: bool
    turn_index: int
    passing_rephrasings: tuple[str, ...] = ()
    failing_rephrasings: tuple[FailedRephrasing, ...] = ()

    @property
    def rejected_rephrasings(self) -> tuple[FailedRephrasing, ...]:
        """Paraphrases the command LLM answered with other commands."""
        return tuple(f for f in self.failing_rephrasings if f.error is None)

    @property
    def unvalidated_rephrasings(self) -> tuple[FailedRephrasing, ...]:
        """Paraphrases whose validation call failed (no verdict; the next run asks again)."""
        return tuple(f for f in self.failing_rephrasings if f.error is not None)


@dataclass(frozen=True)
class UserMessageStep:
    """A user step that was not annotated (button ``/SetSlots`` payloads, ``/intent`` payloads, ...).

    ``turn_index`` is its position among the sent user messages, ``None`` if the step was never sent.
    """

    user: str
    line: int = 0
    turn_index: int | None = None


@dataclass(frozen=True)
class BotMessageStep:
    """A bot step: ``template`` (``utter:``) and/or ``text`` (``bot:``).

    ``synthetic`` marks a step made from a ``BotUttered`` event of an assertion-format test (§4.2).
    """

    text: str | None = None
    template: str | None = None
    line: int = 0
    synthetic: bool = False


ConversationStep = AnnotatedStep | UserMessageStep | BotMessageStep
"""One step of a conversation."""


@dataclass(frozen=True)
class Conversation:
    """A passing test case with its annotated user steps (reference §4.2).

    Attributes:
        test_id: ``<test file>::<test case name>`` (the file as discovered, see :func:`make_test_id`).
        steps: user and bot steps in test order (slot steps are not kept).
        transcript: the readable transcript of the whole run (``USER: ...`` / ``AI: ...`` lines).
    """

    test_id: str
    steps: tuple[ConversationStep, ...]
    transcript: str = ""
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def file(self) -> str:
        """The test file part of the test id."""
        return split_test_id(self.test_id)[0]

    @property
    def name(self) -> str:
        """The test case name part of the test id."""
        return split_test_id(self.test_id)[1]

    @property
    def annotated_steps(self) -> list[AnnotatedStep]:
        """The annotated user steps, in order."""
        return [s for s in self.steps if isinstance(s, AnnotatedStep)]

    @property
    def sent_user_messages(self) -> list[str]:
        """The texts of every user message that was sent, in order (index = ``turn_index``)."""
        sent: dict[int, str] = {}
        for step in self.steps:
            if isinstance(step, (AnnotatedStep, UserMessageStep)) and step.turn_index is not None:
                sent[step.turn_index] = step.user
        return [sent[i] for i in sorted(sent)]

    def with_annotated_steps(self, new_steps: list[AnnotatedStep]) -> Conversation:
        """A copy whose annotated steps are replaced, in order, by ``new_steps``."""
        annotated = iter(new_steps)
        steps = tuple(next(annotated) if isinstance(s, AnnotatedStep) else s for s in self.steps)
        return replace(self, steps=steps)

    def without_rephrasings(self) -> Conversation:
        """A copy with every passing/failing rephrasing removed (the state right after annotation)."""
        return self.with_annotated_steps(
            [replace(s, passing_rephrasings=(), failing_rephrasings=()) for s in self.annotated_steps]
        )
