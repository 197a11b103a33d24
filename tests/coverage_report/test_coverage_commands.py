"""Command type names in the spellings users meet."""

from __future__ import annotations

import pytest

from pytest_cmdgen.coverage.commands import (
    HISTOGRAM_COMMANDS,
    LLM_COMMANDS,
    CommandNameError,
    canonical_command,
    resolve_command_names,
)
from pytest_cmdgen.errors import CmdgenInputError


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("start flow", "start flow"),
        ("StartFlow", "start flow"),
        ("startflow", "start flow"),
        ("START_FLOW", "start flow"),
        ("StartFlow()", "start flow"),
        ("StartFlowCommand", "start flow"),
        ("SetSlot", "set slot"),
        ("  set   slot ", "set slot"),
        ("CancelFlow", "cancel flow"),
        ("ChitChat", "chitchat"),
        ("offtopic reply", "chitchat"),
        ("SearchAndReply", "knowledge"),
        ("search and reply", "knowledge"),
        ("provide info", "knowledge"),
        ("HumanHandoff", "human handoff"),
        ("hand over", "human handoff"),
        ("disambiguate flows", "clarify"),
        ("SkipQuestion", "skip question"),
        ("CannotHandle", "cannot handle"),
        ("repeat message", "repeat"),
    ],
)
def test_every_spelling_maps_to_the_histogram_name(spelling: str, canonical: str) -> None:
    assert canonical_command(spelling) == canonical


def test_rasas_histogram_commands_are_all_known_and_sorted() -> None:
    assert HISTOGRAM_COMMANDS == (
        "cancel flow",
        "chitchat",
        "clarify",
        "human handoff",
        "knowledge",
        "set slot",
        "skip question",
        "start flow",
    )
    assert set(HISTOGRAM_COMMANDS) <= set(LLM_COMMANDS)


def test_names_are_resolved_in_order_without_duplicates() -> None:
    assert resolve_command_names(["SetSlot", "start flow", "set slot"]) == ("set slot", "start flow")


def test_an_unknown_name_is_an_input_error_listing_the_valid_ones() -> None:
    with pytest.raises(CommandNameError) as info:
        resolve_command_names(["start flow", "start flwo"])
    assert isinstance(info.value, CmdgenInputError)
    message = str(info.value)
    assert "unknown command type 'start flwo'" in message
    assert all(name in message for name in LLM_COMMANDS)
