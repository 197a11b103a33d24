"""Response rephrasing: Rasa's ``ContextualResponseRephraser`` (``endpoints.yml`` ``nlg: {type: rephrase}``).

Sources: rasa-modern-generators.md §4.2 ("Response rephrasing"), Appendix E.3 (the default prompt), §1.2 –
§1.3 (``llm: {model_group}`` resolution and the merge with the component's defaults). Facts the reference
does not state were read from ``rasa/core/nlg/contextual_response_rephraser.py`` and
``rasa/core/nlg/summarize.py`` of the published 3.10.16 – 3.21.0 wheels (behaviour only; the prompt texts
are data and quoted verbatim); what changes per version lives in :mod:`pytest_cmdgen.versions`
(``response_rephrase_*`` fields).

Which responses: a filled response whose ``metadata.rephrase`` is true, or — when the variation does not
set the key at all — every response if the endpoint sets ``rephrase_all: true``. Responses without text
are never sent. The flag is Rasa's truthiness of the value (``rephrase: False`` opts out even with
``rephrase_all``).

The prompt (one ``user`` message, rendered with a plain ``jinja2.Template``): the response's own
``metadata.rephrase_prompt``, else the endpoint's ``prompt_template`` (3.13+) / ``prompt`` file, else the
version's default. Its inputs:

* ``history`` — with ``summarize_history`` (default true) an LLM summary of the last 5 transcript lines (a
  first call, same LLM, the summary prompt below; the answer is stripped; if that call fails, the
  transcript itself); without it the last ``max(max_historical_turns, 1)`` lines (default 5). The
  transcript is the command prompt's (``USER:``/``AI:`` lines, same sanitising, error placeholders and,
  from 3.13.25/3.14, buttons); with ``count_multiple_utterances_as_single_turn`` (default true)
  consecutive lines of one speaker are joined into one line *before* the last lines are taken.
* ``current_input`` — ``"USER: <text of the latest user message>"`` ('' when there is none); 3.10 only
  when the last utterance of the tracker is the user's.
* ``suggested_response`` — the filled template text; ``slots`` — the current slot values;
  ``language`` (3.12+) — the label of the conversation's language ("English" for ``en``).

The answer replaces the text (as sent, not stripped); everything else of the response (buttons, custom
payloads, metadata, so ``utter_action`` too) is kept. An empty answer (3.16+: a blank one) keeps the
template text. A failed call keeps the template text up to 3.14; from 3.15 Rasa no longer catches it and
the utter action fails (``pattern_internal_error``), which this runtime does not reproduce: the test
fails with :class:`ResponseRephraseError` instead, as it does for a failed command-generator call. A
replay-mode cache miss and an unusable LLM config fail the test in every version.

All calls go through the session's :class:`~pytest_cmdgen.llm.LLMService` with purpose ``nlg_rephrasing``,
so the same prompt gets the same answer from the cache. With no reachable LLM the scripted server
answers these prompts with its default answer (empty), and the template texts stay.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from pytest_cmdgen.generator.model_groups import merged_llm_settings, resolved_llm_block
from pytest_cmdgen.generator.prompt import transcript_lines
from pytest_cmdgen.generator.state import transcript_turns
from pytest_cmdgen.llm.config import LLMConfig
from pytest_cmdgen.llm.errors import CacheMissError, LLMCallError, LLMConfigError, LLMError
from pytest_cmdgen.llm.purpose import Purpose
from pytest_cmdgen.runtime.errors import CommandSourceError
from pytest_cmdgen.runtime.events import BotUttered, UserUttered
from pytest_cmdgen.versions import VersionProfile

if TYPE_CHECKING:
    from pytest_cmdgen.llm.service import LLMService
    from pytest_cmdgen.runtime.project import Project
    from pytest_cmdgen.runtime.tracker import Tracker

log = logging.getLogger(__name__)

PURPOSE = Purpose.NLG_REPHRASING
"""Usage-meter purpose of the rephraser's calls (the history summary and the rephrasing itself)."""

COMPONENT = "ContextualResponseRephraser"
USER_PREFIX = "USER"
SUMMARY_MAX_TURNS = 5
"""The summary always covers the last 5 transcript lines (``max_historical_turns`` does not apply)."""

# --- prompt texts (verbatim data; Appendix E.3 for 3.12+, the wheels for 3.10 / 3.11) ---------------------

_PROMPT_312 = """The following is a conversation with
an AI assistant. The assistant is helpful, creative, clever, and very friendly.
Rephrase the suggested AI response staying close to the original message and retaining
its meaning. Use simple {{language}}.

Context / previous conversation with the user:
{{history}}

Last user message:
{{current_input}}

Suggested AI Response: {{suggested_response}}

Rephrased AI Response:"""

_PROMPT_311 = _PROMPT_312.replace("Use simple {{language}}.", "Use simple english.")

_PROMPT_310 = _PROMPT_311.replace("Last user message:\n", "")

DEFAULT_PROMPTS: Mapping[str, str] = {"3.10": _PROMPT_310, "3.11": _PROMPT_311, "3.12": _PROMPT_312}
"""The default rephrase prompt of each revision (``VersionProfile.response_rephrase_template``)."""

SUMMARY_PROMPT = """Summarize the provided conversation between
a user and a conversational AI. The summary should be a short text that
captures the main points of the conversation.

Conversation:
{{conversation}}

Summary:"""
"""Rasa's conversation-summary prompt (``rasa/core/nlg/summarize.py``, unchanged 3.10 – 3.21)."""

# A few display names for when ``langcodes`` (what Rasa uses) is not installed.
_LANGUAGE_LABELS = {
    "ar": "Arabic",
    "da": "Danish",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fi": "Finnish",
    "fr": "French",
    "hi": "Hindi",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nb": "Norwegian Bokmål",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ru": "Russian",
    "sv": "Swedish",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "zh": "Chinese",
}


class ResponseRephraseError(CommandSourceError):
    """A rephrase call Rasa would not have survived or that cannot be answered here (replay-mode cache
    miss, unusable LLM config, or a failed call in 3.15+): the test fails with this message."""


def language_label(code: str) -> str:
    """The display name Rasa puts into ``{{language}}`` for a language code (``en`` → ``English``).

    Custom codes ``x-<base>-<label>`` use the base language, as Rasa does. Without ``langcodes`` only a
    small table is known; other codes are shown as given.
    """
    base = code
    if code.startswith("x-") and "-" in code[2:]:
        base = code[2:].rsplit("-", 1)[0]
    try:
        import langcodes

        return str(langcodes.Language.get(base).display_name())
    except Exception:  # noqa: BLE001 - not installed, or a code it does not know
        return _LANGUAGE_LABELS.get(base.split("-", 1)[0].lower(), base)


def count_multiple_utterances_as_single_turn(lines: list[str]) -> list[str]:
    """Join consecutive lines of one speaker (``"AI: a"``, ``"AI: b"`` → ``"AI: a b"``), as Rasa does."""

    def speaker(line: str) -> str:
        return line.partition(": ")[0] if ": " in line else ""

    return [
        f"{who}: {' '.join(line.partition(': ')[2] for line in group)}"
        for who, group in groupby(lines, key=speaker)
        if who
    ]


@dataclass(frozen=True)
class RephraserSettings:
    """The ``nlg`` endpoint's options (defaults as in Rasa)."""

    rephrase_all: bool = False
    summarize_history: bool = True
    max_historical_turns: int = 5
    count_multiple_utterances_as_single_turn: bool = True
    prompt_template: str | None = None
    """The endpoint's custom prompt text (None: the version's default)."""


class ResponseRephraser:
    """Rewrites flagged responses with an LLM, as ``ContextualResponseRephraser`` does.

    Args:
        service: the session's LLM service.
        llm_config: the rephraser's client (``nlg.llm`` or its model group, over the version's defaults).
        profile: the project's version profile.
        settings: the ``nlg`` endpoint's options.
        default_language: ``language`` of ``config.yml`` (``en`` if absent).
        additional_languages: ``additional_languages`` of ``config.yml``.
    """

    def __init__(
        self,
        service: LLMService,
        llm_config: LLMConfig,
        profile: VersionProfile,
        settings: RephraserSettings | None = None,
        *,
        default_language: str = "en",
        additional_languages: tuple[str, ...] = (),
    ) -> None:
        self.service = service
        self.llm_config = llm_config
        self.profile = profile
        self.settings = settings or RephraserSettings()
        self.default_language = default_language
        self.additional_languages = additional_languages
        self.template = self.settings.prompt_template or DEFAULT_PROMPTS[profile.response_rephrase_template]

    # ------------------------------------------------------------------ construction
    @staticmethod
    def configured(project: Project) -> bool:
        """Whether ``endpoints.yml`` asks for the rephrasing NLG (``nlg: {type: rephrase}``)."""
        nlg = project.endpoints.nlg
        return isinstance(nlg, Mapping) and str(nlg.get("type") or "").lower() == "rephrase"

    @classmethod
    def from_project(cls, project: Project, service: LLMService) -> ResponseRephraser | None:
        """The project's rephraser, or None when ``endpoints.yml`` does not configure ``type: rephrase``.

        Raises :class:`~pytest_cmdgen.llm.LLMConfigError` (``ModelGroupError``) for an ``llm`` block that
        cannot be resolved.
        """
        if not cls.configured(project):
            return None

        profile = project.profile
        nlg = dict(project.endpoints.nlg)
        block = nlg.get("llm")
        if block is not None and not isinstance(block, Mapping):
            raise LLMConfigError("endpoints.yml: nlg.llm must be a mapping")
        model_config = resolved_llm_block(block, project.endpoints, COMPONENT)
        merged = merged_llm_settings(model_config, profile.response_rephrase_llm, profile.release)
        llm_config = LLMConfig.from_rasa(merged)
        options = profile.response_rephrase_history_options
        settings = RephraserSettings(
            rephrase_all=bool(nlg.get("rephrase_all", False)),
            summarize_history=bool(nlg.get("summarize_history", True)) if options else True,
            max_historical_turns=int(nlg.get("max_historical_turns", 5)) if options else SUMMARY_MAX_TURNS,
            count_multiple_utterances_as_single_turn=(
                bool(nlg.get("count_multiple_utterances_as_single_turn", True)) if options else False
            ),
            prompt_template=_custom_prompt(nlg, profile, project.root),
        )
        raw = project.config.raw
        additional = raw.get("additional_languages") or ()
        return cls(
            service,
            llm_config,
            profile,
            settings,
            default_language=str(raw.get("language") or "en"),
            additional_languages=tuple(str(code) for code in additional) if isinstance(additional, list) else (),
        )

    # ------------------------------------------------------------------ which responses
    def allows_rephrasing(self, message: Mapping[str, Any]) -> bool:
        """Rasa's ``metadata.get("rephrase", rephrase_all)`` of the filled response."""
        metadata = message.get("metadata") or {}
        return bool(metadata.get("rephrase", self.settings.rephrase_all))

    # ------------------------------------------------------------------ prompt inputs
    def transcript(self, tracker: Tracker, max_turns: int, grouped: bool) -> str:
        """Rasa's ``tracker_as_readable_transcript`` with a line limit and optional speaker grouping."""
        lines = transcript_lines(transcript_turns(tracker), self.profile.release)
        if grouped:
            lines = count_multiple_utterances_as_single_turn(lines)
        return "\n".join(lines[-max_turns:])

    def summary_prompt(self, tracker: Tracker) -> str:
        """The prompt of the history-summary call."""
        transcript = self.transcript(tracker, SUMMARY_MAX_TURNS, self.settings.count_multiple_utterances_as_single_turn)
        return jinja2.Template(SUMMARY_PROMPT).render(conversation=transcript)

    def history(self, tracker: Tracker) -> str:
        """The ``history`` input: the LLM summary (a call) or the last transcript lines."""
        grouped = self.settings.count_multiple_utterances_as_single_turn
        if not self.settings.summarize_history:
            return self.transcript(tracker, max(self.settings.max_historical_turns, 1), grouped)
        prompt = self.summary_prompt(tracker)
        try:
            return self._complete(prompt).strip()
        except LLMCallError as exc:
            log.warning("conversation summary for the rephraser failed, using the transcript: %s", exc)
            return self.transcript(tracker, SUMMARY_MAX_TURNS, grouped)

    def current_input(self, tracker: Tracker) -> str:
        """``"USER: <latest user message>"``, or '' (3.10: also '' when the bot spoke last)."""
        text: str | None = None
        if self.profile.response_rephrase_history_options:
            # Rasa's ``tracker.latest_message``, which a restart / session start resets to an empty message
            for event in reversed(tracker.applied_events()):
                if isinstance(event, UserUttered):
                    text = event.text
                    break
        else:
            text = _last_message_if_human(tracker)
        return f"{USER_PREFIX}: {text}" if text else ""

    def language(self, tracker: Tracker) -> str:
        """The label of the conversation's language: the ``language`` slot if supported, else the default."""
        code = tracker.get_slot("language")
        if not code or str(code) not in (self.default_language, *self.additional_languages):
            code = self.default_language
        return language_label(str(code))

    def prompt(self, message: Mapping[str, Any], tracker: Tracker) -> str:
        """The rephrase prompt for ``message`` (asks the LLM for the history summary when configured)."""
        metadata = message.get("metadata") or {}
        template = metadata.get("rephrase_prompt") or self.template
        values: dict[str, Any] = {
            "history": self.history(tracker),
            "suggested_response": message.get("text"),
            "current_input": self.current_input(tracker),
            "slots": dict(tracker.slots),
        }
        if self.profile.response_rephrase_template not in ("3.10", "3.11"):
            values["language"] = self.language(tracker)
        return jinja2.Template(str(template)).render(**values)

    # ------------------------------------------------------------------ rephrasing
    def rephrase(self, message: dict[str, Any], tracker: Tracker) -> dict[str, Any]:
        """``message`` with its text replaced by the LLM's rephrasing (the same dict when it keeps its text)."""
        text = message.get("text")
        if not text:
            return message
        prompt = self.prompt(message, tracker)
        name = str(message.get("response") or "")
        try:
            answer = self._complete(prompt)
        except LLMCallError as exc:
            if self.profile.response_rephrase_error_fails_action:
                raise ResponseRephraseError(
                    f"rephrasing {name!r} failed: {exc}. Rasa {self.profile.version} does not fall back to the "
                    "template text here: its utter action fails and pattern_internal_error starts, which "
                    "pytest-cmdgen does not reproduce"
                ) from exc
            log.warning("rephrasing %r failed, keeping the template text: %s", name, exc)
            return message
        usable = answer.strip() if self.profile.response_rephrase_blank_falls_back else answer
        if not usable:
            return message
        rephrased = dict(message)
        rephrased["text"] = answer
        return rephrased

    def _complete(self, prompt: str) -> str:
        try:
            completion = self.service.chat(self.llm_config, [{"role": "user", "content": prompt}], purpose=PURPOSE)
        except (CacheMissError, LLMConfigError) as exc:
            raise ResponseRephraseError(f"response rephraser: {exc}") from exc
        except LLMCallError:
            raise
        except LLMError as exc:  # e.g. the service was closed: not a provider failure
            raise ResponseRephraseError(f"response rephraser: {exc}") from exc
        return completion.text


def _last_message_if_human(tracker: Tracker) -> str | None:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return event.text
        if isinstance(event, BotUttered):
            return None
    return None


def _custom_prompt(nlg: Mapping[str, Any], profile: VersionProfile, root: Path | None) -> str | None:
    """The endpoint's custom prompt file's text; a file that cannot be read → the default (Rasa warns)."""
    path = nlg.get("prompt_template") if profile.response_rephrase_prompt_template_key else None
    path = path or nlg.get("prompt")
    if not path:
        return None
    candidate = Path(str(path))
    if not candidate.is_absolute() and root is not None:
        candidate = Path(root) / candidate
    try:
        return candidate.read_text(encoding="utf-8")
    except OSError as exc:
        log.warning("cannot read the rephraser's prompt template %s (%s); using the default", path, exc.strerror)
        return None


__all__ = [
    "DEFAULT_PROMPTS",
    "PURPOSE",
    "SUMMARY_PROMPT",
    "RephraserSettings",
    "ResponseRephraseError",
    "ResponseRephraser",
    "count_multiple_utterances_as_single_turn",
    "language_label",
]
