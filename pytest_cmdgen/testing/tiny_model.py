"""A tiny Llama-architecture model and tokenizer, built locally in seconds: for testing training offline.

:func:`build_tiny_model` trains a byte-level BPE tokenizer on a corpus (the texts the model will see: with
the prompt templates and the project's files in it, a command-generator prompt is a few hundred tokens),
gives it a ChatML chat template (or none), and saves it with a randomly initialised ``LlamaForCausalLM``
to a directory that ``from_pretrained`` (and ``--cmdgen-base-model``) accepts. No download, no hub.
Needs the ``train`` extra (torch, transformers, tokenizers), imported when called.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

CHATML_TEMPLATE = (
    "{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
"""ChatML, as Qwen and many others use it: ``<|im_end|>`` ends every turn."""

SPECIAL_TOKENS = ("<|pad|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>")


def build_tiny_model(
    path: Path,
    corpus: Iterable[str],
    *,
    chat_template: str | None = CHATML_TEMPLATE,
    special_tokens: Sequence[str] = SPECIAL_TOKENS,
    eos_token: str | None = None,
    bos_token: str | None = None,
    vocab_size: int = 4000,
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
    max_position_embeddings: int = 2048,
    seed: int = 0,
) -> Path:
    """Save a tokenizer trained on ``corpus`` and a random ``LlamaForCausalLM`` to ``path``; return ``path``.

    The tokenizer does not split on whitespace, so phrases the corpus repeats become single tokens and
    prompts stay short. ``special_tokens`` (the first is the pad token) are never split; EOS is ``eos_token``,
    by default ``<|im_end|>`` with a chat template (it ends a ChatML turn) and ``<|endoftext|>`` without one;
    ``bos_token`` is none by default.
    ``initializer_range=0.1`` lets LoRA move the logits quickly.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(
        list(corpus),
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(special_tokens),
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=eos_token or ("<|im_end|>" if chat_template else "<|endoftext|>"),
        bos_token=bos_token,
        pad_token=special_tokens[0],
        additional_special_tokens=list(special_tokens[1:]),
        chat_template=chat_template,
    )
    path = Path(path)
    tokenizer.save_pretrained(path)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=True,
        initializer_range=0.1,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    return path


__all__ = ["CHATML_TEMPLATE", "build_tiny_model"]
