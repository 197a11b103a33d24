"""``--cmdgen-compare OUT_DIR``: this run's commands side by side with the teacher's, from a prepare run.

The teacher is the LLM whose answers a ``--cmdgen-prepare`` run annotated (``OUT_DIR/1_command_annotations/``:
one conversation per test case that passed, with the commands of every user turn that went to the LLM).
This run (usually with ``--cmdgen-llm`` naming the fine-tuned model) runs the same tests; per test case
:func:`run_record` keeps, for every user step, the commands the command generator produced (plain data, so
an xdist worker ships it), and :func:`compare_runs` lines both up, user step by user step:

* the E2E pass rate of both (the teacher passed a test when the prepare run annotated it);
* per user turn the teacher annotated, whether this run produced the same commands: exact match compares
  the two command sets by type and arguments, order ignored (as ``rasa test du``), exactly as the trainer's
  evaluation does (:func:`pytest_cmdgen.generator.command_compare.same_commands`);
* per test case, the first user turn that diverged, with the expected and the produced commands.

The turns are lined up by position and checked by their user text: a test case whose user turns are not
those the teacher annotated (the test was edited since the prepare run) is marked *changed since
annotation* and none of its turns is compared, rather than every later turn counting as a divergence.

:func:`write_comparison` writes ``OUT_DIR/model/e2e_comparison.json`` atomically. The test cases of
another file layout are matched by their file path relative to the split directory they were copied to
(``4_train_test_split/e2e_tests/<side>/``), else by their test id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_cmdgen.atomic import write_text_atomic
from pytest_cmdgen.errors import CmdgenError
from pytest_cmdgen.generator.command_compare import CommandParser, same_commands
from pytest_cmdgen.recipe.conversation import AnnotatedStep, Conversation, UserMessageStep, split_test_id
from pytest_cmdgen.recipe.conversation_yaml import conversation_file_path, load_conversations
from pytest_cmdgen.recipe.output import ANNOTATIONS_DIR, E2E_SPLIT_DIR
from pytest_cmdgen.runtime.commands import Command, command_from_dict

COMPARISON_FILE = "model/e2e_comparison.json"
"""Where the comparison is written, relative to the prepare output directory."""
VALIDATION_TESTS_DIR = f"{E2E_SPLIT_DIR}/validation"
"""The validation side's E2E tests: the default tests to compare on (the model did not train on them)."""

Serializer = Callable[[Sequence[Command]], str]


def rate(part: int, whole: int) -> float | None:
    """``part / whole``; ``None`` when ``whole`` is 0 (the rates of the JSON file and of the summary)."""
    return part / whole if whole else None


# --- what a run records (builtins, shippable between processes) ---------------------------------------------


def run_record(test_case: Any, run: Any) -> dict[str, Any]:
    """One test case's run as the comparison needs it: passed, and per user step the produced commands.

    ``turns`` has one entry per user step of the test case, in order: ``line``, ``user``, ``status``
    (``llm``: the command generator answered, ``no_llm``: the turn did not go to it, ``not_reached``: the
    run stopped before it), ``commands`` (the command dicts, for ``llm``) and ``answer`` (the raw answer,
    when it gave no command).
    """
    from pytest_cmdgen.e2e import model as m
    from pytest_cmdgen.e2e.runner import parse_data_of

    turns: list[dict[str, Any]] = []
    for index, step in enumerate(test_case.steps):
        if not isinstance(step, m.UserStep):
            continue
        entry: dict[str, Any] = {"line": step.line, "user": step.text, "status": "not_reached"}
        turn = run.turns.get(index)
        if turn is not None:
            data = parse_data_of(turn) or {}
            if "llm_prompt" in data and "llm_commands" in data:
                entry["status"] = "llm"
                entry["commands"] = list(data["llm_commands"] or [])
                if data.get("llm_answer") is not None:
                    entry["answer"] = data["llm_answer"]
            else:
                entry["status"] = "no_llm"
        turns.append(entry)
    return {"passed": bool(run.result.passed), "turns": turns}


def error_record(test_case: Any, error: BaseException) -> dict[str, Any]:
    """The record of a test case whose run raised (an LLM call that failed): failed, no turn produced."""
    from pytest_cmdgen.e2e import model as m

    turns = [
        {"line": step.line, "user": step.text, "status": "not_reached"}
        for step in test_case.steps
        if isinstance(step, m.UserStep)
    ]
    return {"passed": False, "error": str(error), "turns": turns}


def unparsed_answers(run: Any, up_to_line: int | None = None) -> list[tuple[int, str, str]]:
    """``(line, user message, answer)`` of every user turn (up to ``up_to_line``) whose LLM answer gave no
    command: what a failure report shows, so a malformed model answer is seen, not guessed."""
    from pytest_cmdgen.e2e import model as m
    from pytest_cmdgen.e2e.runner import parse_data_of

    found = []
    for index, step in enumerate(run.test_case.steps):
        if not isinstance(step, m.UserStep) or index not in run.turns:
            continue
        if up_to_line is not None and step.line > up_to_line:
            break
        answer = (parse_data_of(run.turns[index]) or {}).get("llm_answer")
        if answer is not None:
            found.append((step.line, step.text, str(answer)))
    return found


# --- the comparison ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnComparison:
    """One user turn the teacher annotated, with what this run produced."""

    line: int
    """The user step's line in this run's test file."""
    user: str
    expected: list[str]
    """The teacher's commands, one per line in the generator's syntax."""
    produced: list[str] | None
    """This run's commands (``None``: the turn was not reached, or did not go to the command generator)."""
    match: bool
    """The same commands (:func:`~pytest_cmdgen.generator.command_compare.same_commands`: the two command sets
    equal by type and arguments, order ignored)."""
    status: str
    """``match``, ``differ``, ``not_reached`` or ``no_llm``."""
    answer: str | None = None
    """The model's raw answer when it gave no command."""


@dataclass(frozen=True)
class TestComparison:
    """One test case of this run next to the teacher's annotation of it."""

    __test__ = False

    test_id: str
    teacher_test_id: str | None
    """The annotated conversation it was matched with (``None``: the teacher did not pass it)."""
    teacher_passed: bool
    passed: bool
    turns: list[TurnComparison] = field(default_factory=list)
    first_divergence: TurnComparison | None = None
    error: str | None = None
    changed_since_annotation: bool = False
    """Its user turns are not those the teacher annotated (edited since the prepare run): none is compared."""

    @property
    def turns_matching(self) -> int:
        """How many compared turns produced the teacher's commands."""
        return sum(1 for turn in self.turns if turn.match)


@dataclass(frozen=True)
class E2EComparison:
    """This run against the teacher: pass rates, per-turn exact match, per test the first divergence."""

    model: str
    """Which model produced this run's commands."""
    teacher: str
    """Where the teacher's annotations were read."""
    tests: list[TestComparison]

    @property
    def passed(self) -> int:
        """Test cases this run passed."""
        return sum(1 for test in self.tests if test.passed)

    @property
    def teacher_passed(self) -> int:
        """Test cases the teacher passed (annotated in the prepare run)."""
        return sum(1 for test in self.tests if test.teacher_passed)

    @property
    def changed_since_annotation(self) -> int:
        """Test cases whose user turns no longer line up with the teacher's annotation (not compared)."""
        return sum(1 for test in self.tests if test.changed_since_annotation)

    @property
    def turns_compared(self) -> int:
        """User turns the teacher annotated, over the test cases it passed."""
        return sum(len(test.turns) for test in self.tests)

    @property
    def turns_matching(self) -> int:
        """Of those, the turns where this run produced the same commands."""
        return sum(test.turns_matching for test in self.tests)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what ``e2e_comparison.json`` holds)."""

        def rounded(part: int, whole: int) -> float | None:
            value = rate(part, whole)
            return None if value is None else round(value, 4)

        count = len(self.tests)
        return {
            "model": {
                "llm": self.model,
                "tests": count,
                "passed": self.passed,
                "pass_rate": rounded(self.passed, count),
            },
            "teacher": {
                "annotations": self.teacher,
                "tests": count,
                "passed": self.teacher_passed,
                "pass_rate": rounded(self.teacher_passed, count),
                "changed_since_annotation": self.changed_since_annotation,
            },
            "turns": {
                "compared": self.turns_compared,
                "exact_match": self.turns_matching,
                "exact_match_rate": rounded(self.turns_matching, self.turns_compared),
            },
            "tests": [
                {**asdict(test), "turns_compared": len(test.turns), "turns_matching": test.turns_matching}
                for test in self.tests
            ],
        }


def load_teacher(out_dir: Path, parser: CommandParser) -> dict[tuple[str, str], Conversation]:
    """The teacher's annotated conversations of ``out_dir``, keyed by (conversation file path, test name);
    ``parser`` reads their commands.

    Raises:
        CmdgenError: there is no ``1_command_annotations/`` in ``out_dir``, or a file cannot be read.
    """
    root = out_dir / ANNOTATIONS_DIR
    if not root.is_dir():
        raise CmdgenError(
            f"{out_dir} has no {ANNOTATIONS_DIR}/: --cmdgen-compare needs the output directory of a --cmdgen-prepare "
            "run"
        )
    teacher: dict[tuple[str, str], Conversation] = {}
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()):
        try:
            conversations = load_conversations(path.read_text(encoding="utf-8"), parser.parse)
        except (OSError, ValueError, KeyError, TypeError, CmdgenError) as exc:
            raise CmdgenError(f"cannot read the teacher's annotations {path}: {exc}") from None
        for conversation in conversations:
            key = (conversation_file_path(conversation.test_id), conversation.name)
            teacher[key] = conversation
    return teacher


def teacher_key(test_id: str, source: str | None, out_dir: Path) -> tuple[str, str]:
    """The teacher's key for a test case of this run: its file relative to the split directory it was copied
    to (``<out>/4_train_test_split/e2e_tests/<side>/``), else its test id's file."""
    file, name = split_test_id(test_id)
    if source:
        split_root = (out_dir / E2E_SPLIT_DIR).resolve()
        path = Path(source).resolve()
        if split_root in path.parents:
            relative = path.relative_to(split_root)
            if len(relative.parts) > 1:
                return Path(*relative.parts[1:]).as_posix(), name
    return conversation_file_path(f"{file}::{name}"), name


def _lined_up(
    user_steps: Sequence[AnnotatedStep | UserMessageStep], run_turns: Sequence[Mapping[str, Any]]
) -> bool:
    """This run's user turns are the teacher's, one by one: as many, with the same user text."""
    if len(user_steps) != len(run_turns):
        return False
    pairs = zip(user_steps, run_turns, strict=True)
    return all(step.user.strip() == str(turn.get("user") or "").strip() for step, turn in pairs)


def compare_runs(
    records: Mapping[str, Mapping[str, Any]],
    sources: Mapping[str, str],
    teacher: Mapping[tuple[str, str], Conversation],
    out_dir: Path,
    serialize: Serializer,
    model: str,
) -> E2EComparison:
    """Compare this run's records (test id → :func:`run_record`) with the teacher's conversations."""
    by_name: dict[str, list[Conversation]] = {}
    for taught_conversation in teacher.values():
        by_name.setdefault(taught_conversation.name, []).append(taught_conversation)

    def lines(commands: Sequence[Command]) -> list[str]:
        return [line for line in serialize(list(commands)).splitlines() if line.strip()] if commands else []

    tests: list[TestComparison] = []
    for test_id in sorted(records):
        record = records[test_id]
        key = teacher_key(test_id, sources.get(test_id.rpartition("::")[0]), out_dir)  # as the runner keys it
        conversation: Conversation | None = teacher.get(key)
        if conversation is None and len(by_name.get(key[1], ())) == 1:  # moved file, same unique test name
            conversation = by_name[key[1]][0]
        turns: list[TurnComparison] = []
        changed = False
        if conversation is not None:
            user_steps = [s for s in conversation.steps if isinstance(s, (AnnotatedStep, UserMessageStep))]
            run_turns = list(record.get("turns") or [])
            changed = not _lined_up(user_steps, run_turns)
            for taught, produced in zip(user_steps, run_turns, strict=False):
                if changed or not isinstance(taught, AnnotatedStep):
                    continue
                status = produced.get("status")
                made = [command_from_dict(c) for c in produced.get("commands") or []] if status == "llm" else None
                same = made is not None and same_commands(taught.commands, made)
                turns.append(
                    TurnComparison(
                        line=int(produced.get("line") or 0),
                        user=str(produced.get("user") or taught.user),
                        expected=lines(taught.commands),
                        produced=None if made is None else lines(made),
                        match=same,
                        status="match" if same else ("differ" if made is not None else str(status)),
                        answer=produced.get("answer"),
                    )
                )
        tests.append(
            TestComparison(
                test_id=test_id,
                teacher_test_id=conversation.test_id if conversation is not None else None,
                teacher_passed=conversation is not None,
                passed=bool(record.get("passed")),
                turns=turns,
                first_divergence=next((turn for turn in turns if not turn.match), None),
                error=record.get("error"),
                changed_since_annotation=changed,
            )
        )
    return E2EComparison(model=model, teacher=str(out_dir / ANNOTATIONS_DIR), tests=tests)


def write_comparison(out_dir: Path, comparison: E2EComparison) -> Path:
    """Write ``out_dir/model/e2e_comparison.json`` atomically (a temporary file renamed over it)."""
    text = json.dumps(comparison.to_dict(), ensure_ascii=False, indent=2) + "\n"
    return write_text_atomic(out_dir / COMPARISON_FILE, text)


__all__ = [
    "COMPARISON_FILE",
    "VALIDATION_TESTS_DIR",
    "E2EComparison",
    "TestComparison",
    "TurnComparison",
    "compare_runs",
    "error_record",
    "load_teacher",
    "rate",
    "run_record",
    "teacher_key",
    "unparsed_answers",
    "write_comparison",
]
