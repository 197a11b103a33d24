"""Rephrased conversations (reference §6.2), data points (§6.3) and prompt substitution."""

from __future__ import annotations

from pathlib import Path

import yaml

from pytest_cmdgen.recipe.datapoints import build_all_data_points, build_data_points, conversation_variants
from pytest_cmdgen.recipe.substitute import substitute_user_messages
from tests.recipe.recipe_support import (
    CAR_ID,
    CAR_PASSING,
    CAR_TURNS,
    build_prompt,
    car_conversation,
    serialize,
    with_passing,
)

EXPECTED = Path(__file__).parent / "expected"


def test_car_rental_variants_match_the_documented_example():
    conversation = with_passing(car_conversation(), CAR_PASSING)
    expected = yaml.safe_load((EXPECTED / "car_rental_variants.yml").read_text(encoding="utf-8"))
    assert conversation_variants(conversation) == expected


def test_no_passing_rephrasing_gives_only_the_original():
    assert conversation_variants(car_conversation()) == [[t[0] for t in CAR_TURNS]]


def _expected_prompt(variant: list[str], step: int) -> str:
    """Rebuilt from scratch, as if the conversation had been held with the variant's messages."""
    history = []
    for j in range(step):
        history += [("user", variant[j]), ("bot", CAR_TURNS[j][2][0])]
    return build_prompt(history, variant[step])


def test_car_rental_data_points():
    conversation = with_passing(car_conversation(), CAR_PASSING)
    variants = conversation_variants(conversation)
    points = build_data_points(conversation, serialize)
    assert len(points) == 4 * 4  # 4 annotated steps x (original + 3 variants), no duplicates here
    expected = []
    for step in range(4):
        for number, variant in enumerate(variants):
            expected.append(
                {
                    "prompt": _expected_prompt(variant, step),
                    "output": serialize(CAR_TURNS[step][1]),
                    "original_test_name": CAR_ID,
                    "original_user_utterance": CAR_TURNS[step][0],
                    "rephrased_user_utterance": None if number == 0 else variant[step],
                }
            )
    assert [p.to_record() for p in points] == expected
    assert [(p.step_index, p.variant) for p in points[:5]] == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]


def test_wrapped_variant_prompt_by_hand():
    conversation = with_passing(car_conversation(), CAR_PASSING)
    point = [p for p in build_data_points(conversation, serialize) if p.step_index == 2 and p.variant == 3][0]
    assert point.prompt == (
        "These are the flows that can be started:\n\nrent_car: rent a car\n    slot: city\n\n"
        "===\nHere is what happened previously in the conversation:\n"
        "USER: I'm interested in hiring a car.\n"
        "AI: in which city?\n"
        "USER: The destination is Basel.\n"
        "AI: When would you like to pick up the car?\n"
        "USER: I'll require the vehicle from the 14th to the 17th of May.\n\n===\n"
        'The user just said """I\'ll require the vehicle from the 14th to the 17th of May.""".\n\n'
        "Your action list:"
    )
    assert point.completion == "SetSlot(car_rental_start_date, may 14th)\nSetSlot(car_rental_end_date, may 17th)"
    assert point.command_types == {"set slot"}


def test_identical_variant_points_are_dropped_unless_asked():
    passing = [[], ["The destination is Basel."], [], []]
    conversation = with_passing(car_conversation(), passing)
    assert len(conversation_variants(conversation)) == 2
    kept = build_data_points(conversation, serialize)
    # step 0 variant 1 is byte-identical to the original; steps 1-3 of variant 1 differ (history or message)
    assert [(p.step_index, p.variant) for p in kept] == [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]
    everything = build_data_points(conversation, serialize, dedupe=False)
    assert len(everything) == 4 * 2
    assert everything[1].prompt == everything[0].prompt
    assert everything[1].rephrased_user_utterance == everything[0].original_user_utterance


def test_all_data_points_are_ordered_by_test_id():
    b = car_conversation(name="b")
    a = car_conversation(name="a")
    points = build_all_data_points([b, a], serialize)
    assert [p.test_id.split("::")[1] for p in points] == ["a"] * 4 + ["b"] * 4


def test_substitution_only_where_the_message_stood():
    prompt = (
        "flow yes_no: answer yes\nUSER: yes\nAI: sure?\nUSER: yes, definitely\nAI: ok\nUSER: yes\n"
        'The user just said """yes""".'
    )
    out = substitute_user_messages(prompt, ["yes", "yes, definitely", "yes"], {2: "absolutely"})
    assert out == (
        "flow yes_no: answer yes\nUSER: yes\nAI: sure?\nUSER: yes, definitely\nAI: ok\nUSER: absolutely\n"
        'The user just said """absolutely""".'
    )
    # the first "yes" (same text, different position) is replaced on its own
    out = substitute_user_messages(prompt, ["yes", "yes, definitely", "yes"], {0: "yep"})
    assert out.split("\n")[1:4] == ["USER: yep", "AI: sure?", "USER: yes, definitely"]
    assert out.endswith('"""yes""".')


def test_substitution_tolerates_truncated_history_and_error_placeholders():
    prompt = "USER: [User input triggered an error]\nAI: hm\nUSER: two\nAI: x\nUSER: three"
    out = substitute_user_messages(prompt, ["zero", "one", "two", "three"], {2: "2", 3: "3", 0: "0"})
    assert out == "USER: [User input triggered an error]\nAI: hm\nUSER: 2\nAI: x\nUSER: 3"


def test_substitution_falls_back_to_plain_replacement_for_custom_templates():
    prompt = "Message: book a car please\nRespond."
    assert substitute_user_messages(prompt, ["book a car please"], {0: "rent me a car"}) == (
        "Message: rent me a car\nRespond."
    )
    assert substitute_user_messages(prompt, ["book a car please"], {}) == prompt


def test_multiline_messages_are_matched_in_their_prompt_form():
    prompt = 'USER: line one line two\nThe user just said """line one line two""".'
    out = substitute_user_messages(prompt, ["line one\nline two"], {0: "new"})
    assert out == 'USER: new\nThe user just said """new""".'
