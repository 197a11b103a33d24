"""Annotation (reference §4.2) and the conversation YAML files (§4.4)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pytest_cmdgen.e2e import model as m
from pytest_cmdgen.recipe.annotate import TurnInput, annotate_test_case, llm_annotation, should_rephrase
from pytest_cmdgen.recipe.conversation import (
    AnnotatedStep,
    BotMessageStep,
    FailedRephrasing,
    UserMessageStep,
    split_test_id,
)
from pytest_cmdgen.recipe.conversation_yaml import (
    conversation_file_path,
    conversation_to_dict,
    conversations_yaml,
    dump_yaml,
    group_by_file,
    load_conversations,
)
from pytest_cmdgen.runtime.commands import SetSlot, StartFlow
from pytest_cmdgen.runtime.events import BotUttered
from tests.recipe.recipe_support import (
    CAR_ID,
    CAR_PASSING,
    car_conversation,
    parse,
    serialize,
    turns_for,
    user_event,
    with_passing,
)

EXPECTED = Path(__file__).parent / "expected"


def test_car_rental_annotation_keeps_every_step_in_order():
    conversation = car_conversation()
    assert conversation.test_id == CAR_ID
    kinds = [type(s).__name__ for s in conversation.steps]
    assert kinds == [
        "AnnotatedStep",
        "BotMessageStep",
        "AnnotatedStep",
        "BotMessageStep",
        "AnnotatedStep",
        "BotMessageStep",
        "AnnotatedStep",
    ]
    annotated = conversation.annotated_steps
    assert [s.turn_index for s in annotated] == [0, 1, 2, 3]
    assert all(s.rephrase for s in annotated)
    assert annotated[1].commands == (SetSlot("trip_destination", "Basel"),)
    assert annotated[0].llm_prompt.endswith('The user just said """I\'d like to book a car""".\n\nYour action list:')
    assert conversation.steps[5] == BotMessageStep(template="utter_ask_car_rental_selection", line=8)
    assert conversation.transcript.startswith("USER: I'd like to book a car\nAI: in which city?")


def _one_turn(*events, text="hi"):
    return TurnInput(user_text=text, events=list(events))


def test_exactly_one_user_message_with_prompt_and_commands():
    good = user_event("hi", "PROMPT", [StartFlow("a")])
    assert llm_annotation(_one_turn(good)) == ("PROMPT", [StartFlow("a")])
    assert llm_annotation(_one_turn(good, good)) is None
    assert llm_annotation(_one_turn(user_event("hi", None, [StartFlow("a")]))) is None
    assert llm_annotation(_one_turn(user_event("hi", "PROMPT", None))) is None
    assert llm_annotation(_one_turn(user_event("hi", "", [StartFlow("a")]))) is None
    assert llm_annotation(_one_turn(user_event("hi", "PROMPT", []))) is None
    # a second user message without the keys does not count
    assert llm_annotation(_one_turn(good, user_event("hi", None, None))) is not None
    bad = user_event("hi", "PROMPT", None)
    bad.parse_data["llm_commands"] = [{"command": "nonsense"}]
    assert llm_annotation(_one_turn(bad)) is None


def test_button_payload_rule():
    buttons = {"buttons": [{"title": "Yes", "payload": "Yes please"}, {"title": "No", "payload": "/SetSlots(x=1)"}]}
    previous = _one_turn(BotUttered(text="first", data={}), BotUttered(text="sure?", data=buttons))
    assert should_rephrase("yes PLEASE", previous) is False
    assert should_rephrase("yes", previous) is True
    assert should_rephrase("anything", None) is True
    no_buttons = _one_turn(BotUttered(text="sure?", data=buttons), BotUttered(text="last", data={}))
    assert should_rephrase("yes please", no_buttons) is True  # only the LAST bot message counts


def _case(steps, name="t"):
    return m.TestCase(name=name, steps=tuple(steps), line=1, file=Path("tests/a.yml"))


def test_un_annotated_steps_mismatched_text_unsent_steps_and_trailing_steps():
    steps = [
        m.UserStep(line=2, text="hello"),
        m.UserStep(line=3, text="/SetSlots(x=1)"),
        m.UserStep(line=4, text="bye"),
        m.UserStep(line=5, text="never sent"),
    ]
    specs = [
        ("hello", [StartFlow("greet")], ("hi!", None), None),
        ("/SetSlots(x=1)", None, ("ok", None), None),
        ("bye", [StartFlow("goodbye")], ("ciao", None), None),
    ]
    turns, transcript = turns_for(specs, [0, 1, 2])
    conversation = annotate_test_case(_case(steps), turns, transcript)
    assert conversation is not None
    assert [type(s) for s in conversation.steps] == [AnnotatedStep, UserMessageStep, AnnotatedStep, UserMessageStep]
    assert conversation.steps[1] == UserMessageStep(user="/SetSlots(x=1)", line=3, turn_index=1)
    assert conversation.steps[3].turn_index is None
    assert conversation.annotated_steps[1].turn_index == 2  # the trailing user step is annotated (3.10)
    assert conversation.sent_user_messages == ["hello", "/SetSlots(x=1)", "bye"]

    # a turn whose text differs from the step is not annotated
    turns[0] = TurnInput(user_text="HELLO", events=turns[0].events)
    conversation = annotate_test_case(_case(steps), turns, transcript)
    assert isinstance(conversation.steps[0], UserMessageStep)


def test_no_annotated_step_gives_none():
    steps = [m.UserStep(line=2, text="/SetSlots(x=1)")]
    turns, transcript = turns_for([("/SetSlots(x=1)", None, ("ok", None), None)], [0])
    assert annotate_test_case(_case(steps), turns, transcript) is None


def test_assertion_format_gets_synthetic_bot_steps():
    assertion = m.ActionExecutedAssertion(line=3, action_name="utter_greet")
    steps = [
        m.UserStep(line=2, text="hello", assertions=(assertion,)),
        m.UserStep(line=4, text="bye", assertions=(assertion,)),
    ]
    specs = [
        ("hello", [StartFlow("greet")], ("Hi there", "utter_greet"), None),
        ("bye", [StartFlow("goodbye")], ("Bye", None), None),
    ]
    turns, transcript = turns_for(specs, [0, 1])
    conversation = annotate_test_case(_case(steps), turns, transcript)
    assert [type(s) for s in conversation.steps] == [AnnotatedStep, BotMessageStep, AnnotatedStep, BotMessageStep]
    assert conversation.steps[1] == BotMessageStep(text="Hi there", template="utter_greet", line=2, synthetic=True)
    assert conversation.steps[3].template is None and conversation.steps[3].text == "Bye"


def test_button_click_is_not_rephrased_in_a_conversation():
    steps = [m.UserStep(line=2, text="book"), m.UserStep(line=3, text="economy")]
    buttons = {"buttons": [{"title": "Economy", "payload": "Economy"}]}
    specs = [
        ("book", [StartFlow("book")], ("Which class?", None), buttons),
        ("economy", [SetSlot("class", "economy")], ("ok", None), None),
    ]
    turns, transcript = turns_for(specs, [0, 1])
    conversation = annotate_test_case(_case(steps), turns, transcript)
    assert [s.rephrase for s in conversation.annotated_steps] == [True, False]


def _rephrased_car():
    conversation = with_passing(car_conversation(), CAR_PASSING)
    first = conversation.annotated_steps[1]
    failing = FailedRephrasing(
        text="Basel is nice",
        missing=(SetSlot("trip_destination", "Basel"),),
        unexpected=(StartFlow("chitchat"),),
        answer="StartFlow(chitchat)",
    )
    steps = list(conversation.annotated_steps)
    steps[1] = replace(first, failing_rephrasings=(failing,))
    return conversation.with_annotated_steps(steps)


def test_conversation_yaml_matches_the_hand_written_file():
    text = conversations_yaml([_rephrased_car()], serialize)
    assert text == (EXPECTED / "car_rental_rephrasings.yml").read_text(encoding="utf-8")
    annotations = conversations_yaml([car_conversation()], serialize)
    assert annotations == (EXPECTED / "car_rental_annotations.yml").read_text(encoding="utf-8")


def test_a_file_of_items_is_the_same_bytes_as_the_whole_list_dumped_at_once():
    tricky = [
        ["line one\nline two", "- looks like an item", "key: value # not a comment"],
        ["emoji 🚗 (libyaml escapes it)", "'single' and \"double\" quotes", "  leading blanks"],
        ["NEL \x85 inside", "yes", "null"],
        ["~", "@at", "tab\there"],
    ]
    conversations = [with_passing(car_conversation(name=f"case {i}"), tricky) for i in range(3)]
    whole = dump_yaml({"conversations": [conversation_to_dict(c, serialize) for c in conversations]})
    assert conversations_yaml(conversations, serialize) == whole
    assert conversations_yaml(conversations[:1], serialize) == dump_yaml(
        {"conversations": [conversation_to_dict(conversations[0], serialize)]}
    )
    assert conversations_yaml([], serialize) == "conversations: []\n"


def test_conversation_yaml_round_trip():
    original = _rephrased_car()
    (loaded,) = load_conversations(conversations_yaml([original], serialize), parse)
    assert loaded.test_id == original.test_id
    for got, want in zip(loaded.annotated_steps, original.annotated_steps, strict=True):
        assert (got.user, got.commands, got.rephrase, got.passing_rephrasings) == (
            want.user,
            want.commands,
            want.rephrase,
            want.passing_rephrasings,
        )
        assert [(f.text, f.missing, f.unexpected) for f in got.failing_rephrasings] == [
            (f.text, f.missing, f.unexpected) for f in want.failing_rephrasings
        ]
    assert [type(s) for s in loaded.steps] == [type(s) for s in original.steps]


def test_every_test_case_of_a_file_is_kept_and_paths_mirror_the_test_file():
    a = car_conversation(name="b second")
    b = car_conversation(name="a first")
    c = car_conversation(file="other/car_rental.yml")
    groups = group_by_file([a, c, b])
    assert list(groups) == ["e2e_tests/car_rental.yml", "other/car_rental.yml"]
    assert [x.name for x in groups["e2e_tests/car_rental.yml"]] == ["a first", "b second"]
    assert conversation_file_path("/abs/dir/t.yml::x") == "abs/dir/t.yml"
    assert conversation_file_path("../up/t.yml::x") == "__/up/t.yml"
    assert conversation_file_path("no file") == "no file.yaml"
    assert split_test_id("f.yml::name::with::colons") == ("f.yml", "name::with::colons")
