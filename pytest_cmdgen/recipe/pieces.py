"""What one final conversation contributes to the output directory, computed once it is final.

The output is made of per-conversation parts (data points, an item of its ``1_command_annotations`` file and
one of its ``2_rephrasings`` file) put together in test-id order, plus what needs them all (the split, the
summary). :func:`conversation_pieces` computes the parts of one conversation, so a session can do it for each
conversation as soon as its paraphrases are validated, while other conversations still wait for the LLM,
rather than for all of them after the last answer. The result is the same bytes either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_cmdgen.recipe.conversation import Conversation
from pytest_cmdgen.recipe.conversation_yaml import Serializer, conversation_item_yaml
from pytest_cmdgen.recipe.datapoints import DataPoint, build_data_points


@dataclass(frozen=True)
class ConversationPieces:
    """One final conversation's share of the output.

    Attributes:
        conversation: the conversation (annotated and, when rephrased, with its paraphrases).
        data_points: its data points, in Rasa's order (:func:`~.datapoints.build_data_points`).
        annotations_item: its item of the ``1_command_annotations`` file (without paraphrases).
        rephrasings_item: its item of the ``2_rephrasings`` file.
    """

    conversation: Conversation
    data_points: tuple[DataPoint, ...]
    annotations_item: str
    rephrasings_item: str


def conversation_pieces(conversation: Conversation, serialize: Serializer) -> ConversationPieces:
    """Compute the output parts of a final ``conversation`` (commands written with ``serialize``)."""
    return ConversationPieces(
        conversation=conversation,
        data_points=tuple(build_data_points(conversation, serialize)),
        annotations_item=conversation_item_yaml(conversation.without_rephrasings(), serialize),
        rephrasings_item=conversation_item_yaml(conversation, serialize),
    )


__all__ = ["ConversationPieces", "conversation_pieces"]
