"""A tiny Llama-architecture model and tokenizer, built locally in seconds: for testing training offline.

:func:`build_tiny_model` trains a byte-level BPE tokenizer on a corpus (the texts the model will see: with
the prompt templates and the project's files in it, a command-generator prompt is a few hundred tokens),
gives it a ChatML chat template (or none), and saves it with a randomly initialised ``LlamaForCausalLM``
to a directory that ``from_pretrained`` (and ``--cmdgen-base-model``) accepts. No download, no hub.
Needs the ``train`` extra (torch, transformers, tokenizers), imported when called.

From the command line, ``python -m pytest_cmdgen.testing.tiny_model OUT [--corpus PATH ...]`` builds one from
the package's prompt templates and the YAML/JSONL/text files under each ``--corpus`` path (an assistant's
folder, a prepare output), so the training loop runs end to end on a CPU without a hub. Such a model is
random: it learns the shape of the answers, nothing useful.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Sequence
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


CORPUS_SUFFIXES = (".yml", ".yaml", ".jsonl", ".json", ".jinja2", ".txt", ".md")
"""Files under a ``--corpus`` directory whose text goes into the tokenizer's corpus."""


CHUNK_CHARS = 2000
"""Longest piece of text handed to the tokenizer trainer: its words are whole pieces (it does not split on
whitespace), and merging inside one very long word (a JSONL line holding a whole prompt) takes minutes."""


def _chunks(text: str) -> Iterator[str]:
    """``text`` in pieces of whole lines, each at most :data:`CHUNK_CHARS` long (a longer line is cut)."""
    piece = ""
    for line in text.splitlines(keepends=True):
        while len(line) > CHUNK_CHARS:
            if piece:
                yield piece
                piece = ""
            yield line[:CHUNK_CHARS]
            line = line[CHUNK_CHARS:]
        if len(piece) + len(line) > CHUNK_CHARS:
            yield piece
            piece = ""
        piece += line
    if piece:
        yield piece


def corpus_texts(paths: Iterable[Path]) -> Iterator[str]:
    """The command-generator prompt templates shipped with the package, then the text of every
    :data:`CORPUS_SUFFIXES` file under each of ``paths`` (a file is read as it is), in sorted order, in
    pieces of at most :data:`CHUNK_CHARS` characters."""
    templates = Path(__file__).resolve().parents[1] / "generator" / "templates"
    for template in sorted(templates.glob("*.jinja2")):
        yield from _chunks(template.read_text(encoding="utf-8"))
    for path in paths:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in CORPUS_SUFFIXES)
        for file in files:
            if file.is_file():
                yield from _chunks(file.read_text(encoding="utf-8", errors="replace"))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pytest_cmdgen.testing.tiny_model OUT [--corpus PATH ...]``; returns the exit status."""
    cli = argparse.ArgumentParser(
        prog="python -m pytest_cmdgen.testing.tiny_model",
        description="Save a tiny random Llama and a tokenizer trained on the command-generator prompt templates "
        "(and the --corpus files) to OUT: a base model for trying the training loop on a CPU, offline. It "
        "learns nothing useful.",
    )
    cli.add_argument("out", type=Path, metavar="OUT", help="directory to write the model and tokenizer to")
    cli.add_argument(
        "--corpus",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="a file, or a directory whose YAML/JSONL/text files the tokenizer is trained on too (repeatable)",
    )
    cli.add_argument("--no-chat-template", action="store_true", help="save the tokenizer without a chat template")
    args = cli.parse_args(argv)
    missing = [str(path) for path in args.corpus if not path.exists()]
    if missing:
        print(f"tiny_model: error: --corpus path not found: {', '.join(missing)}", file=sys.stderr)
        return 1
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        print(f"tiny_model: error: {exc.name} is not installed; pip install 'pytest-cmdgen[train]'", file=sys.stderr)
        return 1
    chat_template = None if args.no_chat_template else CHATML_TEMPLATE
    path = build_tiny_model(args.out, corpus_texts(args.corpus), chat_template=chat_template)
    print(f"tiny model saved to {path} (random weights: it learns the shape of the answers, nothing useful)")
    return 0


__all__ = ["CHATML_TEMPLATE", "CHUNK_CHARS", "CORPUS_SUFFIXES", "build_tiny_model", "corpus_texts", "main"]

if __name__ == "__main__":
    sys.exit(main())
