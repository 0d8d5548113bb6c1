"""Timers: send_after, send_interval, cancel; all on the runtime clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bastion
from bastion.testing import wait_for
from tests.core.conftest import Recorder, next_item


class Scheduler(Recorder):
    def handle_call(self, message: Any) -> Any:
        kind, arg, payload = message
        if kind == "after":
            return self.send_after(arg, payload)
        if kind == "every":
            return self.send_interval(arg, payload)
        raise ValueError(kind)


async def test_send_after_delivers_once_after_the_delay() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Scheduler, inbox)
        start = rt.clock.now()
        timer = await ref.call(("after", 0.5, "tick"))
        assert timer.active
        assert await next_item(inbox, timeout=5.0) == "tick"
        assert rt.clock.now() - start >= 0.5
        assert not timer.active
        assert rt.statistics().timers == 0


async def test_timers_fire_in_deadline_order() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Scheduler, inbox)
        await ref.call(("after", 0.3, "third"))
        await ref.call(("after", 0.1, "first"))
        await ref.call(("after", 0.2, "second"))
        got = [await next_item(inbox) for _ in range(3)]
        assert got == ["first", "second", "third"]


async def test_send_interval_repeats_until_cancelled() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Scheduler, inbox)
        timer = await ref.call(("every", 0.1, "beat"))
        assert timer.periodic
        for _ in range(3):
            assert await next_item(inbox) == "beat"
        assert timer.cancel() is True
        assert timer.cancel() is False
        assert ref.statistics().timers == 0


async def test_cancelled_timer_never_fires() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Scheduler, inbox)
        timer = await ref.call(("after", 0.1, "never"))
        timer.cancel()
        await ref.call(("after", 0.2, "later"))
        assert await next_item(inbox) == "later"
        assert inbox.empty()


async def test_timers_die_with_their_actor() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Scheduler, inbox)
        timer = await ref.call(("every", 0.1, "beat"))
        await ref.stop()
        assert not timer.active
        assert rt.statistics().timers == 0


@pytest.mark.parametrize(
    "message",
    [("after", -1, "x"), ("after", float("inf"), "x"), ("every", 0, "x"), ("after", None, "x")],
)
async def test_invalid_delays_are_rejected_and_the_actor_keeps_running(message: Any) -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Scheduler, inbox)
        with pytest.raises(bastion.ActorCrashed) as info:
            await ref.call(message)
        assert isinstance(info.value.__cause__, ValueError)


async def test_a_timer_message_to_a_full_mailbox_goes_to_the_dead_letters() -> None:
    gate = asyncio.Event()

    class Busy(Scheduler):
        async def handle_cast(self, message: Any) -> None:
            await gate.wait()

    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Busy, inbox, mailbox_capacity=1)
        await ref.call(("after", 0.1, "late"))
        await ref.cast("block")
        await ref.cast("fills the mailbox")
        await wait_for(lambda: len(rt.dead_letters) == 1, timeout=1.0)
        assert rt.dead_letters.items()[0].reason == "mailbox_full"
        gate.set()
