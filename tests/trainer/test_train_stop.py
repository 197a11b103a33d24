"""Ctrl-C in data-parallel training: every rank stops at the same step (the ranks agree on the stop request
at each step end), the launcher's passing-on of the same Ctrl-C is not a second one, and the command that
resumes is shown once (by rank 0)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from pytest_cmdgen.trainer.errors import TrainInterrupted
from pytest_cmdgen.trainer.progress import REPEAT_WINDOW_S, StopRequest, any_rank, trainer_callbacks


class _Group:
    """Two ranks in two threads, and an all-reduce (MAX) of one flag between them, as ``any_rank`` does."""

    def __init__(self, size: int) -> None:
        self.flags = [False] * size
        self.barrier = threading.Barrier(size, timeout=30)

    def agree_for(self, rank: int):  # noqa: ANN201
        def agree(flag: bool, device: object) -> bool:
            assert device == "cpu"
            self.flags[rank] = flag
            self.barrier.wait()  # every rank has put its flag in
            result = any(self.flags)
            self.barrier.wait()  # every rank has read the result
            return result

        return agree


def test_all_ranks_stop_at_the_step_where_any_of_them_saw_ctrl_c() -> None:
    from transformers import TrainerControl

    group = _Group(2)
    said: list[int] = []
    stops = [StopRequest(on_request=lambda: said.append(0)), StopRequest()]
    callbacks = [trainer_callbacks(None, stops[rank], agree=group.agree_for(rank))[0] for rank in (0, 1)]
    stopped_at: dict[int, int] = {}

    def rank_loop(rank: int) -> None:
        control = TrainerControl()
        for step in range(1, 6):
            if rank == 0 and step == 3:
                stops[0].request()  # Ctrl-C reached rank 0 only, during step 3
            state = SimpleNamespace(global_step=step, is_world_process_zero=rank == 0, epoch=None)
            callbacks[rank].on_step_end(SimpleNamespace(device="cpu"), state, control)
            if control.should_training_stop:
                assert control.should_save  # a checkpoint at this very step, on every rank
                stopped_at[rank] = step
                return

    threads = [threading.Thread(target=rank_loop, args=(rank,)) for rank in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert stopped_at == {0: 3, 1: 3}
    assert stops[1].requested  # rank 1 knows it stopped for a Ctrl-C (it exits as interrupted, too)
    assert said == [0]  # "stopping after this step" once


def test_without_a_process_group_the_flag_is_this_process_own() -> None:
    assert any_rank(True, "cpu") is True
    assert any_rank(False, "cpu") is False


def test_under_a_launcher_the_passed_on_ctrl_c_is_not_a_second_one() -> None:
    now = [100.0]
    said: list[str] = []
    stop = StopRequest(
        on_request=lambda: said.append("stopping"), repeat_window_s=REPEAT_WINDOW_S, clock=lambda: now[0]
    )
    stop._handle(2, None)  # the terminal's Ctrl-C
    now[0] += 0.05
    stop._handle(2, None)  # torchrun passing the same Ctrl-C on to its workers
    assert stop.requested and said == ["stopping"]
    now[0] += REPEAT_WINDOW_S
    with pytest.raises(KeyboardInterrupt):  # a real second Ctrl-C still aborts
        stop._handle(2, None)


def test_outside_a_launcher_a_second_ctrl_c_aborts_at_once() -> None:
    stop = StopRequest(clock=lambda: 0.0)
    stop._handle(2, None)
    with pytest.raises(KeyboardInterrupt):
        stop._handle(2, None)


def test_only_rank_0_says_how_to_resume() -> None:
    first = TrainInterrupted(3, 10, "/o/model/checkpoints/checkpoint-3", "cmdgen-train /o --resume")
    other = TrainInterrupted(3, 10, "/o/model/checkpoints/checkpoint-3", "cmdgen-train /o --resume", 1, 2)
    assert str(first) == (
        "training interrupted at step 3 of 10; checkpoint kept in /o/model/checkpoints/checkpoint-3 "
        "(resume with: cmdgen-train /o --resume)"
    )
    assert str(other) == "rank 1 of 2: stopped at step 3 of 10 with rank 0"
