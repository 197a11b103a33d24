"""What the user sees and does while training runs: progress, and Ctrl-C.

* :class:`ProgressView` — a rich progress bar (step, loss, ETA) on a terminal, one plain line per logged
  loss otherwise (CI logs, pipes), only on the main process.
* :class:`StopRequest` — the first Ctrl-C asks training to stop after the current step (a checkpoint is
  written there); a second one aborts at once. Under a launcher (``torchrun``, ``accelerate launch``) the
  launcher passes the terminal's Ctrl-C on to every worker, which then sees it twice within moments: a
  repeat within :data:`REPEAT_WINDOW_S` counts as the same Ctrl-C.
* :func:`trainer_callbacks` — both as ``transformers.TrainerCallback`` objects (the class is built when
  called, so importing this module imports nothing heavy). In data-parallel training the stop request is
  agreed on at every step end (:func:`any_rank`: an all-reduce of the flag), so every rank stops, and
  writes its part of the checkpoint, at the same step even when only one of them saw the Ctrl-C.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TextIO


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@dataclass
class ProgressView:
    """Progress of one training run, written to ``stream`` (rich when it is a terminal)."""

    total_steps: int
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    rich: bool | None = None
    """Force the rich display on or off (None: when ``stream`` is a terminal)."""
    _started: float = 0.0
    _first_step: int = 0
    _progress: Any = None
    _task: Any = None

    def start(self, step: int) -> None:
        """Training starts (or resumes) at ``step``."""
        self._started, self._first_step = time.monotonic(), step
        use_rich = self.rich if self.rich is not None else self.stream.isatty()
        if use_rich:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("[bold]train[/bold]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[loss]}"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._task = self._progress.add_task("train", total=self.total_steps, completed=step, loss="")
            self._progress.start()
        else:
            resumed = f", resuming at step {step}" if step else ""
            self.line(f"training: {self.total_steps} steps{resumed}")

    def eta(self, step: int) -> str:
        """Time left, from the pace of this run so far."""
        done = step - self._first_step
        if done <= 0:
            return "?"
        return _duration((time.monotonic() - self._started) / done * (self.total_steps - step))

    def step(self, step: int) -> None:
        """An optimizer step ended."""
        if self._progress is not None:
            self._progress.update(self._task, completed=step)

    def log(self, step: int, epoch: float | None, logs: dict[str, Any]) -> None:
        """The trainer logged ``logs`` (train loss, or eval loss) at ``step``."""
        epoch_text = f" epoch {epoch:.2f}" if epoch is not None else ""
        if "loss" in logs:
            text = f"loss {float(logs['loss']):.4f}"
            if self._progress is not None:
                self._progress.update(self._task, completed=step, loss=text)
            else:
                self.line(f"step {step}/{self.total_steps}{epoch_text} {text} ({self.eta(step)} left)")
        if "eval_loss" in logs:
            self.line(f"step {step}/{self.total_steps}{epoch_text} val loss {float(logs['eval_loss']):.4f}")

    def line(self, text: str) -> None:
        """One line above the progress bar (or on its own)."""
        if self._progress is not None:
            self._progress.console.print(f"cmdgen-train: {text}", markup=False, highlight=False)
        else:
            print(f"cmdgen-train: {text}", file=self.stream, flush=True)

    def stop(self) -> None:
        """Training ended."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


REPEAT_WINDOW_S = 2.0
"""Under a launcher, a second SIGINT this soon after the first is the launcher passing the same Ctrl-C on."""


def under_launcher() -> bool:
    """Whether this process is a worker of ``torchrun`` / ``accelerate launch`` (torch elastic sets
    ``TORCHELASTIC_RUN_ID``; every launcher sets ``LOCAL_RANK``)."""
    import os

    return bool(os.environ.get("TORCHELASTIC_RUN_ID") or os.environ.get("LOCAL_RANK"))


@dataclass
class StopRequest:
    """Ctrl-C during training: the first asks for a clean stop after the current step, the second aborts."""

    on_request: Callable[[], None] | None = None
    requested: bool = False
    repeat_window_s: float = 0.0
    """A SIGINT this soon after the first is not a second Ctrl-C (see :data:`REPEAT_WINDOW_S`); 0: off."""
    clock: Callable[[], float] = time.monotonic
    _requested_at: float | None = None
    _previous: Any = None
    _installed: bool = False

    def install(self) -> None:
        """Take over SIGINT (only possible in the main thread; elsewhere Ctrl-C keeps its usual meaning)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._previous = signal.signal(signal.SIGINT, self._handle)
        self._installed = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        now = self.clock()
        if self._requested_at is not None and now - self._requested_at < self.repeat_window_s:
            return  # the launcher passing on the Ctrl-C this worker has already seen
        if self.requested:
            self.restore()
            raise KeyboardInterrupt
        self.request(now)

    def request(self, at: float | None = None) -> None:
        """Ask for a stop after the current step (what the first Ctrl-C does; another rank's asks the same)."""
        if self.requested:
            return
        self.requested = True
        self._requested_at = self.clock() if at is None else at
        if self.on_request is not None:
            self.on_request()

    def restore(self) -> None:
        """Give SIGINT back to whoever had it."""
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


def any_rank(flag: bool, device: Any) -> bool:
    """Whether ``flag`` is set on any rank of the data-parallel group (``flag`` itself without one).

    A collective: every rank must call it at the same point (the end of each optimizer step). ``device`` is
    where this rank's tensors live (``TrainingArguments.device``: NCCL reduces on the GPU, gloo on the CPU).
    """
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return flag
    value = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


Agree = Callable[[bool, Any], bool]
"""How the ranks agree on a flag: :func:`any_rank`, or a stand-in in tests."""


def trainer_callbacks(view: ProgressView | None, stop: StopRequest, agree: Agree = any_rank) -> list[Any]:
    """``TrainerCallback`` objects that drive ``view`` and honour ``stop`` (on every rank once any asks)."""
    from transformers import TrainerCallback

    class _Callbacks(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if view is not None and state.is_world_process_zero:
                view.start(state.global_step)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if agree(stop.requested, args.device):
                stop.request()
                control.should_save = True  # a checkpoint at this very step: resume loses nothing
                control.should_training_stop = True
            if view is not None and state.is_world_process_zero:
                view.step(state.global_step)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if view is not None and state.is_world_process_zero and logs:
                view.log(state.global_step, state.epoch, logs)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if view is not None:
                view.stop()

    return [_Callbacks()]


__all__ = ["REPEAT_WINDOW_S", "Agree", "ProgressView", "StopRequest", "any_rank", "trainer_callbacks", "under_launcher"]
