"""Generation from a model directory or a LoRA adapter: batched (left padding) answers equal one-by-one answers,
the adapter's base is read from what training saved, and a directory that cannot be loaded is one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_cmdgen.trainer import TrainSetupError
from pytest_cmdgen.trainer.inference import load_generation_model, resolve_model_source
from tests.trainer.conftest import shared

PROMPTS = [
    "Answer with commands: the user said hello",
    "These are the flows that can be started: search_rental_car, opening_hours. The user said: I want a car in Bern",
    "x",
    "Your task is to analyze the current conversation context and generate a list of actions",
]


@pytest.fixture(scope="session")
def random_adapter(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    """A LoRA adapter on the tiny model with random (non-zero) weights, saved as training saves one: the
    adapter, the tokenizer, and the base recorded in ``adapter_config.json``."""

    def build(path: Path) -> None:
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.manual_seed(1)
        model = get_peft_model(
            AutoModelForCausalLM.from_pretrained(tiny_model),
            LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
        )
        model.save_pretrained(path)
        AutoTokenizer.from_pretrained(tiny_model).save_pretrained(path)

    return shared(tmp_path_factory, "random-adapter", build)


def _one_by_one(model, tokenizer, prompt: str, max_new_tokens: int, stop_ids: list[int]) -> list[int]:
    """Greedy generation of a single prompt, without padding: the reference the batched answers must equal."""
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stop_ids)
    return out[0, ids["input_ids"].shape[1] :].tolist()


def test_batched_answers_are_those_of_one_prompt_at_a_time_in_prompt_order(tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    generator = load_generation_model(tiny_model, device="cpu")
    assert (generator.source.is_adapter, generator.fmt.end_of_turn, generator.device) == (False, "<|im_end|>", "cpu")
    batched = generator.generate(PROMPTS, max_new_tokens=12, batch_size=3)
    reference = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    for prompt, generation in zip(PROMPTS, batched, strict=True):
        tokens = _one_by_one(reference, tokenizer, prompt, 12, generator.stop_ids)
        stop = next((i for i, t in enumerate(tokens) if t in generator.stop_ids), None)
        expected = tokens if stop is None else tokens[:stop]
        assert generation.text == tokenizer.decode(expected, skip_special_tokens=True)
        assert generation.output_tokens == (12 if stop is None else stop + 1)
        assert generation.stopped is (stop is not None)
        assert generation.prompt_tokens == len(generator.encode(prompt)) and generation.seconds > 0
    assert [g.text for g in generator.generate(PROMPTS, max_new_tokens=12, batch_size=1)] == [g.text for g in batched]


def test_an_adapter_runs_on_the_base_it_records_and_without_it_on_demand(
    tiny_model: Path, random_adapter: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_model_source(random_adapter)
    assert (source.base, source.tokenizer) == (str(tiny_model), str(random_adapter))
    adapted = load_generation_model(random_adapter, device="cpu")
    assert adapted.name == f"{random_adapter} on {tiny_model}"
    tokenizer = AutoTokenizer.from_pretrained(random_adapter)
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), random_adapter).eval()
    base = load_generation_model(random_adapter, without_adapter=True, device="cpu")
    assert not base.source.is_adapter and base.name == str(tiny_model)
    with_adapter = adapted.generate(PROMPTS, max_new_tokens=8)
    without = base.generate(PROMPTS, max_new_tokens=8)
    for prompt, generation in zip(PROMPTS, with_adapter, strict=True):
        tokens = _one_by_one(reference, tokenizer, prompt, 8, adapted.stop_ids)
        stop = next((i for i, t in enumerate(tokens) if t in adapted.stop_ids), len(tokens))
        assert generation.text == tokenizer.decode(tokens[:stop], skip_special_tokens=True)
    assert [g.text for g in with_adapter] != [g.text for g in without]  # the adapter changes the answers
    unmerged = load_generation_model(random_adapter, device="cpu", merge=False)
    assert [g.text for g in unmerged.generate(PROMPTS, max_new_tokens=8)] == [g.text for g in with_adapter]


def test_the_base_comes_from_train_config_when_the_adapter_does_not_record_it(
    tiny_model: Path, random_adapter: Path, tmp_path: Path
) -> None:
    adapter = shutil.copytree(random_adapter, tmp_path / "model")
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = None
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    (adapter / "train_config.yaml").write_text(f"model_name_or_path: {tiny_model}\n")
    assert resolve_model_source(adapter).base == str(tiny_model)
    with pytest.raises(TrainSetupError, match="the directory has no config.json"):
        resolve_model_source(adapter, base_model=str(adapter))  # an explicit base wins, and is checked
    (adapter / "train_config.yaml").unlink()
    with pytest.raises(TrainSetupError, match="the adapter names no base model"):
        resolve_model_source(adapter)


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        ("missing", "model '{path}' not found: no such directory"),
        ("empty", "{path} holds neither a model (config.json) nor a LoRA adapter (adapter_config.json)"),
        ("base-gone", "the adapter in {path} needs its base model: base model './gone' not found"),
        ("bad-json", "{path}/adapter_config.json: the adapter's configuration cannot be read"),
    ],
)
def test_a_directory_that_cannot_be_loaded_is_one_line(
    tmp_path: Path, random_adapter: Path, setup: str, fragment: str
) -> None:
    path = tmp_path / "model"
    if setup == "empty":
        path.mkdir()
    elif setup in ("base-gone", "bad-json"):
        shutil.copytree(random_adapter, path)
        config = path / "adapter_config.json"
        text = config.read_text()
        config.write_text(
            json.dumps({**json.loads(text), "base_model_name_or_path": "./gone"}) if setup == "base-gone" else "{"
        )
    with pytest.raises(TrainSetupError) as raised:
        load_generation_model(path)
    message = str(raised.value)
    assert fragment.format(path=path) in message and "\n" not in message
