"""Benchmark: offline evaluation throughput (``cmdgen-evaluate``) at several generation batch sizes.

:func:`pytest_cmdgen.trainer.evaluate.evaluate` runs on a prepare output with a trained model, once per
``--batch-sizes`` entry, nothing written; printed per batch size: data points/s, output tokens/s, latency
per prompt (p50/p95: a prompt waits for its whole batch), the model's load time and the exact match (on
CPU in float32 the same at every batch size; in bf16 on a GPU padded batches can change a greedy answer).

Without ``--out`` the car-rental example is prepared against the scripted LLM on loopback and a tiny Llama
(built locally, no hub) is trained on it for 3 epochs, in a temporary directory: the CPU figure of the
tiny model that the issue asks for. With ``--out DIR`` (a prepare output whose ``model/`` holds an adapter)
it measures that model, on a GPU when there is one.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_evaluate.py [--out DIR] [--split train|val]
[--batch-sizes 1,8,16]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "car_rental"
TRAINING = """\
num_train_epochs: 3
per_device_train_batch_size: 8
gradient_accumulation_steps: 1
learning_rate: 1.0e-2
lora_alpha: 32
gradient_checkpointing: false
max_length: 1024
save_strategy: "no"
"""


def parse_args() -> argparse.Namespace:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--out", type=Path, help="a prepare output with a trained model/ (default: build one)")
    cli.add_argument("--split", choices=("train", "val"), default="train", help="which data points to answer")
    cli.add_argument("--batch-sizes", default="1,8,16", help="comma-separated generation batch sizes")
    return cli.parse_args()


def build(root: Path) -> Path:
    """Prepare the car-rental example and train a tiny model on it; returns the output directory."""
    from pytest_cmdgen.session import SessionConfig, run_prepare
    from pytest_cmdgen.testing.scripted_llm import ScriptedLLMServer
    from pytest_cmdgen.testing.tiny_model import build_tiny_model
    from pytest_cmdgen.trainer import resolve_train_config, train

    texts = [p.read_text(encoding="utf-8") for p in sorted((REPO / "pytest_cmdgen/generator/templates").glob("*"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted(EXAMPLE.rglob("*.yml"))]
    started = time.perf_counter()
    base = build_tiny_model(root / "tiny", texts)
    assistant = Path(shutil.copytree(EXAMPLE, root / "car_rental", ignore=shutil.ignore_patterns("conftest.py")))
    recorded = EXAMPLE / "commands.yml"
    with ScriptedLLMServer(annotations=recorded, rephrasings=recorded) as server:
        os.environ.update({"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "bench-key-not-a-secret"})
        config = SessionConfig(assistant=assistant, rootdir=root, prepare=True, out=root / "out", num_rephrases=3)
        run_prepare(config, [assistant / "tests"])
    (root / "train.yml").write_text(TRAINING)
    train(root / "out", resolve_train_config(root / "train.yml", str(base)), log=lambda line: None, rich=False)
    print(f"built the tiny model, the prepare output and the adapter in {time.perf_counter() - started:.1f} s")
    return root / "out"


def main() -> None:
    args = parse_args()
    from pytest_cmdgen.trainer.evaluate import evaluate

    with tempfile.TemporaryDirectory(prefix="cmdgen-bench-evaluate-") as temporary:
        out = args.out or build(Path(temporary))
        print(f"{'batch':>5} {'points':>6} {'points/s':>9} {'out tok/s':>10} {'p50 s':>7} {'p95 s':>7} "
              f"{'load s':>7} {'exact':>6} device")  # fmt: skip
        for size in (int(s) for s in args.batch_sizes.split(",")):
            result = evaluate(out, split=args.split, batch_size=size, write=False, log=lambda line: None)
            tuned = result.evaluations[0].as_dict()
            print(
                f"{size:>5} {tuned['data_points']:>6} {tuned['data_points_per_s']:>9.2f} "
                f"{tuned['output_tokens_per_s']:>10.1f} {tuned['latency_s']['p50']:>7.3f} "
                f"{tuned['latency_s']['p95']:>7.3f} {tuned['load_s']:>7.2f} {tuned['exact_match']:>6.1%} "
                f"{tuned['device']}"
            )


if __name__ == "__main__":
    main()
