"""Command-generator layout: command grammars (v1/v2/v3), prompt rendering, flow-retrieval ordering.

* :mod:`pytest_cmdgen.generator.grammar` — ``parse_commands`` / ``serialize_commands``.
* :mod:`pytest_cmdgen.generator.command_compare` — ``same_commands``, ``CommandParser``: when two answers are
  the same commands (evaluation and ``--cmdgen-compare``).
* :mod:`pytest_cmdgen.generator.prompt` — ``PromptState``, ``render_prompt``, template choice, transcript.
* :mod:`pytest_cmdgen.generator.retrieval` — ``order_prompt_flows``.
"""

from pytest_cmdgen.generator.command_compare import (
    CommandKey,
    CommandParser,
    command_key,
    command_keys,
    same_commands,
)
from pytest_cmdgen.generator.grammar import parse_commands, serialize_command, serialize_commands
from pytest_cmdgen.generator.prompt import (
    FlowSlotState,
    PromptFlow,
    PromptSlot,
    PromptState,
    TranscriptTurn,
    current_conversation,
    default_template,
    render_prompt,
    resolve_template,
)
from pytest_cmdgen.generator.retrieval import order_prompt_flows

__all__ = [
    "CommandKey",
    "CommandParser",
    "FlowSlotState",
    "PromptFlow",
    "PromptSlot",
    "PromptState",
    "TranscriptTurn",
    "command_key",
    "command_keys",
    "current_conversation",
    "default_template",
    "order_prompt_flows",
    "parse_commands",
    "render_prompt",
    "resolve_template",
    "same_commands",
    "serialize_command",
    "serialize_commands",
]
