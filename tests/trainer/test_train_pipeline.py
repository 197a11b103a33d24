"""``pytest --cmdgen-prepare --cmdgen-train`` end to end: the car-rental example against the scripted LLM,
a tiny Llama built locally as the base model, real LoRA training on CPU."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
from tests.trainer.conftest import FAST_TRAINING, copy_car_rental, llm_env, run_pytest, shared

PREPARE_LAYOUT = {
    "1_command_annotations",
    "2_rephrasings",
    "3_llm_finetune_data",
    "4_train_test_split",
    "coverage",
    "params.yaml",
    "result_summary.yaml",
}


@dataclass
class Run:
    root: Path
    out: Path
    result: subprocess.CompletedProcess[str]

    @property
    def model(self) -> Path:
        return self.out / "model"

    @property
    def metrics(self) -> dict:
        return json.loads((self.model / "metrics.json").read_text())


def prepare_and_train(root: Path, server: ScriptedLLMServer, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``pytest --cmdgen-prepare`` (3 rephrasings each) on the example in ``root``, in a fresh interpreter."""
    return run_pytest(root, server, "--cmdgen-prepare", "--cmdgen-num-rephrases", "3", *args)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, scripted_llm: ScriptedLLMServer) -> Run:
    """One prepare-and-train run for the whole session (shared by the xdist workers)."""

    def build(root: Path) -> None:
        copy_car_rental(root / "car_rental")
        (root / "train.yml").write_text(FAST_TRAINING.format(epochs=3) + "merge: true\n")
        result = prepare_and_train(
            root,
            scripted_llm,
            "--cmdgen-out",
            "out",
            "--cmdgen-train",
            "--cmdgen-train-config",
            "train.yml",
            "--cmdgen-base-model",
            tiny_model,
        )
        (root / "result.json").write_text(json.dumps([result.returncode, result.stdout, result.stderr]))

    root = shared(tmp_path_factory, "trained", build)
    code, stdout, stderr = json.loads((root / "result.json").read_text())
    assert code == 0, stdout + stderr
    return Run(root, root / "out", subprocess.CompletedProcess([], code, stdout, stderr))


def test_the_loss_falls_and_every_output_is_written(trained: Run, tiny_model: Path) -> None:
    assert "17 passed, 1 skipped" in trained.result.stdout
    assert "cmdgen-train: done: 15 steps" in trained.result.stderr
    assert "Traceback" not in trained.result.stderr
    assert {p.name for p in trained.out.iterdir()} == PREPARE_LAYOUT | {"model"}  # training adds model/ only

    model = trained.model
    expected = [
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "train_config.yaml",
        "metrics.json",
        "README.md",
        "merged/config.json",
        "merged/model.safetensors",
        "merged/generation_config.json",
        "merged/tokenizer.json",
        "checkpoints/checkpoint-5/adapter_model.safetensors",
        "checkpoints/checkpoint-10/trainer_state.json",
        "checkpoints/checkpoint-15/trainer_state.json",  # one checkpoint per epoch
        "evaluation.json",  # the evaluation on the val split that follows training
        "evaluation_errors.jsonl",
        "serve/vllm.sh",
        "serve/config.yml",
    ]
    if importlib.util.find_spec("matplotlib") is not None:  # the test extra installs it
        expected.append("loss.png")
    assert [name for name in expected if not (model / name).is_file()] == []

    metrics = trained.metrics
    losses = [point["loss"] for point in metrics["train_loss"]]
    assert [point["step"] for point in metrics["train_loss"]] == list(range(1, 16))  # 15 steps, each logged
    assert losses[-1] < losses[0] - 2
    assert [point["step"] for point in metrics["val_loss"]] == [5, 10, 15]  # val loss each epoch
    assert metrics["val_loss"][-1]["loss"] < metrics["val_loss"][0]["loss"]
    assert (metrics["epochs"], metrics["global_step"], metrics["train_examples"]) == (3.0, 15, 39)
    assert metrics["train_examples_per_s"] > 0 and metrics["train_tokens_per_s"] > metrics["train_examples_per_s"]
    assert metrics["backend"] == "transformers" and metrics["resumed_from_step"] is None

    saved = yaml.safe_load((model / "train_config.yaml").read_text())
    assert saved["model_name_or_path"] == str(tiny_model)  # --cmdgen-base-model won over the defaults
    assert (saved["warmup_steps"], saved["logging_steps"]) == (1, 1)  # 20 capped at 10 % of 15; 15 logs
    assert saved["merge"] is True and saved["bf16"] is False

    card = (model / "README.md").read_text()
    assert f"base_model: {tiny_model}" in card
    assert "- train: 39 data points" in card and "| `SetSlot` |" in card
    assert f"vllm serve {tiny_model} --enable-lora --lora-modules cmdgen={model}" in card
    summary = " ".join(trained.result.stdout.split())  # the rows wrap at 80 columns, where depends on the path
    assert "model " in summary and "(transformers, 15 steps, train loss" in summary  # the summary row

    evaluation = json.loads((model / "evaluation.json").read_text())
    assert (evaluation["split"], evaluation["data_points"], list(evaluation["models"])) == ("val", 2, ["fine-tuned"])
    assert "cmdgen-evaluate: fine-tuned: exact match " in trained.result.stderr  # plain lines: not a terminal
    assert "evaluation fine-tuned: exact match " in " ".join(trained.result.stdout.split())  # the summary row
    served = yaml.safe_load((model / "serve" / "config.yml").read_text())
    assert served["pipeline"][0]["name"] == "SingleStepLLMCommandGenerator"  # the example's generator
    assert served["pipeline"][0]["llm"]["model"] == "cmdgen"


def _generate(model, tokenizer, prompt: str, max_new_tokens: int = 40) -> list[int]:
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)  # stop tokens: the model's own
    return out[0, ids["input_ids"].shape[1] :].tolist()


def test_the_adapter_reloads_answers_in_commands_and_the_merged_model_answers_the_same(
    trained: Run, tiny_model: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained.model)
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert tokenizer.eos_token_id == end_of_turn
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), trained.model).eval()
    merged = AutoModelForCausalLM.from_pretrained(trained.model / "merged").eval()
    assert end_of_turn in [merged.generation_config.eos_token_id] + list(
        merged.generation_config.eos_token_id if isinstance(merged.generation_config.eos_token_id, list) else []
    )
    split = trained.out / "4_train_test_split" / "ft_splits"
    rows = [
        json.loads(line) for name in ("val", "train") for line in (split / f"{name}.jsonl").read_text().splitlines()
    ]
    answered = []
    for row in rows[:8]:
        answer = _generate(adapted, tokenizer, row["prompt"])
        assert _generate(merged, tokenizer, row["prompt"]) == answer  # token for token
        text = tokenizer.decode(answer[:-1])
        # Generation stops where the answer ends: at the end-of-turn token, well before the token budget.
        answered.append(answer[-1] == end_of_turn and text.startswith(("StartFlow(", "SetSlot(", "CancelFlow(")))
    # Fifteen steps leave the tiny model at the edge (CPU training is not bit-identical across thread counts):
    # most answers, not all, are commands that stop. With pad or EOS set wrong none would stop.
    assert sum(answered) >= 6, answered


def test_resume_continues_from_the_last_checkpoint(
    trained: Run,
    scripted_llm: ScriptedLLMServer,
    tmp_path: Path,
    in_process: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # As if the run had been stopped during epoch 3: its last checkpoint is that of epoch 2. What
    # --cmdgen-train-resume asks for, in this process: the prepare run again (its dataset rewritten, model/
    # kept), then training resumed from the checkpoint.
    from pytest_cmdgen.session import SessionConfig, run_prepare

    out = tmp_path / "out_resumed"
    shutil.copytree(trained.out, out)
    shutil.rmtree(out / "model" / "checkpoints" / "checkpoint-15")
    (out / "model" / "metrics.json").unlink()
    for key, value in llm_env(scripted_llm).items():
        monkeypatch.setenv(key, value)
    assistant = trained.root / "car_rental"
    config = SessionConfig(
        assistant=assistant, rootdir=trained.root, prepare=True, out=out, num_rephrases=3, train_resume=True
    )
    context = run_prepare(config, [assistant / "tests"])
    assert not context.errors, context.errors
    assert context.trained is not None
    assert "resuming from checkpoint-10" in capsys.readouterr().err
    resumed = json.loads((out / "model" / "metrics.json").read_text())
    assert resumed["resumed_from_step"] == 10 and resumed["global_step"] == 15
    assert resumed["epochs"] == pytest.approx(5 / 5 * 3)
    assert (out / "model" / "checkpoints" / "checkpoint-15" / "trainer_state.json").is_file()
    # The curve is whole (steps 1-10 from the checkpoint's state), and steps 11-15 are those of the
    # uninterrupted run: same data order, same optimizer and scheduler state, same random state.
    original = {p["step"]: p["loss"] for p in trained.metrics["train_loss"]}
    continued = {p["step"]: p["loss"] for p in resumed["train_loss"]}
    assert sorted(continued) == list(range(1, 16))
    assert [continued[s] for s in range(11, 16)] == pytest.approx([original[s] for s in range(11, 16)], rel=1e-4)
