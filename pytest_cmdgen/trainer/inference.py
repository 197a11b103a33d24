"""Generation with a trained command generator, served the way it was trained: :func:`load_generation_model`.

A model directory is either a full model (``config.json``: the merged model, or any base model) or a LoRA
adapter (``adapter_config.json``; its base is the one the adapter records, else the ``model_name_or_path`` of
the ``train_config.yaml`` saved beside it, and is found with
:func:`~pytest_cmdgen.trainer.base_model.locate_base_model`). The tokenizer is the directory's own (training
saved it with the end-of-turn token as EOS), else the base model's.

:meth:`GenerationModel.generate` wraps each prompt in the chat template exactly as training did
(:func:`~pytest_cmdgen.trainer.chat.prompt_ids`), generates greedily in batches (left padding, prompts of
similar length batched together), and stops at the end-of-turn token read off the template
(:func:`~pytest_cmdgen.trainer.chat.chat_format`); on a GPU when there is one. The training stack (torch,
transformers, peft) is imported inside the functions that use it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_cmdgen.trainer.base_model import locate_base_model
from pytest_cmdgen.trainer.chat import ChatFormat, chat_format, prompt_ids
from pytest_cmdgen.trainer.environment import missing
from pytest_cmdgen.trainer.errors import TrainSetupError

ADAPTER_CONFIG = "adapter_config.json"
MODEL_CONFIG = "config.json"
TRAIN_CONFIG = "train_config.yaml"
INFERENCE_STACK = ("torch", "transformers", "peft")
"""What generation imports (the ``train`` extra installs it)."""

DEFAULT_MAX_NEW_TOKENS = 256
"""Enough for a command generator's answer (a handful of commands); generation stops at end-of-turn first."""
DEFAULT_BATCH_SIZE = 8


@dataclass(frozen=True)
class Generation:
    """One answer."""

    text: str
    """The generated text up to (without) the end-of-turn token, special tokens left out."""
    output_tokens: int
    """Tokens generated, the stop token included (what an OpenAI-compatible server reports as completion tokens)."""
    seconds: float
    """Wall time of the batch this prompt was generated in: the latency the prompt saw."""
    prompt_tokens: int = 0
    stopped: bool = True
    """False when ``max_new_tokens`` ran out before the end-of-turn token."""


@dataclass(frozen=True)
class ModelSource:
    """Where a generation model comes from: a full model directory, or an adapter and its base."""

    path: Path
    """The directory given (the model, or the adapter)."""
    base: str | None
    """The adapter's base model (a directory or hub id); None for a full model."""
    tokenizer: str
    """Where the tokenizer is read from."""

    @property
    def is_adapter(self) -> bool:
        """Whether ``path`` is a LoRA adapter."""
        return self.base is not None


def resolve_model_source(path: str | Path, base_model: str | None = None) -> ModelSource:
    """Check a model directory before any weight is read: a full model or an adapter whose base is found.

    ``base_model`` overrides the base an adapter records. Raises
    :class:`~pytest_cmdgen.trainer.errors.TrainSetupError` (one line) when it cannot be loaded.
    """
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise TrainSetupError(
            f"model {str(path)!r} not found: no such directory",
            hint="give the model/ directory of a training run (the adapter), its merged/ directory, or a model",
        )
    has_tokenizer = any((directory / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))
    if (directory / ADAPTER_CONFIG).is_file():
        base = base_model or _recorded_base(directory)
        try:
            located = locate_base_model(base)
        except TrainSetupError as exc:
            raise TrainSetupError(
                f"the adapter in {directory} needs its base model: {exc.message}",
                hint="make the base model available offline, or name it (base_model=, --base-model)",
            ) from None
        return ModelSource(directory, located, str(directory) if has_tokenizer else located)
    if (directory / MODEL_CONFIG).is_file():
        return ModelSource(directory, None, str(directory))
    raise TrainSetupError(
        f"{directory} holds neither a model ({MODEL_CONFIG}) nor a LoRA adapter ({ADAPTER_CONFIG})",
        hint="give the model/ directory of a finished training run, or its merged/ directory",
    )


def _recorded_base(directory: Path) -> str:
    config_path = directory / ADAPTER_CONFIG
    try:
        recorded = json.loads(config_path.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError) as exc:
        raise TrainSetupError(f"the adapter's configuration cannot be read: {exc}", file=config_path) from None
    if isinstance(recorded, str) and recorded:
        return recorded
    saved = directory / TRAIN_CONFIG
    if saved.is_file():
        from pytest_cmdgen.trainer.train_config import resolve_train_config

        return resolve_train_config(saved).model_name_or_path
    raise TrainSetupError(
        "the adapter names no base model (no base_model_name_or_path, no train_config.yaml beside it)",
        file=config_path,
        hint="name the base model (base_model=, --base-model)",
    )


def check_inference_stack() -> None:
    """Fail (one line) when torch, transformers or peft is missing."""
    absent = missing(INFERENCE_STACK)
    if absent:
        raise TrainSetupError(
            f"running the model needs {', '.join(absent)}, which {'is' if len(absent) == 1 else 'are'} not "
            "installed",
            hint="pip install 'pytest-cmdgen[train]'",
        )


@dataclass
class GenerationModel:
    """A loaded model, its tokenizer and chat format: greedy, batched generation of command-generator answers."""

    model: Any
    tokenizer: Any
    fmt: ChatFormat
    source: ModelSource
    device: str
    """``cuda`` or ``cpu``."""
    name: str
    """What produced the answers, for reports: the directory, plus the base for an adapter."""
    stop_ids: list[int] = field(default_factory=list)
    """Token ids that end an answer: the end-of-turn token first, then the tokenizer's and model's EOS."""

    @property
    def max_context(self) -> int | None:
        """The longest sequence (prompt and answer) the model takes, in tokens, where its config says."""
        config = getattr(self.model, "config", None)
        text = config.get_text_config() if config is not None and hasattr(config, "get_text_config") else config
        value = getattr(text, "max_position_embeddings", None)
        return value if isinstance(value, int) and value > 0 else None

    def encode(self, prompt: str) -> list[int]:
        """The prompt's tokens as the model is served them (the chat template with the generation prompt)."""
        return prompt_ids(self.tokenizer, self.fmt, prompt)

    def generate(
        self,
        prompts: Sequence[str],
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> list[Generation]:
        """Greedy answers to ``prompts``, in their order. Prompts are batched by length (left padding);
        each answer ends at the first stop token or after ``max_new_tokens``."""
        encoded = [self.encode(prompt) for prompt in prompts]
        order = sorted(range(len(encoded)), key=lambda index: len(encoded[index]))
        results: list[Generation | None] = [None] * len(encoded)
        step = max(int(batch_size), 1)
        for start in range(0, len(order), step):
            chunk = order[start : start + step]
            answers = self._generate_batch([encoded[i] for i in chunk], max_new_tokens)
            for index, generation in zip(chunk, answers, strict=True):
                results[index] = generation
        return [result for result in results if result is not None]

    def _generate_batch(self, batch: list[list[int]], max_new_tokens: int) -> list[Generation]:
        import torch

        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.stop_ids[0]
        width = max(len(ids) for ids in batch)
        input_ids = torch.tensor([[pad_id] * (width - len(ids)) + ids for ids in batch], dtype=torch.long)
        attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], dtype=torch.long)
        started = time.perf_counter()
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                generation_config=self._generation_config(max_new_tokens),
            )
        if self.device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        generations = []
        for ids, row in zip(batch, output[:, width:].tolist(), strict=True):
            end = next((position for position, token in enumerate(row) if token in self.stop_ids), None)
            answer = row if end is None else row[:end]
            text = self.tokenizer.decode(answer, skip_special_tokens=True)
            produced = len(row) if end is None else end + 1
            generations.append(Generation(text, produced, seconds, len(ids), end is not None))
        return generations

    def _generation_config(self, max_new_tokens: int) -> Any:
        from transformers import GenerationConfig

        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.stop_ids[0]
        return GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            eos_token_id=list(self.stop_ids),
            pad_token_id=pad_id,
            bos_token_id=getattr(self.model.generation_config, "bos_token_id", None),
        )

    def close(self) -> None:
        """Free the weights (and the GPU memory they hold)."""
        self.model = None
        if self.device == "cuda":
            import torch

            torch.cuda.empty_cache()


def _device(device: str | None) -> str:
    if device is not None:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _dtype(device: str) -> Any:
    import torch

    if device != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _load_error(name: str, what: str, exc: BaseException) -> TrainSetupError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return TrainSetupError(f"model {name!r}: cannot load its {what}: {reason}")


def load_generation_model(
    path: str | Path,
    *,
    base_model: str | None = None,
    without_adapter: bool = False,
    device: str | None = None,
    merge: bool = True,
) -> GenerationModel:
    """Load a model directory for generation: a full model, or a LoRA adapter on its base.

    ``without_adapter`` loads an adapter's base model alone (with the base's own tokenizer), to compare with
    it. ``merge`` folds the adapter into the weights (faster generation, same answers). ``device`` defaults
    to ``cuda`` when there is one. A directory that cannot be loaded raises
    :class:`~pytest_cmdgen.trainer.errors.TrainSetupError` with one line.
    """
    source = resolve_model_source(path, base_model)
    check_inference_stack()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # no "Loading weights" bars: the caller says what is loaded
    if without_adapter:
        if source.base is None:
            raise TrainSetupError(f"{source.path} is a full model, not an adapter: it has no base model to load")
        source = ModelSource(Path(source.base), None, source.base)
    target = _device(device)
    weights = source.base if source.base is not None else str(source.path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.tokenizer)
    except (OSError, ValueError) as exc:
        raise _load_error(source.tokenizer, "tokenizer", exc) from None
    model: Any
    try:
        model = AutoModelForCausalLM.from_pretrained(weights, dtype=_dtype(target))
    except (OSError, ValueError) as exc:
        raise _load_error(weights, "weights", exc) from None
    if source.is_adapter:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, str(source.path))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise _load_error(str(source.path), "LoRA adapter", exc) from None
        if merge:
            model = model.merge_and_unload()
    model = model.to(target).eval()
    fmt = chat_format(tokenizer)
    stop_ids = [fmt.end_of_turn_id]
    generation = getattr(model, "generation_config", None)
    recorded = getattr(generation, "eos_token_id", None)
    for token_id in [tokenizer.eos_token_id, *(recorded if isinstance(recorded, list) else [recorded])]:
        if token_id is not None and token_id not in stop_ids:
            stop_ids.append(int(token_id))
    name = str(source.path) + (f" on {source.base}" if source.base else "")
    return GenerationModel(model, tokenizer, fmt, source, target, name, stop_ids)


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_NEW_TOKENS",
    "INFERENCE_STACK",
    "Generation",
    "GenerationModel",
    "ModelSource",
    "check_inference_stack",
    "load_generation_model",
    "resolve_model_source",
]
