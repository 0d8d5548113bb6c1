"""The *real work* protocol: telling a virtual-time loop that an answer is owed from outside.

A virtual-time loop (``bastion.testing``) jumps its clock to the next timer whenever
nothing is ready. That is wrong while another process (or a device) is working on
something that will wake the loop through a file descriptor: the clock would jump past
deadlines the other side is racing. Code that hands work to such a party declares it::

    work = real_work_of(loop)         # None on an ordinary loop: nothing to declare
    if work is not None:
        work.real_work_started()      # virtual time now flows at the real rate
    ...                               # until the answer has arrived:
    if work is not None:
        work.real_work_finished()

Calls nest (a counter). A loop opts in by defining both methods;
``bastion.testing.VirtualTimeLoop`` does. Library code needs no import of the testing
toolkit, and an ordinary asyncio loop costs one ``isinstance`` check per loop.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

__all__ = ["RealWork", "real_work_of"]


@runtime_checkable
class RealWork(Protocol):
    """A loop that can be told about work outside it that will wake it."""

    def real_work_started(self) -> None:
        """Declare one piece of outside work in progress (time flows at the real rate)."""
        ...

    def real_work_finished(self) -> None:
        """End one :meth:`real_work_started` declaration."""
        ...


def real_work_of(loop: asyncio.AbstractEventLoop) -> RealWork | None:
    """``loop`` if it implements :class:`RealWork`, else None (check once, keep the result)."""
    return loop if isinstance(loop, RealWork) else None
