"""How the scripted LLM server decides what to answer (pure logic, no HTTP).

* :func:`parse_command_prompt` finds the conversation in a command-generator prompt: the user messages of
  the readable transcript (``USER: ...`` lines) and the latest message (the triple-quoted text after
  ``The user just said`` in the v1 template, after ``the user's last message:`` in the v2/v3 templates).
* :func:`parse_rephrase_prompt` recognises Rasa's default rephrase prompt and extracts its parameters.
* :class:`AnnotationIndex` holds annotated conversations (``1_command_annotations`` /
  ``2_rephrasings`` YAML) and finds the annotated turn a prompt's conversation corresponds to.
* :func:`format_rephrasings` writes a rephraser answer in the format Rasa's parser reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_cmdgen.yamlio import load_marked_file

# ---------------------------------------------------------------------------------------------- prompts
_LATEST_PATTERNS = (
    re.compile(r'The user just said """(.*)"""', re.MULTILINE),
    re.compile(r'user\'s last message: """(.*)"""', re.MULTILINE),
)
_GENERIC_LATEST = re.compile(r'^.*"""(.*)""".?$', re.MULTILINE)
_TRANSCRIPT_SECTIONS = (
    ("Here is what happened previously in the conversation:\n", "\n\n==="),
    ("## Conversation History\n", "\n\n---"),
)
_USER_PREFIX = "USER: "

_REPHRASE_MARKER = re.compile(r"Create multiple rephrasings of user messages")
_REPHRASE_NAME = re.compile(r'tailored to the "(.*)" conversation scenario\.')
_REPHRASE_COUNT = re.compile(r"Produce (\d+) rephrasings for each user message")
_REPHRASE_MESSAGES = re.compile(r"user messages in the expected\nformat:\n(.*)\Z", re.DOTALL)


@dataclass(frozen=True)
class PromptConversation:
    """The conversation found in a command-generator prompt.

    ``user_messages`` are the transcript's user messages in order, ending with ``latest``.
    """

    user_messages: tuple[str, ...]
    latest: str


@dataclass(frozen=True)
class RephraseRequest:
    """The parameters of a rendered default rephrase prompt (reference §5.2)."""

    test_case_name: str
    count: int
    messages: tuple[str, ...]


def parse_command_prompt(prompt: str) -> PromptConversation | None:
    """Extract the conversation from a v1, v2 or v3 command prompt; ``None`` if it is not one."""
    latest: str | None = None
    for pattern in _LATEST_PATTERNS:
        found = list(pattern.finditer(prompt))
        if found:
            latest = found[-1].group(1)
            break
    if latest is None:
        found = list(_GENERIC_LATEST.finditer(prompt))
        if not found:
            return None
        latest = found[-1].group(1)
    section = _transcript_section(prompt)
    users = [line[len(_USER_PREFIX) :] for line in section.split("\n") if line.startswith(_USER_PREFIX)]
    if not users or users[-1].strip() != latest.strip():
        users.append(latest)
    return PromptConversation(tuple(users), latest)


def _transcript_section(prompt: str) -> str:
    for header, end in _TRANSCRIPT_SECTIONS:
        start = prompt.find(header)
        if start >= 0:
            body = prompt[start + len(header) :]
            stop = body.find(end)
            return body if stop < 0 else body[:stop]
    return prompt


def parse_rephrase_prompt(prompt: str) -> RephraseRequest | None:
    """Recognise the default rephrase prompt; ``None`` for any other prompt."""
    if not _REPHRASE_MARKER.search(prompt):
        return None
    name = _REPHRASE_NAME.search(prompt)
    count = _REPHRASE_COUNT.search(prompt)
    listed = _REPHRASE_MESSAGES.search(prompt)
    messages: list[str] = []
    if listed:
        messages = [line[2:] for line in listed.group(1).split("\n") if line.startswith("- ")]
    return RephraseRequest(
        test_case_name=name.group(1) if name else "",
        count=int(count.group(1)) if count else 3,
        messages=tuple(messages),
    )


_VARIANTS = (
    "{m}, please",
    "Could you help me with this: {m}",
    "Well, {m}",
    "I was wondering: {m}",
    "Hey there. {m}",
    "So, {m}",
    "Quick one: {m}",
    "Hi! {m}",
)


def derived_rephrasings(message: str, count: int) -> list[str]:
    """``count`` deterministic variants of ``message`` (used when no rephrasings were scripted)."""
    out = []
    for i in range(count):
        text = _VARIANTS[i % len(_VARIANTS)].format(m=message)
        if i >= len(_VARIANTS):
            text = f"{text} (take {i // len(_VARIANTS) + 1})"
        out.append(text)
    return out


def format_rephrasings(blocks: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A rephraser answer: per message ``USER: <message>`` then ``1. ...`` lines; blank lines between."""
    parts = []
    for message, rephrasings in blocks:
        lines = [f"USER: {message}"] + [f"{i}. {text}" for i, text in enumerate(rephrasings, start=1)]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------- index
@dataclass
class AnnotatedTurn:
    """One user step of an annotated conversation."""

    user: str
    commands: list[str] | None
    passing: list[str] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)

    @property
    def annotated(self) -> bool:
        """Whether the step has ``llm_commands`` (went through the command generator)."""
        return self.commands is not None

    def kind_of(self, message: str) -> str | None:
        """``"original"``, ``"passing"`` or ``"failing"`` if ``message`` is this step's text or rephrasing."""
        text = _norm(message)
        if text == _norm(self.user):
            return "original"
        if text in (_norm(p) for p in self.passing):
            return "passing"
        if text in (_norm(f) for f in self.failing):
            return "failing"
        return None


@dataclass
class AnnotatedConversation:
    """An annotated conversation: its test case name and its user steps in order."""

    name: str
    turns: list[AnnotatedTurn]


@dataclass(frozen=True)
class TurnMatch:
    """Result of :meth:`AnnotationIndex.match`: the turn, how the latest message matched, the suffix size."""

    conversation: AnnotatedConversation
    turn: AnnotatedTurn
    kind: str
    matched_messages: int
    exact: bool


def load_conversations(source: str | Path | Mapping[str, Any]) -> list[AnnotatedConversation]:
    """Read annotated conversations from a YAML file, a directory of them, or an already-parsed mapping."""
    if isinstance(source, Mapping):
        documents: Iterable[Any] = [source]
    else:
        path = Path(source)
        files = sorted([*path.rglob("*.yml"), *path.rglob("*.yaml")]) if path.is_dir() else [path]
        documents = [load_marked_file(f) for f in files]
    conversations = []
    for document in documents:
        for raw in (document or {}).get("conversations") or []:
            turns = []
            for step in raw.get("steps") or []:
                if not isinstance(step, Mapping) or "user" not in step:
                    continue
                commands = step.get("llm_commands")
                turns.append(
                    AnnotatedTurn(
                        user=str(step["user"]),
                        commands=None if commands is None else [str(c) for c in commands],
                        passing=[str(r) for r in step.get("passing_rephrasings") or []],
                        failing=[str(r) for r in step.get("failing_rephrasings") or []],
                    )
                )
            conversations.append(AnnotatedConversation(str(raw.get("original_test_case", "")), turns))
    return conversations


class AnnotationIndex:
    """Annotated conversations to answer command and rephrase prompts from."""

    def __init__(self) -> None:
        """Create an empty index."""
        self.conversations: list[AnnotatedConversation] = []
        self._by_text: dict[str, list[tuple[int, int]]] = {}
        self._by_user: dict[str, list[tuple[int, int]]] = {}
        self._indexed: int | None = None  # how many conversations _by_text was built from (None: stale)

    def add(self, conversations: Iterable[AnnotatedConversation]) -> None:
        """Add conversations; one already present (same name and user texts) gets the new rephrasings."""
        for new in conversations:
            existing = next((c for c in self.conversations if _same(c, new)), None)
            if existing is None:
                self.conversations.append(new)
                continue
            for old_turn, new_turn in zip(existing.turns, new.turns, strict=True):
                if new_turn.commands is not None:
                    old_turn.commands = new_turn.commands
                old_turn.passing = new_turn.passing or old_turn.passing
                old_turn.failing = new_turn.failing or old_turn.failing
        self._indexed = None

    def match(self, conversation: PromptConversation) -> TurnMatch | None:
        """The annotated turn whose conversation up to it best equals the prompt's user messages.

        Preference: an exact match of all user messages; else the longest matching suffix (at least the
        latest message); on equal length a turn whose original text (not a rephrasing) is the latest
        message; then file order.
        """
        messages = conversation.user_messages
        best: TurnMatch | None = None
        best_score: tuple[bool, int, bool] | None = None
        for ci, j in self._turns_with(messages[-1]):  # in file order, as a scan of every turn would go
            conv = self.conversations[ci]
            turn = conv.turns[j]
            kind = turn.kind_of(messages[-1])
            if kind is None:
                continue
            size = 1
            while size < len(messages) and size <= j and conv.turns[j - size].kind_of(messages[-1 - size]):
                size += 1
            exact = size == len(messages) == j + 1
            score = (exact, size, kind == "original")
            if best_score is None or score > best_score:
                best_score = score
                best = TurnMatch(conv, turn, kind, size, exact)
        return best

    def _turns_with(self, message: str) -> list[tuple[int, int]]:
        """(conversation, turn) positions of the annotated turns whose text or a rephrasing is ``message``,
        in file order: a scan of every turn per prompt made the scripted server's answers cost time in
        proportion to the suite (a benchmark of a thousand tests measured the server)."""
        self._build_index()
        return self._by_text.get(_norm(message), [])

    def _build_index(self) -> None:
        count = len(self.conversations)
        if self._indexed == count:
            return  # built again after add() (or a conversation appended directly)
        by_text: dict[str, list[tuple[int, int]]] = {}
        by_user: dict[str, list[tuple[int, int]]] = {}
        for ci, conv in enumerate(self.conversations[:count]):
            for j, turn in enumerate(conv.turns):
                by_user.setdefault(_norm(turn.user), []).append((ci, j))
                if turn.annotated:
                    for text in {_norm(turn.user), *map(_norm, turn.passing), *map(_norm, turn.failing)}:
                        by_text.setdefault(text, []).append((ci, j))
        self._by_text, self._by_user, self._indexed = by_text, by_user, count

    def rephrasings_for(self, test_case_name: str, message: str) -> tuple[list[str], list[str]] | None:
        """Recorded (passing, failing) rephrasings of ``message``, preferring the named test case."""

        def named(conv: AnnotatedConversation) -> bool:
            return bool(test_case_name) and (conv.name == test_case_name or conv.name.endswith(f"::{test_case_name}"))

        self._build_index()
        positions = self._by_user.get(_norm(message), [])  # in file order; the named test case's first
        for ci, j in sorted(positions, key=lambda position: not named(self.conversations[position[0]])):
            turn = self.conversations[ci].turns[j]
            if turn.passing or turn.failing:
                return list(turn.passing), list(turn.failing)
        return None


def _norm(text: str) -> str:
    """Messages as prompts show them: newlines become spaces (reference §9.4), outer blanks dropped."""
    return text.replace("\n", " ").strip()


def _same(a: AnnotatedConversation, b: AnnotatedConversation) -> bool:
    return a.name == b.name and [t.user for t in a.turns] == [t.user for t in b.turns]
