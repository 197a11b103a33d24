"""``--cmdgen-compare``'s comparison on plain records: the same "same commands" as the trainer's evaluation,
and turns lined up by their user text, so an edited test is marked, not counted as diverging."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from pytest_cmdgen.generator.command_compare import CommandParser, same_commands
from pytest_cmdgen.generator.grammar import serialize_commands
from pytest_cmdgen.recipe.conversation import AnnotatedStep, Conversation, UserMessageStep
from pytest_cmdgen.recipe.conversation_yaml import conversation_file_path
from pytest_cmdgen.runtime.commands import CannotHandle, ChitChat, Clarify, Command, SetSlot, StartFlow
from pytest_cmdgen.session.compare import COMPARISON_FILE, compare_runs, write_comparison
from pytest_cmdgen.trainer.command_metrics import score

TEST_ID = "tests/rental.yml::book a car"


def _step(user: str, commands: tuple[Command, ...], turn: int) -> AnnotatedStep:
    return AnnotatedStep(user=user, line=0, llm_prompt="p", commands=commands, rephrase=True, turn_index=turn)


def _teacher(*steps: AnnotatedStep | UserMessageStep) -> dict[tuple[str, str], Conversation]:
    conversation = Conversation(TEST_ID, tuple(steps))
    return {(conversation_file_path(TEST_ID), conversation.name): conversation}


def _turn(user: str, commands: list[Command] | None, line: int = 1) -> dict[str, Any]:
    if commands is None:
        return {"line": line, "user": user, "status": "no_llm"}
    return {"line": line, "user": user, "status": "llm", "commands": [c.as_dict() for c in commands]}


def _compare(teacher: dict[tuple[str, str], Conversation], *turns: dict[str, Any], tmp: Path) -> Any:
    records = {TEST_ID: {"passed": True, "turns": list(turns)}}
    return compare_runs(records, {}, teacher, tmp, lambda cs: serialize_commands(cs, "v1", "3.12"), "student")


def test_same_commands_is_the_evaluations_definition() -> None:
    parser = CommandParser("v1", "3.12", ("a", "b"))
    cases = [
        ([Clarify(("a", "b"))], [Clarify(("b", "a"))], True),  # a Clarify's options are a set
        ([CannotHandle("r1")], [CannotHandle("r2")], True),  # the reason does not count
        ([CannotHandle()], [], True),  # no command is Rasa's CannotHandle fallback
        ([StartFlow("a"), SetSlot("x", "1")], [SetSlot("x", "1"), StartFlow("a")], True),  # order ignored
        ([SetSlot("x", "1")], [SetSlot("x", "2")], False),
        ([StartFlow("a")], [StartFlow("a"), ChitChat()], False),
    ]
    for expected, produced, same in cases:
        assert same_commands(expected, produced) is same, (expected, produced)
        label, answer = (serialize_commands(cs, "v1", "3.12") for cs in (expected, produced))
        if label and answer:  # the evaluation, from the same texts, agrees
            assert score(parser, label, answer).exact is same, (label, answer)


def test_turns_match_as_the_evaluation_compares(tmp_path: Path) -> None:
    teacher = _teacher(
        _step("which one?", (Clarify(("a", "b")),), 0),
        UserMessageStep("/SetSlots(x=1)", turn_index=1),
        _step("help", (StartFlow("a"), SetSlot("x", "1")), 2),
    )
    comparison = _compare(
        teacher,
        _turn("which one?", [Clarify(("b", "a"))]),
        _turn("/SetSlots(x=1)", None),
        _turn("help", [SetSlot("x", "2"), StartFlow("a")], line=7),
        tmp=tmp_path,
    )
    (test,) = comparison.tests
    assert [turn.status for turn in test.turns] == ["match", "differ"]
    assert test.first_divergence is not None and test.first_divergence.line == 7
    assert not test.changed_since_annotation and comparison.changed_since_annotation == 0


def test_an_edited_test_is_changed_since_annotation_not_diverging(tmp_path: Path) -> None:
    teacher = _teacher(_step("hi", (StartFlow("a"),), 0), _step("bye", (StartFlow("b"),), 1))
    for turns in (
        (_turn("hello", [StartFlow("a")]), _turn("bye", [StartFlow("b")])),  # a user text edited
        (_turn("new", [ChitChat()]), _turn("hi", [StartFlow("a")]), _turn("bye", [StartFlow("b")])),  # one inserted
        (_turn("hi", [StartFlow("a")]),),  # one removed
    ):
        comparison = _compare(teacher, *turns, tmp=tmp_path)
        (test,) = comparison.tests
        assert test.changed_since_annotation and test.teacher_passed
        assert test.turns == [] and test.first_divergence is None
        assert comparison.turns_compared == 0 and comparison.changed_since_annotation == 1

    written = write_comparison(tmp_path, comparison)
    assert written == tmp_path / COMPARISON_FILE
    report = json.loads(written.read_text(encoding="utf-8"))
    assert report["teacher"]["changed_since_annotation"] == 1
    assert report["tests"][0]["changed_since_annotation"] is True
    assert report["turns"] == {"compared": 0, "exact_match": 0, "exact_match_rate": None}
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(written.stat().st_mode) == 0o666 & ~umask
