"""``cmdgen-evaluate OUT_DIR [--model PATH] [--batch-size N] [--base]``: evaluate a fine-tuned command generator.

Answers every val data point of the prepare output ``OUT_DIR`` with the model (default ``OUT_DIR/model``),
compares with the labels like ``rasa test du`` and writes ``evaluation.json`` and ``evaluation_errors.jsonl``
into the evaluated model's directory (``OUT_DIR/model/``, or the ``--model`` directory; see
:mod:`pytest_cmdgen.trainer.evaluate`). Exit status: 0 evaluated, 1 an error (one line on stderr, whatever
failed), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_cmdgen.trainer.cli import EXIT_ERROR, EXIT_INTERRUPTED


def parser() -> argparse.ArgumentParser:
    """The command line of ``cmdgen-evaluate``."""
    cli = argparse.ArgumentParser(
        prog="cmdgen-evaluate",
        description="Evaluate the fine-tuned command generator on the val split of a pytest-cmdgen prepare output "
        "(writes evaluation.json and evaluation_errors.jsonl into the evaluated model's directory, OUT_DIR/model "
        "by default).",
    )
    cli.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="the --cmdgen-out directory of a prepare run")
    cli.add_argument(
        "--model",
        type=Path,
        metavar="PATH",
        help="the adapter or model directory to evaluate (default: OUT_DIR/model; OUT_DIR/model/merged works too); "
        "the evaluation is written into it",
    )
    cli.add_argument("--base-model", metavar="NAME_OR_PATH", help="the adapter's base model, if not the one it records")
    cli.add_argument("--base", action="store_true", help="also evaluate the base model without the adapter")
    cli.add_argument("--batch-size", type=int, default=8, metavar="N", help="prompts per generation batch (8)")
    cli.add_argument(
        "--max-new-tokens", type=int, metavar="N", help="token budget per answer (default: twice the longest label)"
    )
    cli.add_argument(
        "--split", choices=("val", "train"), default="val", help="which side of the split to answer (val)"
    )
    return cli


def _saved_evaluate_base(model_dir: Path) -> bool:
    """``evaluate_base`` of the training config saved beside the adapter (false when there is none)."""
    from pytest_cmdgen.trainer.outputs import CONFIG_FILE
    from pytest_cmdgen.trainer.train_config import resolve_train_config

    saved = model_dir / CONFIG_FILE
    if not saved.is_file():
        return False
    return resolve_train_config(saved).evaluate_base


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = parser().parse_args(argv)
    if args.batch_size < 1 or (args.max_new_tokens is not None and args.max_new_tokens < 1):
        print("cmdgen-evaluate: error: --batch-size and --max-new-tokens must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    from pytest_cmdgen.trainer.evaluate import evaluate, failure_line, render
    from pytest_cmdgen.trainer.outputs import MODEL_DIR

    model_dir = args.model if args.model is not None else args.out_dir / MODEL_DIR
    try:
        base = args.base or _saved_evaluate_base(model_dir)
        result = evaluate(
            args.out_dir,
            args.model,
            base=base,
            base_model=args.base_model,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            split=args.split,
        )
    except KeyboardInterrupt:
        print("cmdgen-evaluate: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a CmdgenError, or a failure of the model stack: one line either way
        print(f"cmdgen-evaluate: error: {failure_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    render(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
