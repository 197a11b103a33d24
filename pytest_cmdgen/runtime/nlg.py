"""Responses: choosing a variation (conditions, channel, seeded choice) and filling it in (§12.4).

With ``nlg: {type: rephrase}`` a :class:`~pytest_cmdgen.generator.response_rephraser.ResponseRephraser` rewrites the
text of flagged responses after they are filled (rasa-modern-generators §4.2); it needs the conversation,
so a generator bound to a tracker (:meth:`ResponseGenerator.bind`) does it. Without a rephraser nothing
changes.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING, Any, Protocol

import jinja2

from pytest_cmdgen.runtime import predicates
from pytest_cmdgen.runtime.domain import Domain
from pytest_cmdgen.runtime.events import BotUttered

_FORMAT_KEY = re.compile(r"{([^\n{}]+?)}")
_JINJA = jinja2.Environment(autoescape=False)
BOT_DATA_KEYS = ("elements", "quick_replies", "buttons", "attachment", "image", "custom")

if TYPE_CHECKING:
    from pytest_cmdgen.runtime.tracker import Tracker


class Rephraser(Protocol):
    """What the NLG needs of a response rephraser (``generator.response_rephraser.ResponseRephraser``)."""

    def allows_rephrasing(self, message: dict[str, Any]) -> bool:
        """Whether Rasa would rephrase this filled response."""
        ...

    def rephrase(self, message: dict[str, Any], tracker: Tracker) -> dict[str, Any]:
        """The response with its text rephrased (or unchanged)."""
        ...


def _condition_matches(condition: Any, slots: dict[str, Any], context: dict[str, Any]) -> bool:
    if isinstance(condition, list):
        # Old form: [{type: slot, name: x, value: v}, ...] — all must hold.
        for item in condition:
            if not isinstance(item, dict) or item.get("type", "slot") != "slot":
                return False
            name = item.get("name")
            actual = slots.get(name) if isinstance(name, str) else None
            if actual != item.get("value"):
                return False
        return True
    return predicates.evaluate(condition, context, slots)


def choose_variation(
    variations: list[dict[str, Any]],
    slots: dict[str, Any],
    context: dict[str, Any],
    rng: random.Random,
    channel: str | None = None,
) -> dict[str, Any] | None:
    """Conditional variations that match win over plain ones; channel-specific ones over generic ones."""
    conditional = [v for v in variations if v.get("condition") and _condition_matches(v["condition"], slots, context)]
    pool = conditional or [v for v in variations if not v.get("condition")]
    if channel:
        for_channel = [v for v in pool if v.get("channel") == channel]
        pool = for_channel or [v for v in pool if not v.get("channel")]
    else:
        pool = [v for v in pool if not v.get("channel")]
    if not pool:
        return None
    return pool[0] if len(pool) == 1 else rng.choice(pool)


def format_text(text: str, values: dict[str, Any]) -> str:
    """``{slot}`` interpolation as Rasa does it: any missing key leaves the text unchanged."""
    if "{" not in text:
        return text
    try:
        return _FORMAT_KEY.sub(r"{0[\1]}", text).format(values)
    except (KeyError, IndexError, ValueError, AttributeError):
        return text


def render_value(value: Any, values: dict[str, Any], jinja: bool) -> Any:
    """Fill one part of a response (strings, lists and mappings recursively)."""
    if isinstance(value, str):
        if jinja:
            return _JINJA.from_string(value).render(**values)
        return format_text(value, values)
    if isinstance(value, list):
        return [render_value(item, values, jinja) for item in value]
    if isinstance(value, dict):
        return {k: render_value(v, values, jinja) for k, v in value.items()}
    return value


class ResponseGenerator:
    """Renders domain responses into BotUttered events (templated NLG; rephrased when bound to a tracker and
    given a ``rephraser``)."""

    def __init__(self, domain: Domain, rephraser: Rephraser | None = None, tracker: Tracker | None = None) -> None:
        self.domain = domain
        self.rephraser = rephraser
        self.tracker = tracker

    def bind(self, tracker: Tracker) -> ResponseGenerator:
        """This generator for one conversation: rephrasing reads that conversation. Itself without a rephraser."""
        if self.rephraser is None:
            return self
        return ResponseGenerator(self.domain, self.rephraser, tracker)

    def generate(
        self,
        name: str,
        slots: dict[str, Any],
        context: dict[str, Any],
        rng: random.Random,
        kwargs: dict[str, Any] | None = None,
        channel: str | None = None,
    ) -> dict[str, Any] | None:
        """The filled message dict of a response (text, buttons, ..., metadata), or None if it has none."""
        variations = self.domain.responses.get(name)
        if not variations:
            return None
        variation = choose_variation(variations, slots, context, rng, channel)
        if variation is None:
            return None
        metadata = dict(variation.get("metadata") or {})
        jinja = metadata.get("template") == "jinja"
        values: dict[str, Any] = dict(slots)
        values.update(kwargs or {})
        if jinja:
            values["context"] = context
        message: dict[str, Any] = {}
        for key, value in variation.items():
            if key in ("condition", "channel", "metadata"):
                continue
            message[key] = render_value(value, values, jinja)
        message["metadata"] = metadata
        message["response"] = name
        if self.rephraser is not None and self.tracker is not None and self.rephraser.allows_rephrasing(message):
            message = self.rephraser.rephrase(message, self.tracker)
        return message

    def bot_event(
        self,
        message: dict[str, Any],
        utter_action: str | None,
        extra_metadata: dict[str, Any] | None = None,
    ) -> BotUttered:
        """Turn a message dict (from :meth:`generate` or an action server) into a BotUttered event."""
        data = {key: message.get(key) for key in BOT_DATA_KEYS}
        for key, value in message.items():
            if key not in BOT_DATA_KEYS and key not in ("text", "metadata", "response", "template", "recipient_id"):
                data[key] = value
        metadata = dict(message.get("metadata") or {})
        if utter_action:
            metadata["utter_action"] = utter_action
        metadata.update(extra_metadata or {})
        return BotUttered(text=message.get("text"), data=data, metadata=metadata)
