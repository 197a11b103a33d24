"""Find and load the base model and its tokenizer, with one clear line when that cannot work.

:func:`locate_base_model` is checked before any weight is read: a local directory must hold a
``config.json``; a Hugging Face id must be well-formed, and offline (``HF_HUB_OFFLINE``) it must be in
the local cache. :func:`load_tokenizer` and :func:`load_model` (transformers back-end) turn the library's
``OSError``/``ValueError`` into a :class:`~pytest_cmdgen.trainer.errors.TrainSetupError`.
:func:`set_stop_tokens` makes the tokenizer, the model config and its generation config agree that the
end-of-turn token ends an answer, so the trained and the merged model stop where the commands end.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pytest_cmdgen.trainer.chat import ChatFormat
from pytest_cmdgen.trainer.errors import TrainSetupError
from pytest_cmdgen.trainer.train_config import TrainConfig

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_KEY = "model_name_or_path"
_HINT = "set model_name_or_path in --cmdgen-train-config, or --cmdgen-base-model / cmdgen-train --base-model"


def hub_offline() -> bool:
    """Whether the Hugging Face Hub must not be contacted (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``)."""
    flags = (os.environ.get(name, "").strip().lower() for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(flag in ("1", "true", "yes", "on") for flag in flags)


def locate_base_model(name: str) -> str:
    """The base model's directory or hub id, checked: raise when it certainly cannot be loaded."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TrainSetupError(f"base model {name!r}: the directory has no config.json", key=_KEY, hint=_HINT)
        return str(path)
    if not _HUB_ID.match(name) or name.startswith((".", "/", "~")):
        raise TrainSetupError(
            f"base model {name!r} not found: no such directory, and not a Hugging Face model id", key=_KEY, hint=_HINT
        )
    if hub_offline() and not _cached(name):
        raise TrainSetupError(
            f"base model {name!r} not found: it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set",
            key=_KEY,
            hint=f"download it first (hf download {name}) or give a local directory; {_HINT}",
        )
    return name


def _cached(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json")
    return isinstance(found, str)


def _loading(name: str, what: str, exc: BaseException) -> TrainSetupError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = "for a gated model, accept its licence and log in (hf auth login); " + _HINT
    return TrainSetupError(f"base model {name!r}: cannot load its {what}: {reason}", key=_KEY, hint=hint)


def load_tokenizer(name: str) -> Any:
    """The base model's tokenizer."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise _loading(name, "tokenizer", exc) from None


def torch_dtype(config: TrainConfig, cuda: bool) -> Any:
    """The dtype the base weights are loaded in: bf16 on a GPU that has it, fp16 on one without, fp32 on CPU."""
    import torch

    if not cuda:
        return torch.float32
    return torch.bfloat16 if config.bf16 else torch.float16


def quantization_config(config: TrainConfig, dtype: Any) -> Any:
    """bitsandbytes' settings for ``quantization: 4bit`` (nf4, double quantization) or ``8bit``; None for none."""
    if config.quantization == "none":
        return None
    from transformers import BitsAndBytesConfig

    if config.quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype
    )


def load_model(name: str, config: TrainConfig, cuda: bool, device_index: int = 0) -> Any:
    """The base model for the transformers back-end, quantized when asked for (then prepared for k-bit LoRA)."""
    from transformers import AutoModelForCausalLM

    dtype = torch_dtype(config, cuda)
    kwargs: dict[str, Any] = {"dtype": dtype}
    quantization = quantization_config(config, dtype)
    if quantization is not None:
        kwargs["quantization_config"] = quantization
        kwargs["device_map"] = {"": device_index if cuda else "cpu"}
    try:
        model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as exc:
        raise _loading(name, "weights", exc) from None
    if quantization is not None:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    model.config.use_cache = False  # no KV cache while training (and no warning about it with checkpointing)
    return model


def set_stop_tokens(tokenizer: Any, model: Any, fmt: ChatFormat) -> None:
    """End-of-turn as EOS everywhere; a pad token that exists (the tokenizer's own, else EOS)."""
    original_eos = tokenizer.eos_token_id
    tokenizer.eos_token = fmt.end_of_turn
    if tokenizer.pad_token is None:
        tokenizer.pad_token = fmt.end_of_turn
    eos_ids = [fmt.end_of_turn_id]
    generation = getattr(model, "generation_config", None)
    existing = getattr(generation, "eos_token_id", None) if generation is not None else None
    for token_id in [*(existing if isinstance(existing, list) else [existing]), original_eos]:
        if token_id is not None and token_id not in eos_ids:
            eos_ids.append(token_id)
    text_config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    text_config.pad_token_id = tokenizer.pad_token_id
    if generation is not None:
        generation.eos_token_id = eos_ids if len(eos_ids) > 1 else eos_ids[0]
        generation.pad_token_id = tokenizer.pad_token_id


__all__ = [
    "hub_offline",
    "load_model",
    "load_tokenizer",
    "locate_base_model",
    "quantization_config",
    "set_stop_tokens",
    "torch_dtype",
]
