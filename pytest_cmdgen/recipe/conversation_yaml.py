"""Conversation YAML files of ``1_command_annotations/`` and ``2_rephrasings/`` (reference §3, §4.4).

The format is Rasa's (``conversations: [{original_test_case, steps}]``; annotated steps carry ``user``,
``llm_commands`` and, after rephrasing, ``passing_rephrasings`` / ``failing_rephrasings``) with these
fixes and additions:

* one file holds **every** conversation of its test file (Rasa overwrote the file per test case, so only
  the last one survived), and files mirror the test file's relative path instead of its basename (two
  ``tests.yml`` in different folders no longer collide);
* ``rephrase: false`` is written for button-click steps and ``failing_rephrasings_details`` lists, for
  each failing rephrasing, the commands its answer missed and the unexpected ones. Both keys are ours;
  a reader of Rasa's format ignores them.

Prompts are not part of the format, so conversations read back (:func:`load_conversations`) carry empty
prompts: good for inspection and diffs, not for building data points.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import yaml

from pytest_cmdgen.recipe.conversation import (
    AnnotatedStep,
    BotMessageStep,
    Conversation,
    ConversationStep,
    FailedRephrasing,
    UserMessageStep,
    split_test_id,
)
from pytest_cmdgen.runtime.commands import Command
from pytest_cmdgen.yamlio import YAML12_IMPLICIT_RESOLVERS, load_marked

Serializer = Callable[[Sequence[Command]], str]
"""Commands → DSL text, one command per line (the generator's syntax)."""

CommandParser = Callable[[str], list[Command]]
"""DSL text (an LLM answer) → commands."""


class _Dumper(yaml.SafeDumper):
    """SafeDumper that also quotes the strings YAML 1.2 reads as numbers (``08001``, ``1e3``, ``0o17``), so that
    Rasa (ruamel, YAML 1.2), :mod:`pytest_cmdgen.yamlio` and YAML 1.1 readers all read back the text written;
    dict and list subclasses (yamlio's marked containers) are written as plain mappings and lists."""


#: The same dumper over libyaml's emitter (several times faster on the dataset files), when PyYAML has it;
#: its output is the pure-Python emitter's, byte for byte (tests/recipe/test_recipe_output.py checks).
_CDumper: type[Any] | None = None
if getattr(yaml, "__with_libyaml__", False):

    class _CDumper(yaml.CSafeDumper):  # type: ignore[no-redef]
        """:class:`_Dumper` over libyaml's emitter."""


for _dumper in (_Dumper, _CDumper):
    if _dumper is None:
        continue
    for _tag, _regexp, _first in YAML12_IMPLICIT_RESOLVERS:
        if _tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
            _dumper.add_implicit_resolver(_tag, _regexp, list(_first))
    _dumper.add_multi_representer(dict, yaml.SafeDumper.represent_dict)
    _dumper.add_multi_representer(list, yaml.SafeDumper.represent_list)


#: Characters libyaml's emitter escapes where PyYAML's writes them as they are (NEL, beyond the BMP: emoji).
_LIBYAML_ESCAPES = re.compile("[\x85\U00010000-\U0010ffff]")


def _libyaml_writes_the_same(data: Any) -> bool:
    """Whether no string in ``data`` (keys included) holds a character the two emitters write differently."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _LIBYAML_ESCAPES.search(item):
                return False
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return True


def dump_yaml(data: Any, *, pure_python: bool = False) -> str:
    """YAML text with stable key order, unicode kept, no line wrapping and ``null`` for None.

    Written by libyaml's emitter when PyYAML has it and the two emitters write ``data`` the same, else (or with
    ``pure_python``) by PyYAML's: the bytes never depend on which one wrote them.
    """
    if _CDumper is not None and not pure_python and _libyaml_writes_the_same(data):
        # libyaml: a negative width is "never wrap"
        return yaml.dump(data, Dumper=_CDumper, sort_keys=False, allow_unicode=True, width=-1, default_flow_style=False)
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=float("inf"), default_flow_style=False
    )


def _dsl_lines(commands: Sequence[Command], serialize: Serializer) -> list[str]:
    text = serialize(list(commands))
    return [line for line in text.split("\n") if line] if text else []


def step_to_dict(step: ConversationStep, serialize: Serializer) -> dict[str, Any] | None:
    """The YAML mapping of one step (§4.4 rules), or None for a step that is not written."""
    if isinstance(step, AnnotatedStep):
        data: dict[str, Any] = {"user": step.user, "llm_commands": _dsl_lines(step.commands, serialize)}
        if not step.rephrase:
            data["rephrase"] = False
        if step.passing_rephrasings:
            data["passing_rephrasings"] = list(step.passing_rephrasings)
        if step.failing_rephrasings:
            data["failing_rephrasings"] = [f.text for f in step.failing_rephrasings]
            data["failing_rephrasings_details"] = [_failure_to_dict(f, serialize) for f in step.failing_rephrasings]
        return data
    if isinstance(step, UserMessageStep):
        return {"user": step.user}
    if step.template is not None:
        return {"utter": step.template}
    if step.text is not None:
        return {"bot": step.text}
    return None


def _failure_to_dict(failure: FailedRephrasing, serialize: Serializer) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rephrasing": failure.text,
        "missing": _dsl_lines(failure.missing, serialize),
        "unexpected": _dsl_lines(failure.unexpected, serialize),
    }
    if failure.error is not None:
        data["error"] = failure.error
    return data


def conversation_to_dict(conversation: Conversation, serialize: Serializer) -> dict[str, Any]:
    """``{original_test_case, steps}`` of one conversation."""
    steps = [d for d in (step_to_dict(s, serialize) for s in conversation.steps) if d is not None]
    return {"original_test_case": conversation.test_id, "steps": steps}


def conversations_yaml(conversations: Iterable[Conversation], serialize: Serializer) -> str:
    """The text of one conversation file (``conversations:`` list, in the given order)."""
    return conversations_file_text([conversation_item_yaml(c, serialize) for c in conversations])


def conversation_item_yaml(conversation: Conversation, serialize: Serializer) -> str:
    """One conversation as an item of a conversation file's list (``- original_test_case: ...`` lines).

    A file is its items one after the other (:func:`conversations_file_text`): PyYAML writes the list under
    ``conversations:`` without indenting it, exactly as it writes a list on its own, so an item can be
    rendered as soon as its conversation is final.
    """
    return dump_yaml([conversation_to_dict(conversation, serialize)])


def conversations_file_text(items: Sequence[str]) -> str:
    """A conversation file made of items from :func:`conversation_item_yaml`, in the given order."""
    return "conversations:\n" + "".join(items) if items else dump_yaml({"conversations": []})


def conversation_file_path(test_id: str) -> str:
    """Relative path (POSIX) of the conversation file of a test id, mirroring the test file's path.

    ``e2e/happy.yml::x`` → ``e2e/happy.yml``; an absolute path loses its root; ``..`` parts become ``__``;
    a test id without a file gives ``<name>.yaml`` (as Rasa does).
    """
    file, name = split_test_id(test_id)
    if not file:
        return f"{name}.yaml"
    path = PurePosixPath(file.replace("\\", "/"))
    parts = [("__" if p == ".." else p) for p in path.parts if p not in ("/", ".", "")]
    if parts and parts[0].endswith(":"):  # a Windows drive
        parts = parts[1:]
    return "/".join(parts) if parts else f"{name}.yaml"


def group_by_file(conversations: Iterable[Conversation]) -> dict[str, list[Conversation]]:
    """Conversations grouped by :func:`conversation_file_path`, files and conversations sorted by test id."""
    groups: dict[str, list[Conversation]] = {}
    for conversation in sorted(conversations, key=lambda c: c.test_id):
        groups.setdefault(conversation_file_path(conversation.test_id), []).append(conversation)
    return dict(sorted(groups.items()))


# --- reading -----------------------------------------------------------------------------------------------


def _parse_lines(lines: Any, parse: CommandParser) -> tuple[Command, ...]:
    commands: list[Command] = []
    for line in lines or []:
        commands.extend(parse(str(line)))
    return tuple(commands)


def _step_from_dict(data: Mapping[str, Any], parse: CommandParser, turn_index: int) -> ConversationStep:
    if "user" in data:
        text = str(data["user"])
        if "llm_commands" not in data:
            return UserMessageStep(user=text, turn_index=turn_index)
        details = {d.get("rephrasing"): d for d in data.get("failing_rephrasings_details") or []}
        failures = []
        for failed in data.get("failing_rephrasings") or []:
            detail = details.get(failed) or {}
            failures.append(
                FailedRephrasing(
                    text=str(failed),
                    missing=_parse_lines(detail.get("missing"), parse),
                    unexpected=_parse_lines(detail.get("unexpected"), parse),
                    error=detail.get("error"),
                )
            )
        return AnnotatedStep(
            user=text,
            line=0,
            llm_prompt="",
            commands=_parse_lines(data.get("llm_commands"), parse),
            rephrase=bool(data.get("rephrase", True)),
            turn_index=turn_index,
            passing_rephrasings=tuple(str(p) for p in data.get("passing_rephrasings") or []),
            failing_rephrasings=tuple(failures),
        )
    if "utter" in data:
        return BotMessageStep(template=str(data["utter"]))
    if "bot" in data:
        return BotMessageStep(text=str(data["bot"]))
    raise ValueError(f"unknown conversation step {dict(data)!r}")


def load_conversations(text: str, parse: CommandParser) -> list[Conversation]:
    """Read a conversation file; ``parse`` turns one ``llm_commands`` line back into commands.

    User steps get ``turn_index`` by position (every user step counted as sent); prompts are empty.
    """
    document = load_marked(text, "<conversations>") or {}
    conversations: list[Conversation] = []
    for entry in document.get("conversations") or []:
        steps: list[ConversationStep] = []
        turn_index = 0
        for raw in entry.get("steps") or []:
            step = _step_from_dict(raw, parse, turn_index)
            if isinstance(step, (AnnotatedStep, UserMessageStep)):
                turn_index += 1
            steps.append(step)
        conversations.append(Conversation(test_id=str(entry["original_test_case"]), steps=tuple(steps)))
    return conversations
