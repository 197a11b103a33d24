"""The trainer's errors: each is one line naming what to change, never a traceback."""

from __future__ import annotations

from pytest_cmdgen.errors import CmdgenError, CmdgenInputError


class TrainError(CmdgenError):
    """Training could not start or stopped (a model that cannot be loaded, out of memory, ...)."""


class TrainSetupError(CmdgenInputError, TrainError):
    """What was asked for cannot run here: a missing extra, a back-end or quantization this machine cannot
    do, a base model that cannot be found, an empty train split."""


class TrainInterrupted(TrainError):
    """Ctrl-C stopped training after a checkpoint was written; the message says how to resume (on rank 0
    only, in data-parallel training: the other ranks say they stopped with it, so the command shows once)."""

    def __init__(
        self, step: int, total: int, checkpoint: str, resume_command: str, rank: int = 0, world_size: int = 1
    ) -> None:
        self.step = step
        self.total = total
        self.checkpoint = checkpoint
        self.resume_command = resume_command
        self.rank = rank
        if rank:
            super().__init__(f"rank {rank} of {world_size}: stopped at step {step} of {total} with rank 0")
            return
        super().__init__(
            f"training interrupted at step {step} of {total}; checkpoint kept in {checkpoint}",
            hint=f"resume with: {resume_command}",
        )


__all__ = ["TrainError", "TrainInterrupted", "TrainSetupError"]
