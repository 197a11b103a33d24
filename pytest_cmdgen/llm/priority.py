"""Which queued LLM call gets the next free slot: priority keys, the context that sets them, the semaphore.

Only ``--cmdgen-concurrency`` may cap the calls in flight, so the service keeps more callers than slots
waiting and must choose among them. The choice that finishes a run soonest serves the calls that are on a
long sequential chain first: a conversation's next turn (the conversation with the most user turns left
first), then rephrase calls, then validation calls, then anything else.

A caller states the priority of the calls it makes with :func:`call_priority` (a context manager over a
context variable); the service reads :func:`current_priority` *when the call is submitted*, in the calling
thread, so the priority travels with the call onto the service loop. Keys are tuples compared as tuples:
lower goes first, and calls of equal keys are served first come, first served.

With a back-end that holds its slot only while a request is on the wire (the ``openai`` one), a call first
gets *under way* (up to twice as many calls as slots, granted by the same keys: its request is built), then
waits for a slot on the wire. A call under way keeps its place: one that got under way while nothing better
waited goes before a higher-priority call that arrives later, at most one such call per slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar

#: A priority key: lower keys are served first.
PriorityKey = tuple[int, ...]

_TURN, _REPHRASE, _VALIDATION, _DEFAULT = range(4)

#: The rephraser's call for a conversation's paraphrases.
REPHRASE_PRIORITY: PriorityKey = (_REPHRASE,)
#: A paraphrase's validation call.
VALIDATION_PRIORITY: PriorityKey = (_VALIDATION,)
#: A call made outside any :func:`call_priority` block: after everything else.
DEFAULT_PRIORITY: PriorityKey = (_DEFAULT,)


def turn_priority(turns_left: int) -> PriorityKey:
    """The key of a conversation turn's calls, ``turns_left`` user turns (this one included) to go: before
    rephrase and validation calls, the longest remaining chain first."""
    return (_TURN, -turns_left)


_current: ContextVar[PriorityKey] = ContextVar("cmdgen_llm_priority", default=DEFAULT_PRIORITY)


def current_priority() -> PriorityKey:
    """The priority key of the calls made now, in this context."""
    return _current.get()


@contextlib.contextmanager
def call_priority(key: PriorityKey) -> Iterator[None]:
    """Make the LLM calls submitted inside the block (in this thread or task) queue with priority ``key``."""
    token = _current.set(key)
    try:
        yield
    finally:
        _current.reset(token)


class PrioritySemaphore:
    """An asyncio semaphore whose waiters are granted the lowest key first, first come first served among
    equal keys. A released slot passes straight to the next waiter, so no later arrival can overtake it.

    Bound to the event loop it is used on (create and use it on one loop).
    """

    def __init__(self, value: int) -> None:
        """A semaphore of ``value`` slots."""
        if value < 1:
            raise ValueError("a semaphore needs at least one slot")
        self._free = value
        self._waiters: list[tuple[PriorityKey, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        """How many acquirers wait for a slot now."""
        return sum(1 for _, _, future in self._waiters if not future.done())

    @property
    def free(self) -> int:
        """How many slots are free now."""
        return self._free

    async def acquire(self, key: PriorityKey = DEFAULT_PRIORITY) -> None:
        """Take a slot, waiting behind every waiter with a lower key (or an equal one that came first)."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (key, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # granted, then cancelled before it ran: pass it on
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back: to the first waiter in priority order, else to the free slots."""
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():  # cancelled waiters are dropped here
                future.set_result(None)
                return
        self._free += 1

    @contextlib.asynccontextmanager
    async def slot(self, key: PriorityKey = DEFAULT_PRIORITY) -> AsyncIterator[None]:
        """``async with semaphore.slot(key):`` holds one slot for the block."""
        await self.acquire(key)
        try:
            yield
        finally:
            self.release()


__all__ = [
    "DEFAULT_PRIORITY",
    "REPHRASE_PRIORITY",
    "VALIDATION_PRIORITY",
    "PriorityKey",
    "PrioritySemaphore",
    "call_priority",
    "current_priority",
    "turn_priority",
]
