"""Why an LLM call is made: one enumeration used by every caller, the usage meter and the summary."""

from __future__ import annotations

from enum import Enum


class Purpose(str, Enum):
    """The purpose of an LLM or embedding call; its value is the name the usage meter and summary show."""

    ANNOTATION = "annotation"
    """The command generator's prompt for a user turn of an E2E test."""
    REPHRASING = "rephrasing"
    """The rephraser's call for paraphrases of a conversation's user turns."""
    VALIDATION = "validation"
    """The command generator's prompt with a paraphrase, to check it gives the same commands."""
    EMBEDDINGS = "embeddings"
    """Flow-retrieval embeddings of the flow index and of user messages."""
    NLG_REPHRASING = "nlg_rephrasing"
    """The assistant's own response rephrasing (``endpoints.yml`` ``nlg: {type: rephrase}``)."""

    def __str__(self) -> str:
        return self.value


__all__ = ["Purpose"]
