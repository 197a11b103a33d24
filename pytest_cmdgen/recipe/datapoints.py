"""Module 3 of the recipe: rephrased conversations and fine-tuning data points (reference §6).

**Variants** (§6.2). Variant 0 is always the original conversation; variants ``1..K`` (``K`` = the largest
number of passing rephrasings of any annotated step) combine the passing rephrasings by index, a step with
fewer wrapping around to its first one again, a step with none keeping its original text. This is Rasa's
"combination by index with reset" and the documented car-rental example (original + 3 conversations).

**Data points** (§6.3). One per annotated user step per variant, in Rasa 3.10's order (step 0: original,
variant 1, ..., variant K; then step 1; ...). A variant's prompt is the step's recorded prompt with the
variant's text of *every* annotated step up to this one wherever that step's message stood (history lines
and the ``\"\"\"latest\"\"\"`` message, :mod:`.substitute`), fixing §15 quirk 3. The completion is the DSL
of the step's commands in the generator's syntax (injected serializer).

One deliberate difference: a variant data point whose prompt and completion are byte-identical to one
already produced for the same test case (a step with no passing rephrasing and no rephrased step before
it) is dropped by default (``dedupe=True``); Rasa keeps such duplicates, over-weighting those turns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_cmdgen.recipe.conversation import Conversation
from pytest_cmdgen.recipe.conversation_yaml import Serializer
from pytest_cmdgen.recipe.substitute import substitute_user_messages
from pytest_cmdgen.runtime.commands import Command


@dataclass(frozen=True)
class DataPoint:
    """One fine-tuning example.

    Attributes:
        prompt: the command prompt (original, or with the variant's messages substituted).
        completion: the step's commands as DSL, one per line (Rasa's ``output``).
        test_id: the conversation's ``<file>::<name>`` (Rasa's ``original_test_name``).
        original_user_utterance: the step's text in the test.
        rephrased_user_utterance: the variant's text of the step; ``None`` for the original (variant 0).
        commands: the step's commands (for command-type coverage in the split).
        step_index: the index of the step among the conversation's annotated steps.
        variant: 0 for the original conversation, ``1..K`` for rephrased ones.
    """

    prompt: str
    completion: str
    test_id: str
    original_user_utterance: str
    rephrased_user_utterance: str | None
    commands: tuple[Command, ...] = ()
    step_index: int = 0
    variant: int = 0

    @property
    def command_types(self) -> frozenset[str]:
        """The command kinds of the completion (``"start flow"``, ``"set slot"``, ...)."""
        return frozenset(c.command for c in self.commands)

    def to_record(self) -> dict[str, Any]:
        """The ``llm_ft_data.jsonl`` row, keys in Rasa's order."""
        return {
            "prompt": self.prompt,
            "output": self.completion,
            "original_test_name": self.test_id,
            "original_user_utterance": self.original_user_utterance,
            "rephrased_user_utterance": self.rephrased_user_utterance,
        }


def conversation_variants(conversation: Conversation) -> list[list[str]]:
    """The messages of every variant, one text per annotated step; variant 0 is the original (§6.2)."""
    steps = conversation.annotated_steps
    variants = [[s.user for s in steps]]
    k = max((len(s.passing_rephrasings) for s in steps), default=0)
    for i in range(k):
        variants.append(
            [s.passing_rephrasings[i % len(s.passing_rephrasings)] if s.passing_rephrasings else s.user for s in steps]
        )
    return variants


def variant_prompt(conversation: Conversation, step_index: int, variant: Sequence[str]) -> str:
    """The prompt of annotated step ``step_index`` in a variant (texts of all annotated steps, in order)."""
    steps = conversation.annotated_steps
    step = steps[step_index]
    messages = conversation.sent_user_messages[: step.turn_index + 1]
    replacements = {s.turn_index: variant[j] for j, s in enumerate(steps[: step_index + 1])}
    return substitute_user_messages(step.llm_prompt, messages, replacements)


def build_data_points(conversation: Conversation, serialize: Serializer, dedupe: bool = True) -> list[DataPoint]:
    """All data points of one conversation, in Rasa 3.10's interleaved order (see the module docstring)."""
    steps = conversation.annotated_steps
    variants = conversation_variants(conversation)
    points: list[DataPoint] = []
    seen: set[tuple[str, str]] = set()
    for index, step in enumerate(steps):
        completion = serialize(list(step.commands))
        for number, variant in enumerate(variants):
            prompt = step.llm_prompt if number == 0 else variant_prompt(conversation, index, variant)
            key = (prompt, completion)
            if dedupe and key in seen:
                continue
            seen.add(key)
            points.append(
                DataPoint(
                    prompt=prompt,
                    completion=completion,
                    test_id=conversation.test_id,
                    original_user_utterance=step.user,
                    rephrased_user_utterance=None if number == 0 else variant[index],
                    commands=step.commands,
                    step_index=index,
                    variant=number,
                )
            )
    return points


def build_all_data_points(
    conversations: Iterable[Conversation], serialize: Serializer, dedupe: bool = True
) -> list[DataPoint]:
    """Data points of every conversation, conversations ordered by test id (never by completion time)."""
    points: list[DataPoint] = []
    for conversation in sorted(conversations, key=lambda c: c.test_id):
        points.extend(build_data_points(conversation, serialize, dedupe))
    return points
