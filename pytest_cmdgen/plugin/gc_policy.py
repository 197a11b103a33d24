"""The garbage-collection policy of a process that prepares data: long-lived objects stay out of collections.

A prepare run keeps what it computes until the session ends (every conversation's run, annotation and
paraphrases), on top of the few hundred thousand objects of the modules it imports (the ``openai`` client
alone brings some 500 modules of pydantic models). Each full collection walks them all while holding the
GIL, and for that long no LLM request can be sent or answered: at 200 test cases such pauses took 0.2 to
0.3 s each, about 2 s in all, and every one showed as slots left empty. So, once per process:

* after each full collection, its survivors (everything still alive) move to the permanent generation
  (``gc.freeze``), so the next collections walk only what was made since;
* at interpreter exit the same is done for what is left, so the interpreter's last collections do not walk
  it all only to free memory the process gives back anyway.

What this gives up: an object frozen while alive that later becomes part of an unreachable cycle is not
freed before the process ends (memory only; a run's long-lived results are never freed earlier anyway),
and the ``__del__`` of such objects does not run. Garbage that exists at a full collection is collected by
it as always, so nothing is frozen unless it was alive.
"""

from __future__ import annotations

import atexit
import functools
import gc
from typing import Any


def _freeze_after_full_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


@functools.cache
def freeze_long_lived() -> None:
    """Once per process: freeze the survivors of every full collection from now on, and everything at exit."""
    gc.callbacks.append(_freeze_after_full_collection)
    atexit.register(gc.freeze)


__all__ = ["freeze_long_lived"]
