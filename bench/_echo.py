"""The echo actor and the chunked timing loops the benchmarks share."""

from __future__ import annotations

import statistics
import time
from typing import Any

import bastion

pc = time.perf_counter


class Echo(bastion.Actor):
    """Replies with the message; counts casts (``"flush"`` returns and resets the count)."""

    def __init__(self) -> None:
        self.count = 0

    def handle_call(self, message: Any) -> Any:
        if message == "flush":
            count, self.count = self.count, 0
            return count
        return message

    def handle_cast(self, message: Any) -> None:
        self.count += 1


class Idle(bastion.Actor):
    """Does nothing: the footprint of an actor with no state."""


async def call_chunk_median(ref: bastion.ActorRef, size: int) -> float:
    """Median seconds of ``size`` call round trips to an :class:`Echo`, each timed on its own."""
    samples = []
    for i in range(size):
        t0 = pc()
        await ref.call(i, timeout=5.0)
        samples.append(pc() - t0)
    return statistics.median(samples)


async def cast_chunk_rate(ref: bastion.ActorRef, size: int) -> float:
    """Casts per second: ``size`` ``cast_nowait`` to an :class:`Echo`, then a call as a flush."""
    t0 = pc()
    for i in range(size):
        ref.cast_nowait(i)
    handled = await ref.call("flush", timeout=60.0)
    elapsed = pc() - t0
    assert handled == size
    return size / elapsed
