"""The fine-tuning recipe (Rasa's ``rasa llm finetune prepare-data``, quirks fixed), usable without pytest.

Modules, in pipeline order: :mod:`.annotate` (passing test → :class:`~.conversation.Conversation`),
:mod:`.rephrase` (paraphrases and their validation), :mod:`.datapoints` (variants → data points),
:mod:`.split` (train/validation split, row formats, E2E split), :mod:`.pieces` (one final conversation's
share of the output, computable before the others are final) and :mod:`.output` (the atomic output
directory). LLM access, the command serializer and the command parser are injected callables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_cmdgen._lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_cmdgen.recipe.annotate import annotate_test_case
    from pytest_cmdgen.recipe.conversation import AnnotatedStep, Conversation, FailedRephrasing
    from pytest_cmdgen.recipe.datapoints import DataPoint, build_all_data_points
    from pytest_cmdgen.recipe.output import RecipeOutput, make_params, read_params, result_summary, write_output
    from pytest_cmdgen.recipe.pieces import ConversationPieces, conversation_pieces
    from pytest_cmdgen.recipe.rephrase import RephraseConfig, RephraseError, load_rephrase_config, rephrase_conversation
    from pytest_cmdgen.recipe.split import SplitResult, format_row, split_data_points
    from pytest_cmdgen.recipe.transport import conversation_from_dict, conversation_to_dict

__getattr__ = lazy_exports(
    __name__,
    {
        "annotate_test_case": "annotate",
        "AnnotatedStep": "conversation",
        "build_all_data_points": "datapoints",
        "Conversation": "conversation",
        "conversation_from_dict": "transport",
        "conversation_pieces": "pieces",
        "ConversationPieces": "pieces",
        "conversation_to_dict": "transport",
        "DataPoint": "datapoints",
        "FailedRephrasing": "conversation",
        "format_row": "split",
        "load_rephrase_config": "rephrase",
        "make_params": "output",
        "read_params": "output",
        "RecipeOutput": "output",
        "rephrase_conversation": "rephrase",
        "RephraseConfig": "rephrase",
        "RephraseError": "rephrase",
        "result_summary": "output",
        "split_data_points": "split",
        "SplitResult": "split",
        "write_output": "output",
    },
)

__all__ = [
    "AnnotatedStep",
    "Conversation",
    "ConversationPieces",
    "DataPoint",
    "FailedRephrasing",
    "RecipeOutput",
    "RephraseConfig",
    "RephraseError",
    "SplitResult",
    "annotate_test_case",
    "build_all_data_points",
    "conversation_from_dict",
    "conversation_pieces",
    "conversation_to_dict",
    "format_row",
    "load_rephrase_config",
    "make_params",
    "read_params",
    "rephrase_conversation",
    "result_summary",
    "split_data_points",
    "write_output",
]
