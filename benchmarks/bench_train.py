"""Benchmark: LoRA training throughput of ``pytest_cmdgen.trainer`` on a split shaped like a real one.

A random-initialised model of a given architecture (default: Llama-3.1-8B's shape; speed does not depend on
the weights, and no hub is needed) trains on a synthetic split of ``--examples`` data points whose prompts
are ``--prompt-tokens`` long (the car-rental prompt is about 1,500 tokens with Llama 3's tokenizer) and whose
answers are ``--completion-tokens`` long, labels on the answer only, exactly as the trainer builds them. The
trainer's own ``SFTTrainer`` set-up (:func:`pytest_cmdgen.trainer.sft.build_trainer`) runs ``--steps``
optimizer steps with Rasa's defaults (batch 2 × accumulation 4, LoRA r=16 on the seven projections); the
first step is left out of the rates (allocation, kernel selection).

Printed: examples/s, tokens/s, seconds per optimizer step, peak memory (GPU, else process RSS) and the
projected time of 3 epochs over the split, against Rasa's published figures (about 12 minutes for about 500
examples on one A100 with its 2024 unsloth notebook; about 1 hour for about 1,600 examples with its current
trl notebook).

Run: ``python benchmarks/bench_train.py`` (8B shape; needs a GPU with ~40 GB) or on CPU with a small shape:
``python benchmarks/bench_train.py --hidden 256 --intermediate 1024 --layers 4 --heads 8 --kv-heads 2
--vocab 32000 --steps 4``. ``--backend unsloth`` saves the random model to a temporary directory first
(unsloth loads from a path).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

LLAMA_8B = {"hidden": 4096, "intermediate": 14336, "layers": 32, "heads": 32, "kv_heads": 8, "vocab": 128256}


def parse_args() -> argparse.Namespace:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, value in LLAMA_8B.items():
        cli.add_argument(f"--{name.replace('_', '-')}", type=int, default=value)
    cli.add_argument("--examples", type=int, default=500, help="data points in the synthetic train split")
    cli.add_argument("--prompt-tokens", type=int, default=1500)
    cli.add_argument("--completion-tokens", type=int, default=20)
    cli.add_argument("--steps", type=int, default=6, help="optimizer steps measured (the first is left out)")
    cli.add_argument("--batch", type=int, default=2, help="per_device_train_batch_size")
    cli.add_argument("--grad-accum", type=int, default=4, help="gradient_accumulation_steps")
    cli.add_argument("--epochs", type=float, default=3.0, help="epochs the projection is for")
    cli.add_argument("--backend", choices=("transformers", "unsloth"), default="transformers")
    cli.add_argument("--no-gradient-checkpointing", action="store_true")
    cli.add_argument("--quantization", choices=("none", "4bit", "8bit"), default="none")
    return cli.parse_args()


def synthetic_split(args: argparse.Namespace, vocab: int) -> Any:
    """``--examples`` sequences of random token ids; loss on the last ``--completion-tokens`` + end of turn."""
    from pytest_cmdgen.trainer.chat import IGNORE_INDEX, Encoded, EncodedSplit

    rng = random.Random(0)
    split = EncodedSplit()
    for _ in range(args.examples):
        prompt = [rng.randrange(4, vocab) for _ in range(args.prompt_tokens)]
        answer = [rng.randrange(4, vocab) for _ in range(args.completion_tokens)] + [1]
        split.rows.append(Encoded(prompt + answer, [IGNORE_INDEX] * len(prompt) + answer, len(prompt)))
    return split


def tokenizer() -> Any:
    """A minimal tokenizer with pad and end-of-turn tokens (the data is already token ids)."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eot>": 1, "<bos>": 2, "<unk>": 3}
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")),
        pad_token="<pad>",
        eos_token="<eot>",
        bos_token="<bos>",
        unk_token="<unk>",
    )


def model_and_tokenizer(args: argparse.Namespace, config: Any, cuda: bool, work: Path) -> tuple[Any, Any]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = LlamaConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        max_position_embeddings=max(8192, args.prompt_tokens + args.completion_tokens + 1),
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    dtype = torch.bfloat16 if cuda and config.bf16 else torch.float32
    with torch.device("cuda" if cuda else "cpu"):
        model = LlamaForCausalLM(shape).to(dtype)
    tok = tokenizer()
    if args.backend == "unsloth":
        model.save_pretrained(work / "base")
        tok.save_pretrained(work / "base")
        del model
        from pytest_cmdgen.trainer.unsloth_backend import load_unsloth

        model, _ = load_unsloth(str(work / "base"), config)
        return model, tok
    from peft import get_peft_model

    from pytest_cmdgen.trainer.sft import lora_config

    if config.gradient_checkpointing:
        model.enable_input_require_grads()
    model.config.use_cache = False
    return get_peft_model(model, lora_config(config)), tok


def main() -> None:
    args = parse_args()
    if args.backend == "unsloth":
        import unsloth  # noqa: F401  (before transformers, as in production)
    import torch
    from transformers import TrainerCallback

    from pytest_cmdgen.trainer import TrainConfig, plan_schedule
    from pytest_cmdgen.trainer.chat import EncodedSplit
    from pytest_cmdgen.trainer.run import quiet_libraries
    from pytest_cmdgen.trainer.sft import build_trainer

    quiet_libraries()
    cuda = torch.cuda.is_available()
    config = TrainConfig(
        per_device_train_batch_size=args.batch,
        gradient_accumulation_steps=args.grad_accum,
        max_steps=args.steps,
        max_length=args.prompt_tokens + args.completion_tokens + 1,
        gradient_checkpointing=not args.no_gradient_checkpointing,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        quantization=args.quantization,
        eval_strategy="no",
        save_strategy="no",
        logging_steps=1,
        warmup_steps=0,
    )
    split = synthetic_split(args, args.vocab)
    stamps: list[float] = []

    class Timer(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, *_: Any, **__: Any) -> None:
            if cuda:
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        model, tok = model_and_tokenizer(args, config, cuda, work)
        trainer = build_trainer(
            model, tok, config, plan_schedule(config, args.examples), work / "checkpoints", split, EncodedSplit(),
            cuda=cuda, callbacks=[Timer()],
        )  # fmt: skip
        setup = time.perf_counter() - started
        trainer.train()
    measured = len(stamps) - 1
    if measured < 1:
        raise SystemExit("need --steps >= 2 (the first step is left out)")
    per_step = (stamps[-1] - stamps[0]) / measured
    examples_per_step = args.batch * args.grad_accum
    seq = args.prompt_tokens + args.completion_tokens + 1
    examples_per_s = examples_per_step / per_step
    projected = args.epochs * args.examples / examples_per_s
    peak = (
        f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GB GPU"
        if cuda
        else f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB RSS"
    )
    device = torch.cuda.get_device_name(0) if cuda else f"CPU, {torch.get_num_threads()} threads"
    params = sum(p.numel() for p in trainer.model.parameters())
    print(
        f"model: Llama shape hidden {args.hidden}, {args.layers} layers, vocab {args.vocab} "
        f"({params / 1e6:,.1f} M parameters), {args.backend} back-end, {device}"
    )
    print(
        f"data: {args.examples} examples x {seq} tokens; batch {args.batch} x accumulation {args.grad_accum}; "
        f"gradient checkpointing {'on' if config.gradient_checkpointing else 'off'}; setup {setup:.1f} s"
    )
    print(
        f"{per_step:.2f} s/step, {examples_per_s:.2f} examples/s, {examples_per_s * seq:,.0f} tokens/s, peak {peak}; "
        f"projected {args.epochs:g} epochs of {args.examples} examples: {projected / 60:.1f} min "
        f"(Rasa: ~12 min for ~500 examples on one A100 with unsloth, ~60 min for ~1,600 with trl)"
    )


if __name__ == "__main__":
    main()
