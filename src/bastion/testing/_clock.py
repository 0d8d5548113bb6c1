"""The test's view of the loop clock: read it, move it, let the world settle."""

from __future__ import annotations

import asyncio

from bastion._core._clock import LoopClock
from bastion._core._durations import non_negative_seconds
from bastion.testing._loop import VirtualTimeLoop

__all__ = ["VirtualClock", "settle"]


async def settle() -> None:
    """Return once the running loop is idle: every ready callback and task has run.

    On a :class:`VirtualTimeLoop` this is exact and costs no time (the loop says so when
    it is about to wait). On another loop it yields a few times, a best effort.
    """
    loop = asyncio.get_running_loop()
    if isinstance(loop, VirtualTimeLoop):
        await loop.idle()
        return
    for _ in range(10):
        await asyncio.sleep(0)


class VirtualClock(LoopClock):
    """The clock of a test's loop, virtual unless ``BASTION_REAL_TIME=1``.

    It satisfies the kernel's ``Clock`` protocol, so it can be injected wherever a clock
    is taken. ``advance`` is for tests (to let things run without moving time, await
    :func:`settle`)::

        clock.now()                  # 0.0 at the start of a test
        await clock.advance(30)      # 30 s later, every timer due by then has fired
    """

    __slots__ = ()

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(loop if loop is not None else asyncio.get_running_loop())

    @property
    def virtual(self) -> bool:
        """Whether time is virtual (jumps when idle) rather than real."""
        return isinstance(self._loop, VirtualTimeLoop) and self._loop.virtual

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass, firing every timer due by then in order, then settle.

        Under virtual time this costs only the CPU time of what runs; on the real clock
        it really waits. Raises :class:`ValueError` for a negative or non-finite amount.
        """
        await asyncio.sleep(non_negative_seconds("advance() seconds", seconds))
        await settle()
