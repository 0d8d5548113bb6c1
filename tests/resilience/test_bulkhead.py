"""The bulkhead: bounded concurrency, bounded FIFO queue, clear rejections."""

from __future__ import annotations

import asyncio

import pytest

from bastion.resilience import Bulkhead, BulkheadFull
from bastion.testing import VirtualClock, capture_events


async def test_limits_concurrency_and_queues_in_order() -> None:
    clock = VirtualClock()
    bulkhead = Bulkhead("db", max_concurrent=2, max_queue=3, max_wait=10.0)
    running = peak = 0
    order: list[int] = []

    async def work(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        order.append(i)
        await clock.sleep(1.0)  # a second of work, in virtual time
        running -= 1
        return i

    results = await asyncio.gather(*(bulkhead.call(work, i) for i in range(5)))
    assert results == [0, 1, 2, 3, 4]
    assert peak == 2
    assert order == [0, 1, 2, 3, 4]  # FIFO: waiters are served in arrival order
    stats = bulkhead.statistics()
    assert (stats.active, stats.waiting, stats.admitted, stats.rejected) == (0, 0, 5, 0)


async def test_rejects_at_once_when_slots_and_queue_are_full() -> None:
    bulkhead = Bulkhead("api", max_concurrent=1, max_queue=1, max_wait=10.0)
    gate = asyncio.Event()
    first = asyncio.create_task(bulkhead.call(gate.wait))
    second = asyncio.create_task(bulkhead.call(gate.wait))
    await asyncio.sleep(0)
    with (
        capture_events(("bastion", "bulkhead", "rejected")) as captured,
        pytest.raises(BulkheadFull, match="is full") as info,
    ):
        await bulkhead.call(gate.wait)
    assert info.value.code == "bulkhead_full"
    assert info.value.context == {"bulkhead": "api", "active": 1, "waiting": 1,
                                  "max_concurrent": 1, "max_queue": 1}  # fmt: skip
    assert captured.count("bastion", "bulkhead", "rejected") == 1
    gate.set()
    assert await first
    assert await second


@pytest.mark.bastion(real_time=False)  # asserts exact virtual-time readings
async def test_a_queued_call_times_out_on_the_clock() -> None:
    bulkhead = Bulkhead("slow", max_concurrent=1, max_queue=5, max_wait=2.0)
    loop = asyncio.get_running_loop()
    holder = asyncio.create_task(bulkhead.call(asyncio.sleep, 10.0))
    await asyncio.sleep(0)
    started = loop.time()
    with pytest.raises(BulkheadFull, match=r"no free slot within 2\.0s") as info:
        await bulkhead.call(asyncio.sleep, 0)
    assert info.value.code == "bulkhead_wait_timeout"
    assert loop.time() - started == pytest.approx(2.0)
    assert bulkhead.statistics().timed_out == 1
    await holder
    assert bulkhead.statistics().active == 0


async def test_a_cancelled_waiter_leaves_the_queue_and_no_slot_leaks() -> None:
    bulkhead = Bulkhead("c", max_concurrent=1, max_queue=2, max_wait=10.0)
    gate = asyncio.Event()
    holder = asyncio.create_task(bulkhead.call(gate.wait))
    waiter = asyncio.create_task(bulkhead.call(asyncio.sleep, 0))
    await asyncio.sleep(0)
    assert bulkhead.statistics().waiting == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert bulkhead.statistics().waiting == 0
    gate.set()
    await holder
    assert bulkhead.statistics().active == 0
    async with bulkhead:
        assert bulkhead.statistics().active == 1


async def test_decorator_and_bad_input() -> None:
    bulkhead = Bulkhead("d", max_concurrent=1)

    @bulkhead
    async def job() -> str:
        return "done"

    assert await job() == "done"
    for bad in ({"max_concurrent": 0}, {"max_queue": -1}, {"max_wait": 0},
                {"max_wait": float("inf")}, {"max_concurrent": True}):  # fmt: skip
        with pytest.raises(ValueError, match="must be"):
            Bulkhead("bad", **bad)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="released more often"):
        bulkhead.release()
