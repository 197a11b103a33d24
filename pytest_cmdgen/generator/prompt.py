"""Rendering the command-generator prompt exactly as Rasa does (reference §9.2–§9.4, modern §2.3–§2.4).

The runtime computes a :class:`PromptState` (the template inputs) from the tracker and flows; this module
only lays it out: the Jinja2 environment, the template choice per generator / model / Rasa version, the
readable transcript, allowed-values strings and the flow-retrieval document text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jinja2

from pytest_cmdgen.errors import CmdgenInputError
from pytest_cmdgen.generator.grammar import GENERATOR_SYNTAX, Syntax
from pytest_cmdgen.versions import V1_TEMPLATE_FILE, Version, modern_template_file, profile_for

GeneratorName = Literal["single_step", "compact", "search_ready"]
"""The LLM command generators whose prompts we reproduce."""

GENERATOR_CLASS_NAMES: dict[str, GeneratorName] = {
    "SingleStepLLMCommandGenerator": "single_step",
    "LLMCommandGenerator": "single_step",
    "CompactLLMCommandGenerator": "compact",
    "SearchReadyLLMCommandGenerator": "search_ready",
}
"""``config.yml`` component names → generator kind."""


def component_syntax(component_name: str | None) -> Syntax:
    """The command syntax of a ``config.yml`` generator component (a dotted path's class name counts); v1 if
    the component is not one of the LLM command generators."""
    kind = GENERATOR_CLASS_NAMES.get((component_name or "").rpartition(".")[2], "single_step")
    return GENERATOR_SYNTAX[kind]

TRANSCRIPT_MAX_TURNS = 20
"""Lines of history Rasa keeps in the prompt (before the latest message is appended)."""


# --------------------------------------------------------------------------------------------------
# state


@dataclass(frozen=True)
class PromptSlot:
    """A slot listed under a flow in ``available_flows`` (an extractable collect step)."""

    name: str
    description: str | None = None
    """The collect step's ``description`` (flow YAML), not the domain's."""
    allowed_values: str | None = None
    """Already formatted, see :func:`format_allowed_values`."""

    def as_template_dict(self) -> dict[str, Any]:
        """The dict Rasa hands to the template."""
        return {"name": self.name, "description": self.description, "allowed_values": self.allowed_values}


@dataclass(frozen=True)
class PromptFlow:
    """One entry of ``available_flows``; ``name`` is the flow **id**."""

    name: str
    description: str
    slots: tuple[PromptSlot, ...] = ()

    def as_template_dict(self) -> dict[str, Any]:
        """The dict Rasa hands to the template."""
        return {
            "name": self.name,
            "description": self.description,
            "slots": [slot.as_template_dict() for slot in self.slots],
        }


@dataclass(frozen=True)
class FlowSlotState:
    """One entry of ``flow_slots`` (slots of the active flow with their current values)."""

    name: str
    value: str
    """``"undefined"`` when unset, else ``str(value)``; see :func:`format_slot_value`."""
    type: str
    """Domain slot type name: text, bool, float, categorical, any, list."""
    description: str | None = None
    allowed_values: str | None = None

    def as_template_dict(self) -> dict[str, Any]:
        """The dict Rasa hands to the template (same key order as Rasa)."""
        return {
            "name": self.name,
            "value": self.value,
            "type": self.type,
            "allowed_values": self.allowed_values,
            "description": self.description,
        }


@dataclass
class PromptState:
    """Exactly the template inputs, already computed (reference §9.3, modern §2.4).

    The runtime fills it; :func:`render_prompt` only lays it out.
    """

    available_flows: list[PromptFlow]
    current_conversation: str
    """The readable transcript plus ``"\\nUSER: <latest>"``, see :func:`current_conversation`."""
    user_message: str
    """The latest user text with ``\\n`` replaced by spaces (:func:`sanitize_message`)."""
    current_flow: str | None = None
    current_slot: str | None = None
    current_slot_description: str | None = None
    current_slot_type: str | None = None
    current_slot_allowed_values: str | None = None
    flow_slots: list[FlowSlotState] = field(default_factory=list)
    current_datetime: datetime | None = None
    """Timezone-aware "now" (or ``mocked_datetime``); only passed when ``include_date_time``."""
    include_date_time: bool = False
    """Whether ``current_datetime`` reaches the template (3.15+ ``include_date_time``, default true there)."""
    is_repeat_command_enabled: bool = False
    """3.12 only (beta env flag), used by the v1 template of that version."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """More variables for custom templates; they never override the ones above."""

    def template_context(self) -> dict[str, Any]:
        """The keyword arguments handed to ``template.render``."""
        context: dict[str, Any] = dict(self.extra)
        context.update(
            available_flows=[flow.as_template_dict() for flow in self.available_flows],
            current_conversation=self.current_conversation,
            flow_slots=[slot.as_template_dict() for slot in self.flow_slots],
            current_flow=self.current_flow,
            current_slot=self.current_slot,
            current_slot_description=self.current_slot_description,
            current_slot_type=self.current_slot_type,
            current_slot_allowed_values=self.current_slot_allowed_values,
            user_message=self.user_message,
            is_repeat_command_enabled=self.is_repeat_command_enabled,
        )
        if self.include_date_time and self.current_datetime is not None:
            context["current_datetime"] = english_datetime(self.current_datetime)
        return context


# --------------------------------------------------------------------------------------------------
# rendering


def to_json_escaped_string(value: Any) -> str:
    """Rasa's ``to_json_escaped_string`` filter: JSON encoding, non-ASCII kept (``None`` → ``null``)."""
    return json.dumps(value, ensure_ascii=False)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # Rasa: a plain Environment, autoescape off, default whitespace handling (no trim/lstrip blocks,
    # one trailing newline of the template dropped), plus one filter.
    env = jinja2.Environment(autoescape=False)
    env.filters["to_json_escaped_string"] = to_json_escaped_string
    return env


@lru_cache(maxsize=128)
def _compile(template_text: str) -> jinja2.Template:
    return _environment().from_string(template_text)


def render_prompt(state: PromptState, template_text: str) -> str:
    """Render ``template_text`` with ``state`` the way Rasa's command generators do."""
    return _compile(template_text).render(**state.template_context())


_C_LOCALE_NAMES = {
    "A": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "a": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_STRFTIME_TOKEN = re.compile(r"%(.)", re.DOTALL)


class _EnglishDatetime(datetime):
    """A datetime whose ``strftime`` uses C-locale English names whatever the process locale is."""

    def strftime(self, fmt: str) -> str:  # noqa: D102 - same contract as datetime.strftime
        def replace(match: re.Match[str]) -> str:
            code = match.group(1)
            if code in _C_LOCALE_NAMES:
                return _C_LOCALE_NAMES[code][self.weekday()]
            if code == "B":
                return _MONTHS[self.month - 1]
            if code in "bh":
                return _MONTHS[self.month - 1][:3]
            if code == "p":
                return "AM" if self.hour < 12 else "PM"
            if code == "%":
                return "%%"
            return match.group(0)

        return super().strftime(_STRFTIME_TOKEN.sub(replace, fmt))


def english_datetime(value: datetime) -> datetime:
    """``value`` as a datetime whose ``strftime`` prints English day/month names (Rasa runs in C locale)."""
    if isinstance(value, _EnglishDatetime):
        return value
    return _EnglishDatetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=value.tzinfo,
        fold=value.fold,
    )


# --------------------------------------------------------------------------------------------------
# template choice

_TEMPLATE_PACKAGE = "pytest_cmdgen.generator"
_TEMPLATE_DIR = "templates"


class TemplateNotAvailableError(CmdgenInputError, LookupError):
    """The requested generator/template does not exist in that Rasa version."""


def template_file_name(
    generator: GeneratorName,
    model: str | None,
    provider: str | None,
    rasa_version: str | Version,
) -> str:
    """Rasa's file name of the default template chosen for ``generator`` and the LLM ``model``/``provider``.

    Rules of modern §2.3: SingleStep always uses ``command_prompt_template.jinja2``. Compact and
    SearchReady look up a key — ``model`` if ``provider`` is non-empty and a substring of it, else
    ``"<provider>/<model>"`` (``"None/<model>"`` without provider) — in the version's table; no model
    or an unknown key gives the version's default (gpt-4o up to 3.15, gpt-5.1 from 3.16).
    """
    profile = profile_for(rasa_version)
    if generator == "single_step":
        return V1_TEMPLATE_FILE
    if generator == "compact":
        syntax = "v2"
        if not profile.compact_generator:
            raise TemplateNotAvailableError("CompactLLMCommandGenerator exists from Rasa 3.12")
    elif generator == "search_ready":
        syntax = "v3"
        if not profile.search_ready_generator:
            raise TemplateNotAvailableError("SearchReadyLLMCommandGenerator exists from Rasa 3.13")
    else:
        raise TemplateNotAvailableError(f"unknown generator {generator!r}")
    family = profile.default_template_family
    if model:
        key = model if provider and provider in model else f"{provider}/{model}"
        family = profile.template_families.get(key, family)
    return modern_template_file(syntax, family)


def packaged_template(rasa_file: str, rasa_version: str | Version) -> str:
    """The verbatim text of Rasa's template ``rasa_file`` as shipped in ``rasa_version``."""
    profile = profile_for(rasa_version)
    try:
        label = profile.template_revision(rasa_file)
    except KeyError:
        raise TemplateNotAvailableError(f"no packaged template {rasa_file!r}") from None
    if label is None:
        raise TemplateNotAvailableError(f"{rasa_file} does not exist in Rasa {profile.version_tuple}")
    return _read_packaged(f"{label}__{rasa_file}")


@lru_cache(maxsize=64)
def _read_packaged(resource: str) -> str:
    data = resources.files(_TEMPLATE_PACKAGE).joinpath(_TEMPLATE_DIR).joinpath(resource).read_bytes()
    return data.decode("utf-8")


def default_template(
    generator: GeneratorName,
    model: str | None,
    provider: str | None,
    rasa_version: str | Version,
) -> str:
    """The default prompt template text Rasa ``rasa_version`` uses for this generator and LLM."""
    return packaged_template(template_file_name(generator, model, provider, rasa_version), rasa_version)


def load_prompt_template(path: str | Path, project_root: str | Path | None = None) -> str:
    """Read a custom ``prompt_template`` from ``config.yml``; a relative path is taken from the project root.

    Raises ``FileNotFoundError`` for a missing file (Rasa 3.12.42+ raises too; 3.13.9 fell back).
    """
    template_path = Path(path)
    if not template_path.is_absolute() and project_root is not None:
        template_path = Path(project_root) / template_path
    return template_path.read_text(encoding="utf-8")


def resolve_template(
    generator: GeneratorName,
    *,
    rasa_version: str | Version,
    model: str | None = None,
    provider: str | None = None,
    prompt_template: str | Path | None = None,
    project_root: str | Path | None = None,
) -> str:
    """The template text a generator uses: the custom ``prompt_template`` if set, else the default one."""
    if prompt_template:
        return load_prompt_template(prompt_template, project_root)
    return default_template(generator, model, provider, rasa_version)


# --------------------------------------------------------------------------------------------------
# pieces of the state whose layout Rasa defines

_ERROR_PLACEHOLDERS = {
    "rasa_internal_error_user_input_too_long": "[User sent really long message]",
    "rasa_internal_error_user_input_empty": "",
}
_DEFAULT_ERROR_PLACEHOLDER = "[User input triggered an error]"


def sanitize_message(text: str | None) -> str:
    """A message as it enters a prompt: newlines replaced by spaces (``None`` → ``""``)."""
    return "" if text is None else text.replace("\n", " ")


@dataclass(frozen=True)
class TranscriptTurn:
    """One tracker utterance as the transcript sees it.

    ``actor`` is ``"user"`` or ``"bot"`` (``"USER"``/``"AI"`` accepted). For a user message that triggered
    an ``error`` command, ``error_type`` is the type of the first one; it replaces the text by a
    placeholder. ``buttons`` are the titles of a bot message's buttons (empty titles kept, they count
    in the numbering).
    """

    actor: str
    text: str | None
    buttons: tuple[str, ...] = ()
    error_type: str | None = None


def _as_turn(turn: TranscriptTurn | tuple[str, str | None]) -> TranscriptTurn:
    if isinstance(turn, TranscriptTurn):
        return turn
    actor, text = turn
    return TranscriptTurn(actor=actor, text=text)


def _is_user(actor: str) -> bool:
    normalised = actor.lower()
    if normalised in ("user", "u"):
        return True
    if normalised in ("bot", "ai", "assistant"):
        return False
    raise ValueError(f"unknown transcript actor {actor!r}")


def transcript_lines(
    turns: Iterable[TranscriptTurn | tuple[str, str | None]],
    rasa_version: str | Version,
) -> list[str]:
    """All readable-transcript lines of the turns (reference §9.4, modern §2.4 for 3.13.25+ bot lines)."""
    with_buttons = profile_for(rasa_version).transcript_buttons
    lines: list[str] = []
    for raw in turns:
        turn = _as_turn(raw)
        if _is_user(turn.actor):
            if turn.error_type is not None:
                text = _ERROR_PLACEHOLDERS.get(turn.error_type, _DEFAULT_ERROR_PLACEHOLDER)
            else:
                text = sanitize_message(turn.text)
            lines.append(f"USER: {text}")
            continue
        if not with_buttons:
            lines.append(f"AI: {sanitize_message(turn.text)}")
            continue
        serialised = _bot_serialisation(turn)
        if serialised:
            lines.append(f"AI: {serialised}")
    return lines


def _bot_serialisation(turn: TranscriptTurn) -> str:
    text = sanitize_message(turn.text)
    buttons = ", ".join(f'button {index}: "{title}"' for index, title in enumerate(turn.buttons, start=1) if title)
    return " ".join(part for part in (text, buttons) if part)


def readable_transcript(
    turns: Iterable[TranscriptTurn | tuple[str, str | None]],
    rasa_version: str | Version,
    max_turns: int | None = TRANSCRIPT_MAX_TURNS,
) -> str:
    """The transcript text: the last ``max_turns`` lines joined with ``\\n`` (all with ``None``)."""
    lines = transcript_lines(turns, rasa_version)
    if max_turns is not None:
        lines = lines[-max_turns:] if max_turns > 0 else []
    return "\n".join(lines)


def current_conversation(
    turns: Iterable[TranscriptTurn | tuple[str, str | None]],
    latest_message: str,
    rasa_version: str | Version,
) -> str:
    """The ``current_conversation`` input: last 20 transcript lines, then ``"\\nUSER: <latest>"``.

    The latest message is not in the tracker yet, so it is appended (and appears twice in the prompt);
    an empty history yields a leading ``\\n``.
    """
    return readable_transcript(turns, rasa_version) + f"\nUSER: {sanitize_message(latest_message)}"


def format_allowed_values(slot_type: str, values: Sequence[Any] | None = None) -> str | None:
    """``allowed_values`` of a slot: bool → ``"[True, False]"``, categorical → repr of its values, else None.

    Categorical values are ``str()``-ed as Rasa does when loading the domain (``True`` → ``'True'``),
    ``None`` entries and ``__other__`` are dropped.
    """
    if slot_type == "bool":
        return "[True, False]"
    if slot_type == "categorical":
        cleaned = [str(value) for value in values or () if value is not None]
        return repr([value for value in cleaned if value != "__other__"])
    return None


def format_slot_value(value: Any) -> str:
    """A ``flow_slots`` value: ``"undefined"`` for None, else ``str(value)``."""
    return "undefined" if value is None else str(value)


def flow_retrieval_document(
    name: str,
    description: str,
    slots: Sequence[PromptSlot] = (),
    *,
    embed_slots: bool = True,
) -> str:
    """The text flow retrieval embeds for a flow (reference §9.8); ``name`` is the readable flow name."""
    template = _compile(_read_packaged("flow_retrieval_document_template.jinja2"))
    flow = {
        "name": name,
        "description": description,
        "slots": [slot.as_template_dict() for slot in slots] if embed_slots else [],
    }
    return template.render(flow=flow)
