"""``cmdgen-train OUT_DIR [--config PATH] [--base-model NAME] [--resume]``: train from an existing prepare output.

So a CI job on a GPU runner can train from the artifact an earlier CPU job produced. The same entry point
runs as ``python -m pytest_cmdgen.trainer`` and under ``accelerate launch -m pytest_cmdgen.trainer`` or
``torchrun --nproc_per_node N -m pytest_cmdgen.trainer`` for data-parallel training (rank 0 writes).
The model is then evaluated on the val split (``evaluation.json``, see ``cmdgen-evaluate``).
Exit status: 0 trained, 1 an error (one line on stderr), 130 interrupted (the line says how to resume).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_cmdgen.errors import CmdgenError
from pytest_cmdgen.trainer.errors import TrainInterrupted

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def parser() -> argparse.ArgumentParser:
    """The command line of ``cmdgen-train``."""
    cli = argparse.ArgumentParser(
        prog="cmdgen-train",
        description="Fine-tune a LoRA adapter of the command generator on the split of a pytest-cmdgen prepare "
        "output (writes OUT_DIR/model/).",
    )
    cli.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="the --cmdgen-out directory of a prepare run")
    cli.add_argument("--config", type=Path, metavar="PATH", help="training config YAML (every key optional)")
    cli.add_argument("--base-model", metavar="NAME_OR_PATH", help="base model; overrides the config's")
    cli.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    cli.add_argument(
        "--show-example",
        type=int,
        metavar="N",
        help="print train example N as the model sees it, the part that carries loss in [[...]], and exit",
    )
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = parser().parse_args(argv)
    from pytest_cmdgen.trainer.run import config_for_run, is_main_process, resume_command, train

    try:
        config = config_for_run(args.out_dir, args.config, args.base_model, args.resume)
        if args.show_example is not None:
            from pytest_cmdgen.trainer.preview import show_example

            print(show_example(args.out_dir, config, args.show_example))
            return 0
        train(
            args.out_dir,
            config,
            resume=args.resume,
            resume_hint=resume_command(args.out_dir, args.config, args.base_model),
        )
        if is_main_process():  # the model just trained, on the val split (rank 0 only under torchrun)
            from pytest_cmdgen.trainer.evaluate import evaluate_after_training

            evaluate_after_training(args.out_dir, base=config.evaluate_base)
    except TrainInterrupted as exc:
        print(f"cmdgen-train: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # the second Ctrl-C: no checkpoint for this step, the previous ones are kept
        print("cmdgen-train: aborted; the checkpoints written so far are kept (resume with --resume)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CmdgenError as exc:
        print(f"cmdgen-train: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
