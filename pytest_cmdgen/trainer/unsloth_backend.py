"""The unsloth back-end (``FastLanguageModel``): used on a CUDA machine with unsloth installed.

unsloth patches transformers, peft and trl when imported, so :func:`load_unsloth` imports it before any of
them (the caller makes sure nothing else has). Training itself is the same ``SFTTrainer`` as the
transformers back-end, on the model ``get_peft_model`` returns.
"""

from __future__ import annotations

from typing import Any

from pytest_cmdgen.trainer.errors import TrainSetupError
from pytest_cmdgen.trainer.train_config import TrainConfig


def load_unsloth(name: str, config: TrainConfig) -> tuple[Any, Any]:
    """The base model with its LoRA adapter attached, and its tokenizer."""
    import unsloth  # noqa: F401  (first: it patches transformers, peft and trl)
    from unsloth import FastLanguageModel

    try:
        model, tokenizer = FastLanguageModel.from_pretrained(
            model_name=name,
            max_seq_length=config.max_length,
            dtype=None,  # bf16 where supported, else fp16
            load_in_4bit=config.quantization == "4bit",
            load_in_8bit=config.quantization == "8bit",
        )
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainSetupError(
            f"base model {name!r}: unsloth cannot load it: {reason}", key="model_name_or_path"
        ) from None
    model = FastLanguageModel.get_peft_model(
        model,
        r=config.r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        bias=config.bias,
        use_gradient_checkpointing="unsloth" if config.gradient_checkpointing else False,
        random_state=config.seed,
    )
    return model, tokenizer


def save_merged_unsloth(model: Any, tokenizer: Any, directory: str) -> None:
    """Save the base model with the adapter merged in, in 16 bit (unsloth's ``merged_16bit``)."""
    model.save_pretrained_merged(directory, tokenizer, save_method="merged_16bit")


__all__ = ["load_unsloth", "save_merged_unsloth"]
