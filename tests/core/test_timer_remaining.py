"""Timer.remaining(): the time left before a timer fires (Erlang's read_timer)."""

from __future__ import annotations

import asyncio
from typing import Any

import bastion
from bastion.testing import VirtualClock
from tests.core.conftest import Recorder, next_item


class Scheduler(Recorder):
    def handle_call(self, message: Any) -> Any:
        kind, delay = message
        if kind == "after":
            return self.send_after(delay, "tick")
        return self.send_interval(delay, "beat")


async def test_remaining_counts_down_on_the_runtime_clock(clock: VirtualClock) -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Scheduler, inbox)
        timer = await ref.call(("after", 10.0))
        assert timer.remaining() == 10.0
        await clock.advance(4.0)
        assert timer.remaining() == 6.0


async def test_remaining_read_before_cancel_is_the_time_that_was_left(
    clock: VirtualClock,
) -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Scheduler, inbox)
        timer = await ref.call(("after", 5.0))
        await clock.advance(2.0)
        left = timer.remaining()
        assert timer.cancel() is True
        assert left == 3.0
        assert timer.remaining() is None


async def test_a_fired_one_shot_timer_has_no_time_left() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Scheduler, inbox)
        timer = await ref.call(("after", 1.0))
        assert await next_item(inbox, timeout=5.0) == "tick"
        assert timer.remaining() is None


async def test_an_interval_timer_reports_the_time_to_its_next_beat() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Scheduler, inbox)
        timer = await ref.call(("every", 1.0))
        assert await next_item(inbox, timeout=5.0) == "beat"
        assert timer.remaining() == 1.0  # the next beat is a full period away
        timer.cancel()


async def test_a_timer_whose_actor_stopped_has_no_time_left() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Scheduler, inbox)
        timer = await ref.call(("after", 5.0))
        await ref.stop()
        assert timer.remaining() is None
