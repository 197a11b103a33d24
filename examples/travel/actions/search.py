"""``action_search_travel_docs``: the knowledge answer of ``pattern_search``, from the guide in ``docs/``.

A stand-in for Rasa's EnterpriseSearchPolicy (a vector store and an LLM) that works offline: the paragraph of
``docs/*.md`` sharing the most words with the user's question is the answer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

DOCS = Path(__file__).resolve().parent.parent / "docs"
WORD = re.compile(r"[a-z0-9]+")
STOP = frozenset(
    {"an", "and", "are", "at", "be", "can", "do", "does", "for", "from", "how", "if", "in", "is", "it", "me", "my"}
    | {"of", "on", "or", "the", "to", "what", "when", "where", "which", "with", "you", "your"}
)


def words(text: str) -> set[str]:
    """The content words of ``text`` (two letters or more), lower case, without a plural s."""
    found = {w.rstrip("s") if len(w) > 3 else w for w in WORD.findall(text.lower()) if len(w) > 1}
    return found - STOP


def passages() -> list[tuple[str, str]]:
    """``(source, paragraph)`` for every paragraph of the guide, in file order (headings left out)."""
    found = []
    for path in sorted(DOCS.glob("*.md")):
        for block in path.read_text(encoding="utf-8").split("\n\n"):
            block = " ".join(block.split())
            if block and not block.startswith("#"):
                found.append((path.stem.replace("_", " "), block))
    return found


def best_passage(question: str) -> tuple[str, str] | None:
    """The passage sharing the most words with ``question`` (the first of equals); None if none shares any."""
    asked = words(question)
    scored = [(len(asked & words(text)), -i, source, text) for i, (source, text) in enumerate(passages())]
    best = max(scored, default=None)
    return None if best is None or best[0] == 0 else (best[2], best[3])


class SearchTravelDocs(Action):
    """Answer the latest user message from the travel guide."""

    def name(self) -> str:
        return "action_search_travel_docs"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        found = best_passage(tracker.latest_message.get("text") or "")
        if found is None:
            dispatcher.utter_message(response="utter_search_no_result")
        else:
            dispatcher.utter_message(response="utter_search_result", answer=found[1], source=found[0])
        return []
