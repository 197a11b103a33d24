"""``ScriptedCommandSource``: answer free-text user turns from a command script (offline / regression mode).

A script is the ``1_command_annotations`` conversation YAML (reference §4.4)::

    conversations:
    - original_test_case: tests/happy_paths/transfer.yml::transfer money
      steps:
      - user: I want to send money to Robert
        llm_commands:
        - start flow transfer_money
        - set slot payee_name Robert
      - user: /SetSlots(timing=now)          # not answered by the LLM: no llm_commands needed

For each message the runtime sends to its command source, the script entry of the running test case is
looked up by user text, in order (a cursor moves past every answered step, so repeated texts are answered
by their own entries). The DSL lines are parsed with the project's grammar
(:func:`pytest_cmdgen.generator.grammar.parse_commands`) exactly like an LLM answer, so the runtime sees
the same commands a good LLM would produce — without any LLM call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pytest_cmdgen.generator.grammar import parse_commands
from pytest_cmdgen.generator.prompt import component_syntax
from pytest_cmdgen.runtime.errors import CommandSourceError
from pytest_cmdgen.runtime.interfaces import CommandPrediction, CommandRequest
from pytest_cmdgen.yamlio import YamlSyntaxError, load_marked


class ScriptError(CommandSourceError):
    """A command script is malformed, or has no answer for a message (names the test case and text)."""


@dataclass(frozen=True)
class ScriptedStep:
    """One user step of a script: its text and the DSL lines (None for steps the LLM never sees)."""

    user: str
    llm_commands: tuple[str, ...] | None = None


@dataclass
class ScriptedConversation:
    """The script of one test case (``original_test_case`` = ``<file>::<test case name>``)."""

    original_test_case: str
    steps: list[ScriptedStep] = field(default_factory=list)

    @property
    def file(self) -> str:
        """The file part of ``original_test_case`` (may be empty)."""
        return self.original_test_case.rpartition("::")[0]

    @property
    def name(self) -> str:
        """The test case name part of ``original_test_case``."""
        return self.original_test_case.rpartition("::")[2]


@dataclass
class CommandScript:
    """All scripted conversations, looked up by test id."""

    conversations: list[ScriptedConversation] = field(default_factory=list)

    @classmethod
    def from_data(cls, data: Any, source: str = "<script>") -> CommandScript:
        """Build from the parsed YAML (``{conversations: [...]}``)."""
        if not isinstance(data, dict) or not isinstance(data.get("conversations"), list):
            raise ScriptError(f"{source}: expected a mapping with a 'conversations' list")
        out: list[ScriptedConversation] = []
        for i, conv in enumerate(data["conversations"]):
            if not isinstance(conv, dict) or not isinstance(conv.get("original_test_case"), str):
                raise ScriptError(f"{source}: conversation {i} needs 'original_test_case: <file>::<name>'")
            steps: list[ScriptedStep] = []
            for j, raw in enumerate(conv.get("steps") or []):
                if not isinstance(raw, dict) or "user" not in raw:
                    continue  # bot/utter steps are allowed and ignored
                commands = raw.get("llm_commands")
                if commands is not None and (
                    not isinstance(commands, list) or not all(isinstance(c, str) for c in commands)
                ):
                    raise ScriptError(
                        f"{source}: {conv['original_test_case']} step {j}: llm_commands must be a list of strings"
                    )
                steps.append(
                    ScriptedStep(
                        user=str(raw["user"]).strip(), llm_commands=None if commands is None else tuple(commands)
                    )
                )
            out.append(ScriptedConversation(conv["original_test_case"], steps))
        return cls(out)

    @classmethod
    def load(cls, paths: Path | str | Iterable[Path | str]) -> CommandScript:
        """Load one script file, every ``*.yml``/``*.yaml`` under a folder, or a list of those."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        script = cls()
        for path in paths:
            path = Path(path)
            files = sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")) if path.is_dir() else [path]
            for file in files:
                script.conversations.extend(cls.from_data(_read_yaml(file), str(file)).conversations)
        return script

    def find(self, test_id: str) -> ScriptedConversation | None:
        """The conversation for ``<file>::<name>``: exact id, else same name with a path-suffix match, else
        the only conversation with that name."""
        file, _, name = test_id.rpartition("::")
        same_name = [c for c in self.conversations if c.name == name]
        for conv in same_name:
            if conv.original_test_case == test_id:
                return conv
        for conv in same_name:
            if file and conv.file and _path_suffix_match(file, conv.file):
                return conv
        if len(same_name) == 1 and (not file or not same_name[0].file):
            return same_name[0]
        if len(same_name) == 1:
            return same_name[0]
        return None


def _read_yaml(file: Path) -> Any:
    """The script's YAML through the package's one bounded YAML 1.2 loader (:mod:`pytest_cmdgen.yamlio`)."""
    try:
        return load_marked(file.read_text(encoding="utf-8"), file)
    except OSError as exc:
        raise ScriptError(f"cannot read the command script: {exc.strerror or exc}", file=file) from None
    except UnicodeDecodeError as exc:
        raise ScriptError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=file) from None
    except YamlSyntaxError as exc:
        raise ScriptError(exc.problem, file=file, line=exc.mark.line if exc.mark else None) from None


def _path_suffix_match(a: str, b: str) -> bool:
    pa, pb = PurePosixPath(Path(a).as_posix()).parts, PurePosixPath(Path(b).as_posix()).parts
    n = min(len(pa), len(pb))
    return n > 0 and pa[-n:] == pb[-n:]


def case_id(test_case: Any) -> str:
    """``<file>::<name>`` of a :class:`~pytest_cmdgen.e2e.model.TestCase`."""
    return f"{Path(test_case.file).as_posix()}::{test_case.name}"


#: ``parse(dsl_text, syntax, available_flow_ids, rasa_version) -> commands``.
Parser = Callable[[str, str, Sequence[str], str], list[Any]]


def default_parser(text: str, syntax: str, flow_ids: Sequence[str], rasa_version: str) -> list[Any]:
    """Parse DSL lines with the project grammar (:func:`pytest_cmdgen.generator.grammar.parse_commands`)."""
    return parse_commands(text, syntax, flow_ids, rasa_version)  # type: ignore[arg-type]


@dataclass
class ScriptedCommandSource:
    """A ``CommandSource`` answering each message the runtime would send to the LLM from a script.

    Bind it to a test case with :meth:`for_test_case` (one source per conversation); an unbound source
    finds the test case by the tracker's sender id (``<name>_<timestamp>``). ``strict`` raises
    :class:`ScriptError` for a message the script does not answer; otherwise that message gets no commands
    (the runtime's "no commands" fallback, CannotHandle). ``prompt_builder`` may render the prompt that
    would have been sent, so annotation has an ``llm_prompt``.
    """

    script: CommandScript
    test_id: str | None = None
    strict: bool = True
    parser: Parser = default_parser
    prompt_builder: Callable[[Any], str | None] | None = None
    _cursor: int = field(default=0, init=False)
    _conversation: ScriptedConversation | None = field(default=None, init=False)
    answered: list[tuple[str, tuple[str, ...]]] = field(default_factory=list, init=False)

    def for_test_case(self, test_case: Any) -> ScriptedCommandSource:
        """A fresh source for one test case (a TestCase or its ``<file>::<name>`` id)."""
        test_id = test_case if isinstance(test_case, str) else case_id(test_case)
        return ScriptedCommandSource(
            self.script, test_id, strict=self.strict, parser=self.parser, prompt_builder=self.prompt_builder
        )

    def _resolve(self, request: CommandRequest) -> ScriptedConversation:
        if self._conversation is not None:
            return self._conversation
        conv = self.script.find(self.test_id) if self.test_id else None
        if conv is None and self.test_id is None:
            sender = request.tracker.sender_id
            matches = [c for c in self.script.conversations if sender.startswith(f"{c.name}_")]
            conv = max(matches, key=lambda c: len(c.name)) if matches else None
        if conv is None:
            raise ScriptError(f"no command script for test case {self.test_id or request.tracker.sender_id!r}")
        self._conversation = conv
        return conv

    def lookup(self, text: str, request: CommandRequest) -> tuple[str, ...] | None:
        """The DSL lines answering ``text`` (moving the cursor past them), or None."""
        conv = self._resolve(request)
        for index in range(self._cursor, len(conv.steps)):
            step = conv.steps[index]
            if step.user == text and step.llm_commands is not None:
                self._cursor = index + 1
                return step.llm_commands
        return None

    def predict(self, request: CommandRequest) -> CommandPrediction:
        """The scripted commands for the request's message (parsed like an LLM answer)."""
        text = request.text.strip()
        lines = self.lookup(text, request)
        if lines is None:
            if self.strict:
                conv = self._resolve(request)
                raise ScriptError(
                    f"the command script of {conv.original_test_case!r} has no llm_commands for user "
                    f"message {text!r} (at or after scripted step {self._cursor + 1})"
                )
            lines = ()
        self.answered.append((text, lines))
        generator = request.project.config.generator
        syntax = component_syntax(generator.name if generator else None)
        flow_ids = sorted(request.available_flow_ids)
        commands = self.parser("\n".join(lines), syntax, flow_ids, request.profile.version) if lines else []
        prompt = self.prompt_builder(request) if self.prompt_builder else None
        return CommandPrediction(
            commands=list(commands),
            llm_prompt=prompt,
            llm_commands=[c.as_dict() for c in commands],
        )


__all__ = [
    "CommandPrediction",
    "CommandScript",
    "ScriptError",
    "ScriptedCommandSource",
    "ScriptedConversation",
    "ScriptedStep",
    "default_parser",
    "case_id",
]
