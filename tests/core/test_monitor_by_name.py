"""Monitoring by registered name: the current holder is watched; nobody there is noproc."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

import bastion
from tests.core.conftest import Boom, Echo, Recorder, next_item


class Watcher(Recorder):
    """Monitors what the call names (returns the MonitorRef or the error); demonitors."""

    def handle_call(self, message: Any) -> Any:
        if isinstance(message, bastion.MonitorRef):
            return self.demonitor(message)
        try:
            return self.monitor(message)
        except (TypeError, ValueError) as exc:
            return exc


async def test_monitoring_a_name_watches_its_current_holder() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        watcher = await rt.spawn(Watcher, inbox)
        target = await rt.spawn(Echo, name="svc")
        monitor = await watcher.call("svc")
        assert watcher.statistics().monitors == 1
        with contextlib.suppress(bastion.ActorCrashed):
            await target.call("crash")
        down = await next_item(inbox)
        assert down.monitor is monitor
        assert down.ref == target  # the incarnation that stopped...
        assert monitor.target == rt.ref("svc")  # ...watched through its name
        assert isinstance(down.reason, Boom)
        assert watcher.statistics().monitors == 0


async def test_a_name_nobody_holds_delivers_down_noproc_at_once() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        watcher = await rt.spawn(Watcher, inbox)
        monitor = await watcher.call("nobody")
        down = await next_item(inbox)
        assert down == bastion.Down(monitor, rt.ref("nobody"), "noproc")
        assert watcher.statistics().monitors == 0


async def test_the_monitor_does_not_follow_the_name_to_a_restarted_holder() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        await rt.start_supervisor([bastion.ChildSpec("svc", Echo, name="svc")])
        watcher = await rt.spawn(Watcher, inbox)
        await watcher.call("svc")
        with contextlib.suppress(bastion.ActorCrashed):
            await rt.ref("svc").call("crash")
        assert isinstance((await next_item(inbox)).reason, Boom)
        await rt.wait_idle()
        with contextlib.suppress(bastion.ActorCrashed):
            await rt.ref("svc").call("crash")  # the new holder was never monitored
        await rt.wait_idle()
        assert inbox.empty()


@pytest.mark.parametrize(("bad", "error"), [("", ValueError), (" svc", ValueError), (7, TypeError)])
async def test_bad_names_are_refused_and_nothing_is_watched(bad: Any, error: type) -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        watcher = await rt.spawn(Watcher, inbox)
        assert isinstance(await watcher.call(bad), error)
        await rt.wait_idle()
        assert inbox.empty()
        assert watcher.statistics().monitors == 0


async def test_a_monitor_by_name_can_be_cancelled() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        watcher = await rt.spawn(Watcher, inbox)
        target = await rt.spawn(Echo, name="svc")
        monitor = await watcher.call("svc")
        assert await watcher.call(monitor) is True
        assert target.statistics().monitored_by == 0
        await target.stop()
        await rt.wait_idle()
        assert inbox.empty()
