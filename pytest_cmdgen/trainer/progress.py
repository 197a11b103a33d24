"""What the user sees and does while training runs: progress, and Ctrl-C.

* :class:`ProgressView` — a rich progress bar (step, loss, ETA) on a terminal, one plain line per logged
  loss otherwise (CI logs, pipes), only on the main process.
* :class:`StopRequest` — the first Ctrl-C asks training to stop after the current step (a checkpoint is
  written there); a second one aborts at once.
* :func:`trainer_callbacks` — both as ``transformers.TrainerCallback`` objects (the class is built when
  called, so importing this module imports nothing heavy).
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


@dataclass
class StopRequest:
    """Ctrl-C during training: the first asks for a clean stop after the current step, the second aborts."""

    on_request: Callable[[], None] | None = None
    requested: bool = False
    _previous: Any = None
    _installed: bool = False

    def install(self) -> None:
        """Take over SIGINT (only possible in the main thread; elsewhere Ctrl-C keeps its usual meaning)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._previous = signal.signal(signal.SIGINT, self._handle)
        self._installed = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            self.restore()
            raise KeyboardInterrupt
        self.requested = True
        if self.on_request is not None:
            self.on_request()

    def restore(self) -> None:
        """Give SIGINT back to whoever had it."""
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


def trainer_callbacks(view: ProgressView | None, stop: StopRequest) -> list[Any]:
    """``TrainerCallback`` objects that drive ``view`` and honour ``stop``."""
    from transformers import TrainerCallback

    class _Callbacks(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if view is not None and state.is_world_process_zero:
                view.start(state.global_step)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if stop.requested:
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


__all__ = ["ProgressView", "StopRequest", "trainer_callbacks"]
