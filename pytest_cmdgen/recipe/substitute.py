"""Putting paraphrases into a recorded command prompt, everywhere the original message stood.

Rasa 3.10 did this with plain text replacement (reference §5.5, §6.3, §15 quirks 3 and 4): validation
replaced every substring occurrence of the original text (``yes`` also inside flow descriptions), and
data points replaced ``USER: <original>`` prefixes (hitting longer lines) and looked for ``'''<original>'''``
while the template writes ``\"\"\"<original>\"\"\"``, so the latest message was never replaced.

We fix both. A prompt's conversation history ends with one ``USER: <text>`` line per sent user message
(the latest message appended last), so the ``USER:`` lines, read from the end, line up with the sent
messages from the latest backwards. Each whole line whose text is the expected message is replaced when
that message has a paraphrase; then ``\"\"\"<latest>\"\"\"`` is replaced. Only when a custom template shows
the latest message in neither form is the plain-substring replacement of Rasa used for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pytest_cmdgen.recipe.conversation import sanitize_message

USER_PREFIX = "USER: "
"""How a user message starts its line in a prompt's conversation history."""

_ERROR_PLACEHOLDERS = frozenset({"[User sent really long message]", "[User input triggered an error]", ""})


def substitute_user_messages(prompt: str, messages: Sequence[str], replacements: Mapping[int, str]) -> str:
    """The prompt with the messages at the indices of ``replacements`` replaced by their new text.

    Args:
        prompt: the recorded prompt of the turn of ``messages[-1]``.
        messages: the texts of the user messages sent up to and including that turn, in order.
        replacements: message index → new text (indices whose text is unchanged may be left out).
    """
    changes = {i: new for i, new in replacements.items() if 0 <= i < len(messages) and new != messages[i]}
    if not changes or not messages:
        return prompt
    lines = prompt.split("\n")
    position = len(messages) - 1
    latest_replaced = False
    for line_number in range(len(lines) - 1, -1, -1):
        if position < 0:
            break
        line = lines[line_number]
        if not line.startswith(USER_PREFIX) and line != USER_PREFIX.rstrip():
            continue
        shown = line[len(USER_PREFIX) :]
        if shown == sanitize_message(messages[position]):
            if position in changes:
                lines[line_number] = USER_PREFIX + sanitize_message(changes[position])
                latest_replaced = latest_replaced or position == len(messages) - 1
            position -= 1
        elif shown in _ERROR_PLACEHOLDERS or line == USER_PREFIX.rstrip():
            position -= 1
        else:
            break
    result = "\n".join(lines)
    latest = len(messages) - 1
    if latest in changes:
        quoted = f'"""{sanitize_message(messages[latest])}"""'
        if quoted in result:
            result = result.replace(quoted, f'"""{sanitize_message(changes[latest])}"""')
            latest_replaced = True
        if not latest_replaced and messages[latest]:
            result = result.replace(messages[latest], changes[latest])
    return result
