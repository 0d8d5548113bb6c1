"""Supervisor child management by id: terminate/restart/delete/count, and brutal_kill."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bastion
from bastion import ChildSpec, Restart, Strategy
from bastion.testing import VirtualClock, wait_for
from tests.core._stubborn import Stubborn
from tests.core.conftest import Boom, until


class Worker(bastion.Actor):
    """Answers with its tag; logs on_stop into ``stops``; crashes or blocks on request."""

    def __init__(
        self, tag: str, stops: list[str] | None = None, gate: asyncio.Event | None = None
    ) -> None:
        self.tag = tag
        self.stops = stops if stops is not None else []
        self.gate = gate

    def on_stop(self, reason: Any) -> None:
        self.stops.append(self.tag)

    async def handle_call(self, message: Any) -> Any:
        if message == "crash":
            raise Boom(self.tag)
        if message == "block" and self.gate is not None:
            await self.gate.wait()
        return self.tag


class FailsOnRestart(Worker):
    starts = 0

    def on_start(self) -> None:
        type(self).starts += 1
        if type(self).starts > 1:
            raise Boom("cannot start again")


@pytest.fixture(autouse=True)
def _clear() -> None:
    FailsOnRestart.starts = 0


def spec(tag: str, stops: list[str] | None = None, **options: Any) -> ChildSpec:
    return ChildSpec(tag, Worker, (tag, stops), name=tag, **options)


async def test_terminate_child_keeps_the_spec_and_restart_child_starts_it_again() -> None:
    stops: list[str] = []
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([spec("a", stops), spec("b")])
        first = rt.whereis("a")
        assert await sup.terminate_child("a") is True
        assert first is not None
        assert not first.is_alive
        assert stops == ["a"]
        [a, b] = await sup.which_children()
        assert (a.id, a.alive, a.ref) == ("a", False, None)
        assert b.alive
        assert await sup.count_children() == bastion.ChildCounts(
            specs=2, active=1, supervisors=0, workers=2
        )
        await rt.wait_idle()
        assert rt.whereis("a") is None  # a permanent child stays down: not restarted
        assert sup.statistics().restarts == 0

        again = await sup.restart_child("a")
        assert await again.call("ping") == "a"
        assert await rt.ref("a").call("ping") == "a"
        assert (await sup.count_children()).active == 2


async def test_a_terminated_child_is_not_revived_when_a_sibling_restarts_all() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([spec("a"), spec("b")], strategy=Strategy.ONE_FOR_ALL)
        await sup.terminate_child("a")
        with pytest.raises(bastion.ActorCrashed):
            await rt.ref("b").call("crash")
        await rt.wait_idle()
        assert await rt.ref("b").call("ping") == "b"
        assert rt.whereis("a") is None
        assert [(c.id, c.alive) for c in await sup.which_children()] == [("a", False), ("b", True)]
        assert sup.statistics().restarts == 1


async def test_a_terminated_child_stays_down_when_its_backoff_restart_comes_due(
    clock: VirtualClock,
) -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([spec("a")], backoff=bastion.Backoff(initial=1.0))
        with pytest.raises(bastion.ActorCrashed):
            await rt.ref("a").call("crash")
        await rt.wait_idle()
        assert sup.statistics().pending_restarts == 1
        await sup.terminate_child("a")
        await clock.advance(2.0)  # past the backoff delay
        await rt.wait_idle()
        assert rt.whereis("a") is None
        assert sup.statistics().pending_restarts == 0
        assert await (await sup.restart_child("a")).call("ping") == "a"


async def test_terminating_a_temporary_child_removes_its_spec() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([spec("t", restart=Restart.TEMPORARY)])
        assert await sup.terminate_child("t") is True
        assert await sup.which_children() == []
        with pytest.raises(ValueError, match="no child"):
            await sup.restart_child("t")


async def test_delete_child_removes_a_stopped_childs_spec_only() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([spec("a")])
        with pytest.raises(bastion.SupervisorError, match="running"):
            await sup.delete_child("a")
        assert await rt.ref("a").call("ping") == "a"  # refused, nothing lost
        await sup.terminate_child("a")
        assert await sup.delete_child("a") is True
        assert await sup.delete_child("a") is False
        assert await sup.count_children() == bastion.ChildCounts(0, 0, 0, 0)
        with pytest.raises(ValueError, match="no child"):
            await sup.restart_child("a")
        ref = await sup.start_child(spec("a"))  # the id is free again
        assert await ref.call("ping") == "a"


async def test_restart_child_refuses_running_and_unknown_children() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([spec("a")])
        with pytest.raises(bastion.SupervisorError, match="running"):
            await sup.restart_child("a")
        with pytest.raises(ValueError, match="no child"):
            await sup.restart_child("zz")
        assert await sup.terminate_child("zz") is False
        for verb in (sup.restart_child, sup.delete_child, sup.terminate_child):
            with pytest.raises(TypeError, match="child ids are strings"):
                await verb(7)  # type: ignore[arg-type]
        assert sup.ref.is_alive


async def test_a_child_that_cannot_restart_stays_down_and_the_supervisor_lives() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([ChildSpec("f", FailsOnRestart, ("f",))])
        await sup.terminate_child("f")
        with pytest.raises(bastion.StartFailed):
            await sup.restart_child("f")
        assert sup.ref.is_alive
        [info] = await sup.which_children()
        assert not info.alive
        await rt.wait_idle()
        assert FailsOnRestart.starts == 2  # no automatic retry of a terminated child


async def test_restart_child_reports_a_name_taken_meanwhile() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([spec("a")])
        await sup.terminate_child("a")
        squatter = await rt.spawn(Worker, "squatter", name="a")
        with pytest.raises(bastion.NameTaken):
            await sup.restart_child("a")
        assert sup.ref.is_alive
        await squatter.stop()
        assert await (await sup.restart_child("a")).call("ping") == "a"


async def test_start_child_with_a_name_taken_elsewhere_keeps_the_supervisor() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([spec("a")])
        await rt.spawn(Worker, "squatter", name="taken")
        with pytest.raises(bastion.NameTaken):
            await sup.start_child(spec("taken"))
        assert sup.ref.is_alive
        assert await rt.ref("a").call("ping") == "a"  # its children are untouched
        assert [c.id for c in await sup.which_children()] == ["a"]


async def test_count_children_tells_supervisors_from_workers() -> None:
    async with bastion.open_runtime() as rt:
        inner = ChildSpec("inner", bastion.Supervisor, ([spec("x")],))
        sup = await rt.start_supervisor([spec("a"), inner])
        assert await sup.count_children() == bastion.ChildCounts(
            specs=2, active=2, supervisors=1, workers=1
        )


async def test_brutal_kill_stops_a_busy_child_without_on_stop() -> None:
    gate = asyncio.Event()
    stops: list[str] = []
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor(
            [
                spec("graceful", stops),
                ChildSpec(
                    "brutal",
                    Worker,
                    ("brutal", stops, gate),
                    name="brutal",
                    shutdown="brutal_kill",
                ),
            ]
        )
        blocked = asyncio.ensure_future(rt.ref("brutal").call("block"))
        await until(lambda: rt.ref("brutal").statistics().processed == 1)
        watcher = await rt.spawn(_Watcher)
        await watcher.call("brutal")
        assert await sup.terminate_child("brutal") is True
        with pytest.raises(bastion.ActorNotAlive):
            await blocked
        assert stops == []  # no on_stop for a brutal kill
        assert await watcher.call("reasons") == ["killed"]
        await sup.stop()
        assert stops == ["graceful"]  # the graceful sibling still ran its on_stop


async def test_brutal_kill_applies_when_the_supervisor_stops() -> None:
    stops: list[str] = []
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor(
            [spec("b", stops, shutdown="brutal_kill"), spec("g", stops)]
        )
        await sup.stop()
        assert stops == ["g"]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (0, ValueError),
        (-1, ValueError),
        (float("inf"), ValueError),
        ("brutal", TypeError),
        (None, ValueError),
        (True, TypeError),
    ],
)
def test_invalid_shutdown_options_are_refused(bad: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="brutal_kill"):
        ChildSpec("x", Worker, ("x",), shutdown=bad)


class _Watcher(bastion.Actor):
    def __init__(self) -> None:
        self.reasons: list[Any] = []
        self.monitors: list[bastion.MonitorRef] = []

    def handle_call(self, message: Any) -> Any:
        if message == "reasons":
            return self.reasons
        self.monitors.append(self.monitor(message))
        return None

    def on_stop(self, reason: Any) -> None:
        for monitor in self.monitors:
            self.demonitor(monitor)

    def handle_info(self, message: Any) -> None:
        if isinstance(message, bastion.Down):
            self.reasons.append(message.reason)


async def test_brutal_kill_releases_a_child_that_ignores_cancellation() -> None:
    released = asyncio.Event()
    swallowed: list[int] = []

    try:
        async with bastion.open_runtime(call_timeout=0.5) as rt:
            spec = ChildSpec(
                "s", Stubborn, args=(released, swallowed), name="s", shutdown="brutal_kill"
            )
            sup = await rt.start_supervisor([spec])
            child = rt.whereis("s")
            assert child is not None
            pending = asyncio.ensure_future(child.call("work", timeout=30.0))
            await until(lambda: child.statistics().processed == 1)
            assert await sup.terminate_child("s", timeout=5.0) is True
            assert swallowed == [1]
            assert await child.wait_stopped(timeout=1.0) == "killed"
            with pytest.raises(bastion.ActorNotAlive):
                await pending
            assert rt.whereis("s") is None
            assert rt.statistics().actors == 1  # only the supervisor is left
            released.set()  # the abandoned task finally returns: nothing is released twice
            await wait_for(lambda: not any("Stubborn" in t.get_name() for t in asyncio.all_tasks()))
            assert rt.statistics().stopped == 1
    finally:
        released.set()  # never leave the stubborn task behind
