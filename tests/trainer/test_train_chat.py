"""Training sequences go through the base model's chat template, with the loss on the commands and the
end-of-turn token only, whatever the template: no model-specific string is written anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_cmdgen.recipe.output import TRAIN_FILE
from pytest_cmdgen.trainer import Example, TrainConfig, chat_format, encode, encode_all, load_split, plan_schedule
from pytest_cmdgen.trainer.chat import IGNORE_INDEX, loss_preview
from tests.trainer.conftest import copy_output


def _tokenizer(path: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def _conversational(prepared: Path, target: Path) -> Path:
    """The same split with conversational rows, as --cmdgen-output-format conversational writes them."""
    out = copy_output(prepared, target)
    path = out / TRAIN_FILE
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": r["prompt"]},
                        {"role": "assistant", "content": r["completion"]},
                    ]
                }
            )
            + "\n"
            for r in rows
        )
    )
    return out


@pytest.mark.parametrize("model", ["tiny_model", "tiny_llama3_model"])
@pytest.mark.parametrize("row_format", ["instruction", "conversational"])
def test_exactly_the_commands_and_the_end_of_turn_token_carry_loss(
    request: pytest.FixtureRequest, prepared: Path, tmp_path: Path, model: str, row_format: str
) -> None:
    tokenizer = _tokenizer(request.getfixturevalue(model))
    out = prepared if row_format == "instruction" else _conversational(prepared, tmp_path / "out")
    split = load_split(out)
    assert split.row_format == row_format
    fmt = chat_format(tokenizer)
    expected_end = {"tiny_model": "<|im_end|>", "tiny_llama3_model": "<|eot_id|>"}[model]
    assert (fmt.templated, fmt.end_of_turn, fmt.warnings) == (True, expected_end, ())
    assert fmt.end_of_turn != tokenizer.eos_token or model == "tiny_model"  # Llama 3: not EOS, found in the template
    for example in split.train[:5]:
        row = encode(tokenizer, fmt, example)
        # The prompt is what a server feeds the model: the chat template with the generation prompt.
        served = tokenizer.apply_chat_template(
            [{"role": "user", "content": example.prompt}], add_generation_prompt=True, tokenize=True
        )
        served = served["input_ids"] if isinstance(served, dict) or hasattr(served, "keys") else served
        assert row.input_ids[: row.prompt_length] == list(served)
        # Decoding the label mask gives back the commands, then the end-of-turn token, and nothing else.
        loss_ids = [token for token in row.labels if token != IGNORE_INDEX]
        assert loss_ids == row.input_ids[row.prompt_length :]
        assert loss_ids[-1] == fmt.end_of_turn_id
        assert tokenizer.decode(loss_ids[:-1]) == example.completion
        assert all(label == IGNORE_INDEX for label in row.labels[: row.prompt_length])
    assert loss_preview(tokenizer, encode(tokenizer, fmt, split.train[0])).endswith(
        f"[[{split.train[0].completion}{expected_end}]]"
    )


def test_a_model_without_a_chat_template_trains_on_the_raw_prompt_with_a_warning(tiny_plain_model: Path) -> None:
    tokenizer = _tokenizer(tiny_plain_model)
    fmt = chat_format(tokenizer)
    assert not fmt.templated and fmt.end_of_turn == "<|endoftext|>"
    assert len(fmt.warnings) == 1 and "no chat template" in fmt.warnings[0]
    row = encode(tokenizer, fmt, Example("Answer with commands:\n", "StartFlow(book)"))
    assert tokenizer.decode(row.input_ids[: row.prompt_length]) == "Answer with commands:\n"
    assert tokenizer.decode(row.completion_ids) == "StartFlow(book)<|endoftext|>"


def test_data_points_longer_than_max_length_are_left_out(tiny_model: Path, prepared: Path) -> None:
    tokenizer = _tokenizer(tiny_model)
    fmt = chat_format(tokenizer)
    split = load_split(prepared)
    lengths = sorted(len(encode(tokenizer, fmt, e).input_ids) for e in split.train)
    cut = lengths[len(lengths) // 2]
    encoded = encode_all(tokenizer, fmt, split.train, cut)
    assert encoded.too_long == sum(1 for n in lengths if n > cut) > 0
    assert all(len(row.input_ids) <= cut for row in encoded.rows)


def test_the_trainer_trains_on_our_label_mask_as_it_is(tiny_model: Path, prepared: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from pytest_cmdgen.trainer.progress import StopRequest, trainer_callbacks
    from pytest_cmdgen.trainer.sft import build_trainer

    tokenizer = _tokenizer(tiny_model)
    fmt = chat_format(tokenizer)
    split = load_split(prepared)
    config = TrainConfig(gradient_checkpointing=False, max_length=1024)
    train = encode_all(tokenizer, fmt, split.train, config.max_length)
    val = encode_all(tokenizer, fmt, split.val, config.max_length)
    trainer = build_trainer(
        AutoModelForCausalLM.from_pretrained(tiny_model),
        tokenizer,
        config,
        plan_schedule(config, len(train.rows)),
        tmp_path / "checkpoints",
        train,
        val,
        cuda=False,
        callbacks=trainer_callbacks(None, StopRequest()),
    )
    assert trainer.train_dataset["labels"] == [row.labels for row in train.rows]
    assert trainer.train_dataset["input_ids"] == [row.input_ids for row in train.rows]
