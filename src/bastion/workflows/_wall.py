"""Durable time: the wall clock that stored wake-up times and deadlines are measured on.

Stored times must mean the same thing after a process restart, so they are epoch
seconds (``time.time``). On a virtual-time loop (``bastion.testing``) the wall clock
follows the loop's virtual time from an anchor taken the first time it is read on
that loop, so a test that closes and reopens an engine on one loop sees sleeps wake
at the right virtual time.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable

__all__ = ["wall_clock"]

_anchors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, float] = weakref.WeakKeyDictionary()


def wall_clock(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """Epoch seconds now, for ``loop`` (virtual on a virtual-time loop)."""
    if not getattr(loop, "virtual", False):
        return time.time
    anchor = _anchors.get(loop)
    if anchor is None:
        anchor = _anchors[loop] = time.time() - loop.time()  # noqa: BAS303 -- one anchor per loop
    offset = anchor
    loop_time = loop.time
    return lambda: offset + loop_time()
