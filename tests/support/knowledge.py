"""A canned stand-in for EnterpriseSearchPolicy: the packs' ``docs/`` folders were not copied.

:class:`CannedResponder` follows the runtime's ``Responder`` protocol and answers a ``search`` frame with
a fixed text chosen by the latest user message (the answers the starter-pack tests expect), or falls
back to the runtime's default responder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_cmdgen.runtime.events import UserUttered
from pytest_cmdgen.runtime.interfaces import ActionResult

#: Expected knowledge answers of the retail banking tests, by user message.
BANKING_ANSWERS = {
    "How can we solve world hunger?": (
        "Based on the provided documents and the context of the recent conversation, the question about solving "
        "world hunger is not directly addressed. If you have any specific questions related to the documents or "
        "conversation context, feel free to ask for more information."
    ),
    "Are there any fees to transfer money to my friends?": (
        "Yes, there may be fees associated with transferring money, especially for international transfers. To "
        "avoid fees, consider using bank-to-bank transfers within the UK whenever possible. You will be notified "
        "of any applicable fees before confirming the transfer."
    ),
    "are there fees to transfer from or to prepaid cards": (
        "Yes, there may be fees associated with transferring funds to or from prepaid cards. It is advisable to "
        "check your account details for specific charges related to these transactions."
    ),
    "Wait, Wait, what will happen to my pre-authorized payments": (
        "When you block your card, any recurring payments linked to it will be interrupted until you update them "
        "with a new card number. You can request the merchants to cancel the hold on your pre-authorized payments "
        "if it is no longer necessary."
    ),
}


@dataclass
class CannedResponder:
    """Answer ``search`` with ``answers[latest user text]``; anything else goes to ``fallback``."""

    answers: dict[str, str] = field(default_factory=lambda: dict(BANKING_ANSWERS))
    fallback: Any = None

    def respond(self, kind: str, tracker: Any, project: Any) -> ActionResult:
        """The canned answer as a text response (with ``utter_source: EnterpriseSearchPolicy`` metadata)."""
        text = None
        for event in reversed(list(tracker.events)):
            if isinstance(event, UserUttered):
                text = event.text
                break
        if kind == "search" and text in self.answers:
            return ActionResult(
                responses=[{"text": self.answers[text], "metadata": {"utter_source": "EnterpriseSearchPolicy"}}]
            )
        if self.fallback is not None:
            return self.fallback.respond(kind, tracker, project)
        from pytest_cmdgen.runtime.interfaces import FallbackResponder

        return FallbackResponder().respond(kind, tracker, project)
