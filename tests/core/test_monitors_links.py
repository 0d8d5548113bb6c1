"""Monitors and links: Down and Exit notices, trap_exits, released bookkeeping."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import bastion
from tests.core.conftest import Boom, Echo, Recorder, next_item


class Watcher(Recorder):
    """Monitors or links on request."""

    def handle_call(self, message: Any) -> Any:
        action, target = message
        if action == "monitor":
            return self.monitor(target)
        if action == "demonitor":
            return self.demonitor(target)
        if action == "link":
            return self.link(target)
        if action == "unlink":
            return self.unlink(target)
        raise ValueError(action)


class TrappingWatcher(Watcher):
    trap_exits = True


async def test_monitor_delivers_down_with_the_reason() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        watcher = await rt.spawn(Watcher, inbox)
        target = await rt.spawn(Echo)
        monitor = await watcher.call(("monitor", target))
        assert rt.statistics().monitors == 1
        with contextlib.suppress(bastion.ActorCrashed):
            await target.call("crash")
        down = await next_item(inbox)
        assert isinstance(down, bastion.Down)
        assert down.monitor is monitor
        assert down.ref == target
        assert isinstance(down.reason, Boom)
        assert rt.statistics().monitors == 0
        assert watcher.statistics().monitors == 0


async def test_monitoring_a_dead_actor_delivers_down_at_once() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        watcher = await rt.spawn(Watcher, inbox)
        target = await rt.spawn(Echo)
        await target.stop()
        await watcher.call(("monitor", target))
        down = await next_item(inbox)
        assert down.reason == "normal"


async def test_demonitor_releases_both_sides_and_no_down_arrives() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        watcher = await rt.spawn(Watcher, inbox)
        target = await rt.spawn(Echo)
        monitor = await watcher.call(("monitor", target))
        assert target.statistics().monitored_by == 1
        assert await watcher.call(("demonitor", monitor)) is True
        assert await watcher.call(("demonitor", monitor)) is False
        assert target.statistics().monitored_by == 0
        assert watcher.statistics().monitors == 0
        await target.stop()
        await rt.wait_idle(timeout=1.0)
        assert inbox.empty()


async def test_watcher_death_releases_its_monitors() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        watcher = await rt.spawn(Watcher, inbox)
        target = await rt.spawn(Echo)
        await watcher.call(("monitor", target))
        await watcher.stop()
        assert target.statistics().monitored_by == 0
        assert rt.statistics().monitors == 0


async def test_a_crash_propagates_over_a_link_to_a_non_trapping_actor() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        linked = await rt.spawn(Watcher, inbox)
        target = await rt.spawn(Echo)
        await linked.call(("link", target))
        assert rt.statistics().links == 1
        with contextlib.suppress(bastion.ActorCrashed):
            await target.call("crash")
        reason = await linked.wait_stopped(timeout=1.0)
        assert isinstance(reason, bastion.LinkedExit)
        assert isinstance(reason.__cause__, Boom)
        assert rt.statistics().links == 0


async def test_a_normal_exit_does_not_kill_linked_actors() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        linked = await rt.spawn(Watcher, inbox)
        target = await rt.spawn(Echo)
        await linked.call(("link", target))
        await target.stop()
        assert linked.is_alive
        assert linked.statistics().links == 0


async def test_trap_exits_turns_linked_exits_into_notices() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        trapper = await rt.spawn(TrappingWatcher, inbox)
        target = await rt.spawn(Echo)
        await trapper.call(("link", target))
        with contextlib.suppress(bastion.ActorCrashed):
            await target.call("crash")
        notice = await next_item(inbox)
        assert isinstance(notice, bastion.Exit)
        assert notice.ref == target
        assert isinstance(notice.reason, Boom)
        assert trapper.is_alive


async def test_unlink_stops_propagation() -> None:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    async with bastion.open_runtime() as rt:
        linked = await rt.spawn(Watcher, inbox)
        target = await rt.spawn(Echo)
        await linked.call(("link", target))
        await linked.call(("unlink", target))
        with contextlib.suppress(bastion.ActorCrashed):
            await target.call("crash")
        await target.wait_stopped(timeout=1.0)
        assert linked.is_alive
