"""The recipe with the generator package's real serializer and parser injected (v1 and v2 syntax)."""

from __future__ import annotations

from functools import partial

import pytest

from pytest_cmdgen.generator import grammar
from pytest_cmdgen.recipe.conversation_yaml import conversations_yaml, load_conversations
from pytest_cmdgen.recipe.datapoints import build_data_points
from pytest_cmdgen.recipe.rephrase import PURPOSE_VALIDATE, validate_rephrasings
from tests.recipe.recipe_support import CAR_PASSING, RecipeLLM, car_conversation, with_passing

FLOWS = ["search_rental_car", "chitchat_flow"]


@pytest.mark.parametrize(("syntax", "version"), [("v1", "3.10"), ("v2", "3.13")])
def test_round_trip_and_validation(syntax, version, llm: RecipeLLM):
    serialize = partial(grammar.serialize_commands, syntax=syntax, rasa_version=version)
    parse = partial(grammar.parse_commands, syntax=syntax, available_flow_ids=FLOWS, rasa_version=version)
    conversation = with_passing(car_conversation(), CAR_PASSING)
    (loaded,) = load_conversations(conversations_yaml([conversation], serialize), parse)
    assert [s.commands for s in loaded.annotated_steps] == [s.commands for s in conversation.annotated_steps]
    points = build_data_points(conversation, serialize)
    first = "StartFlow(search_rental_car)" if syntax == "v1" else "start flow search_rental_car"
    assert points[0].completion == first

    # a generator that answers the original commands for every paraphrase: everything passes
    llm.answer(lambda prompt: serialize(conversation.annotated_steps[1].commands), times=2)
    result = validate_rephrasings(car_conversation(), [[], ["Basel!", "Basel?"], [], []], llm.complete, parse)
    assert result.annotated_steps[1].passing_rephrasings == ("Basel!", "Basel?")
    assert llm.purposes() == [PURPOSE_VALIDATE] * 2
