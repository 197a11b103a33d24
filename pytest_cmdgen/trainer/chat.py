"""Training sequences built the way the model will be served, with the loss on the completion only.

The command generator sends its prompt as one chat message, so a served model sees the base model's chat
template around it: a user turn, then the generation prompt of an assistant turn. Each example becomes

* ``prompt_ids`` — the tokens of ``apply_chat_template([user], add_generation_prompt=True)``, exactly what a
  server feeds the model;
* ``completion_ids`` — the rest of the rendered conversation ``[user, assistant]`` up to and including the
  template's end-of-turn token (what the model must generate, and where generation must stop);

and the labels are ``-100`` on the prompt and the token ids on the completion. No model-specific string
is written anywhere: the end-of-turn token is read off the template itself (:func:`chat_format`). A
tokenizer without a chat template trains on the raw prompt, the completion and the EOS token.

The tokenizer is duck-typed (any Hugging Face tokenizer); nothing here imports the training stack.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pytest_cmdgen.trainer.data import Example
from pytest_cmdgen.trainer.errors import TrainSetupError

IGNORE_INDEX = -100
"""The label of a token that carries no loss."""

_SENTINEL = "\u2063cmdgen-answer\u2063"
"""Stands for the assistant's content when the template is probed (never a real answer)."""


@dataclass(frozen=True)
class ChatFormat:
    """How a tokenizer wraps a prompt and an answer."""

    templated: bool
    """True when the tokenizer has a chat template (else the raw prompt is used)."""
    end_of_turn: str
    """The token that ends the assistant's turn (a template's ``<|im_end|>``/``<|eot_id|>``, else EOS)."""
    end_of_turn_id: int
    warnings: tuple[str, ...] = ()
    """What the user should know about this format (no chat template, no end-of-turn token found)."""


def chat_format(tokenizer: Any) -> ChatFormat:
    """Read the end-of-turn token off the tokenizer's chat template: the first special token the template
    writes after the assistant's content. Without a template (or without a special token there) it is EOS."""
    warnings: list[str] = []
    if getattr(tokenizer, "chat_template", None):
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": "ping"}, {"role": "assistant", "content": _SENTINEL}], tokenize=False
        )
        if _SENTINEL in rendered:
            suffix = rendered.split(_SENTINEL, 1)[1]
            special = set(tokenizer.all_special_ids) | {
                token_id for token_id, token in tokenizer.added_tokens_decoder.items() if token.special
            }
            for token_id in tokenizer(suffix, add_special_tokens=False)["input_ids"]:
                if token_id in special:
                    return ChatFormat(True, tokenizer.convert_ids_to_tokens(token_id), token_id)
            warnings.append("the chat template writes no special token after the assistant's answer: EOS ends the turn")
        else:
            warnings.append("the chat template drops the assistant's answer: training on the raw prompt")
            return _raw_format(tokenizer, warnings)
        return ChatFormat(True, *_eos(tokenizer), warnings=tuple(warnings))
    warnings.append(
        "the base model has no chat template: training on the raw prompt; serve it with a completion "
        "endpoint, or pick an instruct model whose chat template the command generator's requests go through"
    )
    return _raw_format(tokenizer, warnings)


def _raw_format(tokenizer: Any, warnings: list[str]) -> ChatFormat:
    return ChatFormat(False, *_eos(tokenizer), warnings=tuple(warnings))


def _eos(tokenizer: Any) -> tuple[str, int]:
    if tokenizer.eos_token is None or tokenizer.eos_token_id is None:
        raise TrainSetupError(
            "the base model's tokenizer has neither a chat template nor an EOS token: generation could never stop",
            hint="pick a base model with a chat template (an instruct model)",
        )
    return tokenizer.eos_token, tokenizer.eos_token_id


@dataclass(frozen=True)
class Encoded:
    """One training sequence: token ids and labels (``-100`` where no loss is taken)."""

    input_ids: list[int]
    labels: list[int]
    prompt_length: int
    """How many leading tokens are the prompt (served as is)."""

    @property
    def completion_ids(self) -> list[int]:
        """The tokens that carry loss."""
        return self.input_ids[self.prompt_length :]


def prompt_ids(tokenizer: Any, fmt: ChatFormat, prompt: str) -> list[int]:
    """The prompt's tokens as a server would feed them to the model (chat template with generation prompt)."""
    if fmt.templated:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return list(tokenizer(prompt)["input_ids"])


def encode(tokenizer: Any, fmt: ChatFormat, example: Example) -> Encoded:
    """The training sequence of one example: the served prompt, then the answer through the end-of-turn token."""
    if fmt.templated:
        user = [{"role": "user", "content": example.prompt}]
        prompt_text = tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(
            [*user, {"role": "assistant", "content": example.completion}], tokenize=False
        )
        if not full.startswith(prompt_text):
            raise TrainSetupError(
                "the chat template renders the prompt differently once the answer follows it, so the model "
                "would train on a context it is never served",
                hint="pick a base model whose chat template renders the user turn the same way in both cases",
            )
        answer = full[len(prompt_text) :]
        end = answer.find(fmt.end_of_turn)
        answer = answer[: end + len(fmt.end_of_turn)] if end >= 0 else answer + fmt.end_of_turn
        ids = list(tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
        completion = list(tokenizer(answer, add_special_tokens=False)["input_ids"])
    else:
        ids = list(tokenizer(example.prompt)["input_ids"])
        completion = [*tokenizer(example.completion, add_special_tokens=False)["input_ids"], fmt.end_of_turn_id]
    return Encoded(ids + completion, [IGNORE_INDEX] * len(ids) + completion, len(ids))


@dataclass
class EncodedSplit:
    """The encoded examples of one split, and how many were left out for exceeding ``max_length``."""

    rows: list[Encoded] = field(default_factory=list)
    too_long: int = 0

    @property
    def tokens(self) -> int:
        """Tokens in all rows."""
        return sum(len(row.input_ids) for row in self.rows)

    def records(self) -> list[dict[str, list[int]]]:
        """The rows as a datasets-ready list of ``{input_ids, labels}``."""
        return [{"input_ids": row.input_ids, "labels": row.labels} for row in self.rows]


def encode_all(tokenizer: Any, fmt: ChatFormat, examples: Iterable[Example], max_length: int) -> EncodedSplit:
    """Encode every example; one longer than ``max_length`` is left out (cut, it would lose its answer)."""
    split = EncodedSplit()
    for example in examples:
        row = encode(tokenizer, fmt, example)
        if len(row.input_ids) > max_length:
            split.too_long += 1
        else:
            split.rows.append(row)
    return split


def loss_preview(tokenizer: Any, row: Encoded, context_tokens: int = 24) -> str:
    """One sequence as text with the part that carries loss in ``[[...]]``, the end of the prompt before it."""
    start = max(row.prompt_length - context_tokens, 0)
    before = tokenizer.decode(row.input_ids[start : row.prompt_length])
    loss = tokenizer.decode([t for t in row.labels if t != IGNORE_INDEX])
    return f"{'…' if start else ''}{before}[[{loss}]]"


__all__ = [
    "IGNORE_INDEX",
    "ChatFormat",
    "Encoded",
    "EncodedSplit",
    "chat_format",
    "encode",
    "encode_all",
    "loss_preview",
    "prompt_ids",
]
