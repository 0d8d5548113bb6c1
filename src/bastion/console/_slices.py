"""Spreading a sample's work over many turns of the event loop.

A sample of a large node walks every actor; done in one go it would hold the loop (and
every actor on it) for as long as the walk takes. A :class:`Slicer` lets the walk hand
the loop back every :data:`SLICE_SECONDS` of work and counts the work itself, so the
sampler can space samples by what they cost rather than by how long they took to finish
between everyone else's turns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["CHECK_EVERY", "SLICE_SECONDS", "Slicer"]

T = TypeVar("T")

#: The longest the console works in one turn of the event loop.
SLICE_SECONDS = 0.002
#: Items handled between two looks at the clock.
CHECK_EVERY = 32


class Slicer:
    """Yields to the event loop once a slice of work is used up; ``busy`` sums the work.

    A slice ends after :data:`SLICE_SECONDS` of wall-clock time; ``busy`` and ``longest``
    count this thread's CPU time, so a machine that preempts the process (or a garbage
    collection pass, which is CPU) shows as what it is and not as console work it is not.
    """

    __slots__ = ("_began", "_began_cpu", "busy", "longest", "slices")

    def __init__(self) -> None:
        self._began = time.perf_counter()
        self._began_cpu = time.thread_time()
        self.busy = 0.0  # CPU seconds of all slices
        self.longest = 0.0  # CPU seconds of the longest slice
        self.slices = 1

    def _close(self, now: float) -> None:
        cpu = time.thread_time()
        spent = cpu - self._began_cpu
        self.busy += spent
        self.longest = max(self.longest, spent)
        self._began, self._began_cpu = now, cpu

    async def pause(self) -> None:
        """Hand the loop back if this slice has used its time."""
        now = time.perf_counter()
        if now - self._began >= SLICE_SECONDS:
            self._close(now)
            await asyncio.sleep(0)
            self.slices += 1
            self._began, self._began_cpu = time.perf_counter(), time.thread_time()

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """Await something others do (a supervisor's answer): its time is not ours."""
        self._close(time.perf_counter())
        try:
            return await awaitable
        finally:
            self.slices += 1
            self._began, self._began_cpu = time.perf_counter(), time.thread_time()

    def finish(self) -> float:
        """End the work; returns the seconds spent working (turns of others excluded)."""
        self._close(time.perf_counter())
        return self.busy
