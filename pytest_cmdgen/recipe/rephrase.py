"""Module 2 of the recipe: paraphrasing user messages and validating the paraphrases (reference §5).

* :func:`load_rephrase_config` reads and checks a ``--rephrase-config`` file as Rasa does (§5.1): only the
  keys ``prompt_template`` and ``llm``; ``llm`` non-null and naming ``model`` or ``model_name``. Errors
  name ``file:line:column`` and the key.
* :func:`render_rephrase_prompt` renders the default template (``data/rephrase_prompt.jinja2``, Rasa's
  verbatim) or a custom one with plain ``jinja2.Template`` (§5.2).
* :func:`request_rephrasings` makes the one call per conversation and parses the answer robustly
  (:func:`parse_rephrasings`); an answer that yields nothing for any message is asked again, a bounded
  number of times, then :class:`RephraseAnswerError` is raised.
* :func:`validate_rephrasings` sends, for every paraphrase, the step's recorded prompt with the paraphrase
  everywhere the original message stood (:mod:`.substitute`, our fix of §15 quirks 3/4), parses the answer
  and compares the commands with the original ones by Rasa's command equality (§9.6: StartFlow by flow,
  SetSlot by name *and value*, Clarify by options, CannotHandle by reason, the rest by type) as a
  multiset. All calls of one conversation are submitted before any answer is awaited.

LLM access is an injected :data:`Completer`: ``complete(prompt, purpose)`` returning the answer text,
or a future of it (anything with ``.result()``), or an object with a ``.text`` attribute.
:func:`llm_completer` builds the one a session uses from its :class:`~pytest_cmdgen.llm.LLMService`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from pytest_cmdgen.errors import CmdgenError, CmdgenInputError, InputFileError
from pytest_cmdgen.llm.priority import REPHRASE_PRIORITY, VALIDATION_PRIORITY, call_priority
from pytest_cmdgen.llm.purpose import Purpose
from pytest_cmdgen.recipe.conversation import AnnotatedStep, Conversation, FailedRephrasing
from pytest_cmdgen.recipe.conversation_yaml import CommandParser
from pytest_cmdgen.recipe.substitute import substitute_user_messages
from pytest_cmdgen.runtime.commands import Command
from pytest_cmdgen.versions import profile_for
from pytest_cmdgen.yamlio import MarkedDict, YamlSyntaxError, load_marked

if TYPE_CHECKING:
    from pytest_cmdgen.llm.config import LLMConfig
    from pytest_cmdgen.llm.service import LLMService

logger = logging.getLogger(__name__)

Completer = Callable[[str, str], Any]
"""``complete(prompt, purpose)`` → answer text, a future of it, or an object with ``.text``."""

PURPOSE_REPHRASE = Purpose.REPHRASING
"""The ``purpose`` passed to the completer for the paraphrasing call."""

PURPOSE_VALIDATE = Purpose.VALIDATION
"""The ``purpose`` passed to the completer for the validation calls."""

USER_PREFIX = "USER"
"""The ``user_prefix`` variable of the rephrase prompt."""

MAX_REPHRASES = 49
"""The largest ``--num-rephrases`` Rasa accepts (``choices=range(0, 50)``)."""

ALLOWED_KEYS = ("prompt_template", "llm")
"""The only keys a rephrase config may have."""


class RephraseError(CmdgenError):
    """Rephrasing a conversation failed (the LLM call or a validation call)."""


class RephraseAnswerError(RephraseError):
    """The rephrasing answer could not be parsed, after every allowed attempt."""


def llm_completer(service: LLMService, rephraser: LLMConfig, validator: LLMConfig) -> Completer:
    """The :data:`Completer` of a session: every call goes through ``service`` as one ``user`` message.

    The paraphrasing call (purpose :data:`PURPOSE_REPHRASE`) asks ``rephraser``, the rephrase config's LLM;
    every other call (the validation calls, :data:`PURPOSE_VALIDATE`) asks ``validator``, the assistant's
    command-generator LLM, as Rasa's validation does. Each call returns the service's future of a
    :class:`~pytest_cmdgen.llm.Completion`, so a conversation's validation calls run concurrently; the
    purpose is passed on for the usage meter. A call waiting for a slot queues behind every conversation
    turn's, and a validation call also behind every rephrase call (:mod:`pytest_cmdgen.llm.priority`).
    """

    def complete(prompt: str, purpose: str) -> Any:
        rephrasing = purpose == PURPOSE_REPHRASE
        llm = rephraser if rephrasing else validator
        with call_priority(REPHRASE_PRIORITY if rephrasing else VALIDATION_PRIORITY):
            return service.submit_chat(llm, [{"role": "user", "content": prompt}], purpose=purpose)

    return complete


# --- config ------------------------------------------------------------------------------------------------


def default_rephrase_llm(rasa_version: str = "3.10") -> dict[str, Any]:
    """The rephraser's default ``llm`` config of a Rasa version (reference §5.1, modern §3.2).

    The table lives in the version profile (:attr:`~pytest_cmdgen.versions.VersionProfile.rephrase_llm`).
    """
    return dict(profile_for(rasa_version).rephrase_llm)


def default_rephrase_template() -> str:
    """Rasa's default rephrase prompt template (verbatim data, reference §5.2)."""
    return resources.files("pytest_cmdgen").joinpath("data/rephrase_prompt.jinja2").read_text(encoding="utf-8")


@dataclass(frozen=True)
class RephraseConfig:
    """A rephrase config merged onto the defaults (shallow, as Rasa: a user ``llm`` replaces the default).

    Attributes:
        prompt_template: the template path as written in the file (``None``: the default template).
        llm: the rephraser's LLM config, unexpanded (``${VAR}`` references kept).
        template_text: the template to render (the default when the path was unreadable).
        source: the config file, if any.
    """

    prompt_template: str | None
    llm: dict[str, Any]
    template_text: str = field(repr=False, default="")
    source: Path | None = None

    def as_params(self) -> dict[str, Any]:
        """The ``rephrase_config`` entry of ``params.yaml`` (template path and LLM config)."""
        return {"prompt_template": self.prompt_template, "llm": dict(self.llm)}


def load_rephrase_config(path: str | Path | None, rasa_version: str = "3.10") -> RephraseConfig:
    """Read and validate a rephrase config file (reference §5.1); ``None`` gives the defaults.

    Raises :class:`~pytest_cmdgen.errors.InputFileError` (``file:line:column: key: problem``) for an unknown
    key, a null or non-mapping ``llm``, an ``llm`` without ``model``/``model_name``, or a non-string
    ``prompt_template``. An unreadable template file only logs a warning; the default template is used.
    """
    defaults = RephraseConfig(None, default_rephrase_llm(rasa_version), default_rephrase_template())
    if path is None:
        return defaults
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CmdgenInputError(f"{source}: cannot read the rephrase config: {exc.strerror or exc}") from None
    try:
        data = load_marked(text, source)
    except YamlSyntaxError as exc:
        raise InputFileError(source, exc.mark, None, exc.problem) from None
    if data is None:
        return replace(defaults, source=source)
    if not isinstance(data, MarkedDict):
        raise InputFileError(source, getattr(data, "mark", None), None, "the rephrase config must be a mapping")
    for key in data:
        if key not in ALLOWED_KEYS:
            raise InputFileError(
                source, data.key_mark(key), str(key), f"unknown key; allowed keys are {', '.join(ALLOWED_KEYS)}"
            )
    llm = defaults.llm
    if "llm" in data:
        raw_llm = data["llm"]
        if not isinstance(raw_llm, dict):
            raise InputFileError(source, data.key_mark("llm"), "llm", "must be a mapping with 'model' or 'model_name'")
        if "model" not in raw_llm and "model_name" not in raw_llm:
            raise InputFileError(source, data.key_mark("llm"), "llm", "must contain 'model' or 'model_name'")
        llm = _plain(raw_llm)
    template_path = data.get("prompt_template")
    template_text = defaults.template_text
    if template_path is not None:
        if not isinstance(template_path, str):
            raise InputFileError(source, data.key_mark("prompt_template"), "prompt_template", "must be a file path")
        template_text = _read_template(template_path, source) or template_text
    return RephraseConfig(template_path, llm, template_text, source)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _read_template(template_path: str, config_file: Path) -> str | None:
    candidates = [Path(template_path)]
    if not Path(template_path).is_absolute():
        candidates.append(config_file.parent / template_path)
    for candidate in candidates:
        try:
            return candidate.read_text(encoding="utf-8")
        except OSError:
            continue
    logger.warning(
        "rephrase config %s: cannot read prompt_template %r; using the default template", config_file, template_path
    )
    return None


# --- the rephrasing call -------------------------------------------------------------------------------


def render_rephrase_prompt(conversation: Conversation, num_rephrases: int, template_text: str | None = None) -> str:
    """The rephrase prompt of a conversation (reference §5.2), rendered with plain ``jinja2.Template``.

    ``user_messages`` are the texts of **all** annotated steps (``rephrase=False`` ones too, as Rasa).
    """
    messages = [s.user for s in conversation.annotated_steps]
    template = _compiled(template_text if template_text is not None else default_rephrase_template())
    return template.render(
        test_case_name=conversation.name,
        transcript=conversation.transcript,
        number_of_rephrasings=num_rephrases,
        user_prefix=USER_PREFIX,
        user_messages=messages,
        number_of_user_messages=len(messages),
    )


@functools.lru_cache(maxsize=8)
def _compiled(template_text: str) -> jinja2.Template:
    """The template compiled once (a session renders one template per conversation, from many threads)."""
    return jinja2.Template(template_text)


_HEADER_RE = re.compile(r"^[\s\-*>#•]*(?:\*\*)?\s*USER\s*(?:\*\*)?\s*:\s*(?:\*\*)?\s*(.*)$", re.IGNORECASE)
_MARKER_RE = re.compile(r"^\s*(?:[-*•>]+\s*|\(?\d+[.)](?:\s+|$)|\d+\s+-\s+)+")
_QUOTE_PAIRS = (('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"), ("`", "`"), ("«", "»"))
_FENCES = ('"""', "```", "'''")


def _unquote(text: str) -> str:
    text = text.strip()
    for left, right in _QUOTE_PAIRS:
        if len(text) >= 2 and text.startswith(left) and text.endswith(right):
            return text[len(left) : -len(right)].strip()
    return text


def _normalise(text: str) -> str:
    return " ".join(_unquote(text).split()).casefold()


def _clean_rephrasing(line: str) -> str:
    text = _MARKER_RE.sub("", line, count=1).strip()
    header = _HEADER_RE.match(text)
    if header:
        text = header.group(1)
    return _unquote(text.strip("*").strip())


@dataclass
class _Block:
    header: str | None
    lines: list[str] = field(default_factory=list)


def _blocks(answer: str) -> list[_Block]:
    lines = [line.strip() for line in answer.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if not any(line.startswith(f) for f in _FENCES)]
    if any(_HEADER_RE.match(line) for line in lines):
        blocks: list[_Block] = []
        for line in lines:
            header = _HEADER_RE.match(line)
            if header:
                blocks.append(_Block(header=header.group(1).strip()))
            elif line and blocks:
                blocks[-1].lines.append(line)
        return blocks
    # No "USER:" headers: Rasa's layout, blocks separated by blank lines, the first line is the original.
    blocks = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line:
            current.append(line)
        elif current:
            blocks.append(_Block(header=_MARKER_RE.sub("", current[0], count=1), lines=current[1:]))
            current = []
    return blocks


def parse_rephrasings(answer: str, messages: Sequence[str], num_rephrases: int) -> list[list[str]]:
    """The rephrasings of each message in a rephrasing answer (reference §5.4, made tolerant).

    Blocks start at a ``USER: <original>`` line (bullets, bold, quotes and case tolerated); without any
    such line, blank-line separated blocks whose first line is the original are read (Rasa's layout).
    A block belongs to the message whose text it repeats (case- and whitespace-insensitive); when the
    answer has exactly one block per message, a block that matches no message goes to the message at
    its position. In a block every non-empty line is a rephrasing with its list marker (``1.``, ``2)``,
    ``-``, ``*``) and surrounding quotes removed, which keeps leading digits of the text itself (§15
    quirk 6). Rephrasings equal to the original or repeated are dropped; at most ``num_rephrases`` are
    kept. Messages without a block get ``[]``.
    """
    blocks = _blocks(answer)
    by_text: dict[str, _Block] = {}
    for candidate in blocks:
        if candidate.header is not None:
            by_text.setdefault(_normalise(candidate.header), candidate)
    positional = len(blocks) == len(messages)
    matched_ids = {id(b) for text, b in by_text.items() if text in {_normalise(m) for m in messages}}
    result: list[list[str]] = []
    for index, message in enumerate(messages):
        block = by_text.get(_normalise(message))
        if block is None and positional and id(blocks[index]) not in matched_ids:
            block = blocks[index]
        rephrasings: list[str] = []
        if block is not None:
            seen = {_normalise(message)}
            for line in block.lines:
                text = _clean_rephrasing(line)
                if text and _normalise(text) not in seen:
                    seen.add(_normalise(text))
                    rephrasings.append(text)
        result.append(rephrasings[:num_rephrases])
    return result


def _text_of(answer: Any) -> str:
    if isinstance(answer, str):
        return answer
    if hasattr(answer, "result") and callable(answer.result):
        return _text_of(answer.result())
    text = getattr(answer, "text", None)
    if isinstance(text, str):
        return text
    raise TypeError(f"the completer returned {type(answer).__name__}, not text")


def request_rephrasings(
    conversation: Conversation,
    num_rephrases: int,
    complete: Completer,
    template_text: str | None = None,
    max_attempts: int = 3,
) -> list[list[str]]:
    """Paraphrases of each annotated step (``[]`` for ``rephrase=False`` steps): one LLM call, retried.

    The answer is parsed with :func:`parse_rephrasings`; an answer that gives nothing for any step to
    rephrase is asked for again, up to ``max_attempts`` calls in all (a caching completer should not
    cache such answers), then :class:`RephraseAnswerError`. A failing call raises :class:`RephraseError`.
    """
    steps = conversation.annotated_steps
    if num_rephrases <= 0 or not any(s.rephrase for s in steps):
        return [[] for _ in steps]
    prompt = render_rephrase_prompt(conversation, num_rephrases, template_text)
    messages = [s.user for s in steps]
    answer = ""
    for attempt in range(1, max(1, max_attempts) + 1):
        try:
            answer = _text_of(complete(prompt, PURPOSE_REPHRASE))
        except Exception as exc:
            raise RephraseError(f"{conversation.test_id}: the rephrasing call failed: {exc}") from exc
        parsed = parse_rephrasings(answer, messages, num_rephrases)
        per_step = [p if s.rephrase else [] for s, p in zip(steps, parsed, strict=True)]
        if any(per_step):
            short = [s.user for s, p in zip(steps, per_step, strict=True) if s.rephrase and len(p) != num_rephrases]
            if short:
                logger.warning(
                    "%s: expected %d rephrasings, got a different number for %r",
                    conversation.test_id,
                    num_rephrases,
                    short,
                )
            return per_step
        logger.warning(
            "%s: unparseable rephrasing answer (attempt %d of %d)", conversation.test_id, attempt, max_attempts
        )
    raise RephraseAnswerError(
        f"{conversation.test_id}: no rephrasings could be read from the answer after {max(1, max_attempts)} "
        f"attempt(s); last answer: {answer[:500]!r}"
    )


# --- validation ----------------------------------------------------------------------------------------------


def compare_commands(
    original: Sequence[Command], predicted: Sequence[Command]
) -> tuple[tuple[Command, ...], tuple[Command, ...]]:
    """``(missing, unexpected)``: original commands not predicted, and predicted commands not in the original.

    Multiset comparison with the commands' equality (Rasa's, §9.6); both empty means the same commands.
    """
    remaining = list(predicted)
    missing: list[Command] = []
    for command in original:
        for position, candidate in enumerate(remaining):
            if candidate == command:
                del remaining[position]
                break
        else:
            missing.append(command)
    return tuple(missing), tuple(remaining)


@dataclass(frozen=True)
class ValidationOutcome:
    """The verdict on one paraphrase: ``passed`` or the :class:`FailedRephrasing` describing why not."""

    text: str
    passed: bool
    failure: FailedRephrasing | None = None


def validation_prompt(conversation: Conversation, step: AnnotatedStep, rephrasing: str) -> str:
    """The step's recorded prompt with ``rephrasing`` wherever the step's message stood."""
    messages = conversation.sent_user_messages[: step.turn_index + 1]
    return substitute_user_messages(step.llm_prompt, messages, {step.turn_index: rephrasing})


def validate_rephrasings(
    conversation: Conversation,
    candidates: Sequence[Sequence[str]],
    complete: Completer,
    parse: CommandParser,
) -> Conversation:
    """Validate paraphrases (one list per annotated step) and return the conversation with the verdicts.

    Every validation call is submitted first, then the answers are collected in order, so a completer
    returning futures runs them concurrently. A paraphrase whose validation call failed is kept among the
    step's failing paraphrases with its ``error`` (not counted as rejected, and asked again by the next run,
    since a failed call is not cached); every other paraphrase keeps its verdict.
    """
    steps = conversation.annotated_steps
    if len(candidates) != len(steps):
        raise ValueError(f"{len(candidates)} candidate lists for {len(steps)} annotated steps")
    pending: list[tuple[int, str, Any]] = []
    for index, (step, texts) in enumerate(zip(steps, candidates, strict=True)):
        for text in texts:
            prompt = validation_prompt(conversation, step, text)
            try:
                pending.append((index, text, complete(prompt, PURPOSE_VALIDATE)))
            except Exception as exc:  # noqa: BLE001 - reported once all answers are in
                pending.append((index, text, exc))
    outcomes: list[list[ValidationOutcome]] = [[] for _ in steps]
    for index, text, handle in pending:
        try:
            if isinstance(handle, Exception):
                raise handle
            answer = _text_of(handle)
        except Exception as exc:  # noqa: BLE001 - any failed call: this paraphrase only
            outcomes[index].append(ValidationOutcome(text, False, FailedRephrasing(text=text, error=str(exc))))
            continue
        predicted = parse(answer)
        missing, unexpected = compare_commands(steps[index].commands, predicted)
        if predicted and not missing and not unexpected:
            outcomes[index].append(ValidationOutcome(text, True))
        else:
            failure = FailedRephrasing(text=text, missing=missing, unexpected=unexpected, answer=answer)
            outcomes[index].append(ValidationOutcome(text, False, failure))
    new_steps = [
        replace(
            step,
            passing_rephrasings=tuple(o.text for o in results if o.passed),
            failing_rephrasings=tuple(o.failure for o in results if o.failure is not None),
        )
        for step, results in zip(steps, outcomes, strict=True)
    ]
    return conversation.with_annotated_steps(new_steps)


def rephrase_conversation(
    conversation: Conversation,
    num_rephrases: int,
    complete: Completer,
    parse: CommandParser,
    template_text: str | None = None,
    max_attempts: int = 3,
) -> Conversation:
    """Paraphrase a conversation's ``rephrase=True`` steps and validate every paraphrase (module 2).

    ``num_rephrases == 0`` returns the conversation unchanged (no call). Raises :class:`RephraseError`
    when a call fails and :class:`RephraseAnswerError` when no answer could be parsed; the caller decides
    whether the conversation is then kept without paraphrases (our default) or dropped (Rasa).
    """
    if not 0 <= num_rephrases <= MAX_REPHRASES:
        raise ValueError(f"num_rephrases must be between 0 and {MAX_REPHRASES}, got {num_rephrases}")
    if num_rephrases == 0:
        return conversation
    candidates = request_rephrasings(conversation, num_rephrases, complete, template_text, max_attempts)
    return validate_rephrasings(conversation, candidates, complete, parse)
