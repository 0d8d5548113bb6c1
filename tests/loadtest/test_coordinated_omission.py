"""An injected 200 ms stall: the closed model hides it, the open model shows it.

The closed-loop user waits for the stalled answer and simply sends less, so one
sample out of thousands is slow; the open model keeps arriving on schedule and times
every iteration from its intended start, so each arrival due during the stall
reports the wait it really had.
"""

from __future__ import annotations

import asyncio

import bastion
from bastion import loadtest as lt
from bastion.testing import VirtualClock

STALL_AT = 5.0  # seconds into the run
STALL = 0.2


class Service(bastion.Actor):
    """Answers in 1 ms, except once: a 200 ms stall (a GC pause, a failover)."""

    def __init__(self, start: float) -> None:
        self.stall_at = start + STALL_AT
        self.stalled = False

    async def handle_call(self, message: object) -> str:
        if not self.stalled and self.runtime.loop.time() >= self.stall_at:
            self.stalled = True
            await asyncio.sleep(STALL)  # noqa: BAS601 -- the injected stall, virtual time
        await asyncio.sleep(0.001)  # noqa: BAS601 -- service time, virtual
        return "ok"


async def measure(
    rt: bastion.Runtime, clock: VirtualClock, load: lt.ClosedModel | lt.OpenModel
) -> lt.LoadTestResult:
    service = await rt.spawn(Service, clock.now(), name="service")
    try:
        return await lt.run([lt.call_actor("service", "get")], load=load, duration=10.0, runtime=rt)
    finally:
        await service.stop()


async def test_open_model_reveals_the_stall_closed_model_hides(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    closed = await measure(rt, clock, lt.ClosedModel(users=1))
    opened = await measure(rt, clock, lt.OpenModel(rate=500))

    # closed: ~9,800 iterations, one of them slow: p99 says 1 ms, only max sees the stall
    assert closed.overall.latency.p99_ms < 2.0
    assert closed.overall.latency.max_ms > 190.0
    # open: the ~100 arrivals due during the stall each waited; p99 shows it
    assert opened.overall.latency.p99_ms > 100.0
    assert opened.overall.latency.max_ms > 190.0
    assert opened.overall.iterations == 5000
