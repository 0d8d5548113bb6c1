"""Kernel time. Every timer, deadline, restart window and backoff reads this clock.

The runtime's clock is its event loop's clock (``loop.time()``): asyncio timers,
``asyncio.timeout`` and ``loop.call_at`` all agree with it. Virtual time is provided by
running the runtime on a loop whose ``time()`` is virtual (see ``bastion.testing``), so
the kernel has one code path for real and virtual time.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from bastion._core._durations import non_negative_seconds

__all__ = ["Clock", "LoopClock", "MonotonicClock", "current_clock", "current_task", "loop_time"]


@runtime_checkable
class Clock(Protocol):
    """What the kernel needs from a clock. Times are seconds as floats."""

    def now(self) -> float:
        """The current time on this clock's monotonic scale."""
        ...

    def call_at(self, when: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        """Run ``callback`` at ``when`` (this clock's scale); returns a cancellable handle."""
        ...

    async def sleep(self, delay: float) -> None:
        """Suspend the current task for ``delay`` seconds of this clock."""
        ...


class LoopClock:
    """The clock of an asyncio event loop (real or virtual)."""

    __slots__ = ("_loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def now(self) -> float:
        """Return ``loop.time()``."""
        return self._loop.time()

    def call_at(self, when: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        """Schedule ``callback`` with ``loop.call_at``."""
        return self._loop.call_at(when, callback)

    async def sleep(self, delay: float) -> None:
        """``asyncio.sleep`` on this loop; ``delay`` must be finite and >= 0."""
        await asyncio.sleep(non_negative_seconds("delay", delay))


class MonotonicClock:
    """A clock for code running outside any event loop: ``time.monotonic``.

    ``call_at`` needs a running loop; it schedules on it with the delay converted.
    """

    __slots__ = ()

    def now(self) -> float:
        """Return ``time.monotonic()``."""
        return time.monotonic()

    def call_at(self, when: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        """Schedule on the running loop ``when - now()`` seconds from now."""
        return asyncio.get_running_loop().call_later(max(0.0, when - self.now()), callback)

    async def sleep(self, delay: float) -> None:
        """``asyncio.sleep``; ``delay`` must be finite and >= 0."""
        await asyncio.sleep(non_negative_seconds("delay", delay))


_MONOTONIC = MonotonicClock()


def current_clock() -> Clock:
    """The clock to use here: the running loop's clock, else the monotonic clock."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _MONOTONIC
    return LoopClock(loop)


def loop_time(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """``loop.time`` as the cheapest callable that returns the same values.

    asyncio's own ``BaseEventLoop.time`` is a Python method returning
    ``time.monotonic()``; for a loop that keeps it, the C function itself is returned
    (no Python frame per read, for the kernel's hot paths). A loop with a time of its
    own (virtual time, uvloop) gets its ``loop.time``.
    """
    if getattr(loop.time, "__func__", None) is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


def _c_current_task() -> Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None]:
    """``asyncio.current_task(loop)`` as a C-level callable where there is one.

    On CPython 3.11 ``asyncio.current_task`` is a Python function around the C dict of
    running tasks per loop (a frame per call on the kernel's call path); from 3.12 it is
    C itself.
    """
    running = getattr(asyncio.tasks, "_current_tasks", None)
    if sys.version_info < (3, 12) and type(running) is dict:
        return running.get
    return asyncio.current_task


#: The task running on ``loop`` now (``asyncio.current_task(loop)``), cheapest form.
current_task = _c_current_task()
