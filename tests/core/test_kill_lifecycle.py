"""A kill at any point of an actor's life is an ordinary failure (issue 18, item 1).

Killing an actor during ``on_start`` fails its start: the spawner gets ``StartFailed``
(cause chained), its supervisor an exit it restarts by its strategy. The kernel's own
cancellation never escapes into a task that nobody cancelled; a caller that *is*
cancelled still sees its ``CancelledError``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

import pytest

import bastion
from bastion import ChildSpec, Strategy
from bastion.testing import VirtualClock, capture_events, wait_for
from tests.core import _stubborn
from tests.core.conftest import Boom, Echo


class SlowStart(bastion.Actor):
    """Takes 0.3 s (virtual) to start; records each incarnation's ref."""

    incarnations: ClassVar[list[bastion.ActorRef]] = []

    async def on_start(self) -> None:
        type(self).incarnations.append(self.ref)
        await self.runtime.clock.sleep(0.3)

    def handle_call(self, message: Any) -> Any:
        return message


@pytest.fixture(autouse=True)
def _clear_started() -> None:
    SlowStart.incarnations = []


async def test_a_kill_during_on_start_fails_the_spawn_with_start_failed(
    clock: VirtualClock,
) -> None:
    async with bastion.open_runtime() as rt:
        spawning = asyncio.ensure_future(rt.spawn(SlowStart))
        await clock.advance(0.05)
        SlowStart.incarnations[-1].kill(RuntimeError("x"))
        with pytest.raises(bastion.StartFailed, match="kill") as info:
            await spawning
        assert isinstance(info.value.__cause__, RuntimeError)
        assert isinstance(await SlowStart.incarnations[-1].wait_stopped(timeout=1.0), RuntimeError)
        stats = rt.statistics()
        assert (stats.actors, stats.busy_actors, stats.stopped, stats.crashed) == (0, 0, 1, 1)


async def test_a_kill_with_a_text_reason_during_on_start_is_a_typed_start_failure(
    clock: VirtualClock,
) -> None:
    async with bastion.open_runtime() as rt:
        spawning = asyncio.ensure_future(rt.spawn(SlowStart, name="slow"))
        await clock.advance(0.05)
        rt.ref("slow").kill()
        with pytest.raises(bastion.StartFailed) as info:
            await spawning
        assert isinstance(info.value.__cause__, bastion.ActorNotAlive)
        assert await SlowStart.incarnations[-1].wait_stopped(timeout=1.0) == "killed"
        assert rt.whereis("slow") is None  # the name is free again
        assert await (await rt.spawn(Echo, name="slow")).call("hi") == "hi"


async def test_an_on_start_that_swallows_its_kill_still_fails_the_start(
    clock: VirtualClock,
) -> None:
    class Stubborn(bastion.Actor):
        async def on_start(self) -> None:
            SlowStart.incarnations.append(self.ref)
            with contextlib.suppress(asyncio.CancelledError):  # user code ignoring cancellation
                await self.runtime.clock.sleep(0.3)

    async with bastion.open_runtime() as rt:
        spawning = asyncio.ensure_future(rt.spawn(Stubborn))
        await clock.advance(0.05)
        SlowStart.incarnations[-1].kill(Boom("stop starting"))
        with pytest.raises(bastion.StartFailed) as info:
            await spawning
        assert isinstance(info.value.__cause__, Boom)


async def test_a_cancelled_spawner_still_sees_its_cancellation(clock: VirtualClock) -> None:
    async with bastion.open_runtime() as rt:
        spawning = asyncio.ensure_future(rt.spawn(SlowStart))
        await clock.advance(0.05)
        spawning.cancel()
        with pytest.raises(asyncio.CancelledError):
            await spawning
        assert await SlowStart.incarnations[-1].wait_stopped(timeout=1.0) == "killed"
        assert rt.statistics().actors == 0


async def test_an_on_start_raising_cancelled_error_is_a_start_failure_for_the_spawner() -> None:
    class SelfCancelling(bastion.Actor):
        async def on_start(self) -> None:
            raise asyncio.CancelledError

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed):
            await rt.spawn(SelfCancelling)
        assert rt.statistics().busy_actors == 0


async def test_a_kill_during_a_supervisor_restart_is_an_ordinary_child_failure() -> None:
    with capture_events(("bastion", "supervisor", "restart")) as restarts:
        async with bastion.open_runtime() as rt:
            sup = await rt.start_supervisor(
                [ChildSpec("other", Echo, name="other"), ChildSpec("slow", SlowStart, name="slow")]
            )
            SlowStart.incarnations[-1].kill(
                Boom("first crash")
            )  # the supervisor starts a new incarnation
            await wait_for(lambda: len(SlowStart.incarnations) == 2, timeout=1.0)
            SlowStart.incarnations[-1].kill(Boom("killed while restarting"))
            await wait_for(lambda: len(SlowStart.incarnations) == 3, timeout=1.0)
            assert await rt.ref("slow").call("ping", timeout=1.0) == "ping"
            assert sup.ref.is_alive
            assert await rt.ref("other").call("ping") == "ping"  # untouched (one_for_one)
            assert Echo.starts == 1
            assert sup.statistics().restarts_in_window == 2  # the failed start counted
            assert rt.statistics().escalations == 0
    assert restarts.count("bastion", "supervisor", "restart") == 1


async def test_kills_during_restarts_beyond_the_intensity_escalate() -> None:
    with capture_events(("bastion", "supervisor", "escalation")) as escalations:
        async with bastion.open_runtime() as rt:
            sup = await rt.start_supervisor(
                [ChildSpec("other", Echo, name="other"), ChildSpec("slow", SlowStart, name="slow")],
                intensity=bastion.RestartIntensity(max_restarts=2),
            )
            for count in range(1, 4):
                SlowStart.incarnations[-1].kill(Boom(f"kill {count}"))
                if count < 3:
                    await wait_for(
                        lambda n=count: len(SlowStart.incarnations) == n + 1, timeout=1.0
                    )
            reason = await sup.ref.wait_stopped(timeout=2.0)
            assert isinstance(reason, bastion.RestartIntensityExceeded)
            assert rt.whereis("other") is None
    assert escalations.count("bastion", "supervisor", "escalation") == 1


async def test_a_kill_during_on_stop_cuts_it_short_and_becomes_the_exit_reason() -> None:
    stops: list[Any] = []

    class SlowStop(bastion.Actor):
        async def on_stop(self, reason: Any) -> None:
            stops.append(reason)
            await self.runtime.clock.sleep(10)
            stops.append("finished")

        def handle_call(self, message: Any) -> Any:
            return message

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(SlowStop)
        stopping = asyncio.ensure_future(ref.stop(timeout=30.0))
        await wait_for(lambda: stops == ["normal"], timeout=1.0)
        ref.kill(Boom("during on_stop"))
        await stopping
        assert isinstance(await ref.wait_stopped(timeout=1.0), Boom)
        assert stops == ["normal"]
        assert rt.statistics().busy_actors == 0


async def test_one_for_all_survives_kills_of_children_being_stopped_for_a_restart() -> None:
    class SlowStopChild(bastion.Actor):
        def __init__(self, tag: str) -> None:
            self.tag = tag

        async def on_stop(self, reason: Any) -> None:
            if reason == "shutdown":
                await self.runtime.clock.sleep(1.0)

        def handle_call(self, message: Any) -> Any:
            if message == "crash":
                raise Boom(self.tag)
            return self.tag

    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor(
            [ChildSpec(t, SlowStopChild, (t,), name=t) for t in ("a", "b")],
            strategy=Strategy.ONE_FOR_ALL,
        )
        old_a = rt.whereis("a")
        assert old_a is not None
        with pytest.raises(bastion.ActorCrashed):
            await rt.ref("b").call("crash")
        await wait_for(lambda: not old_a.is_alive, timeout=1.0)  # a is in its on_stop
        old_a.kill(Boom("during the supervisor's stop"))
        await rt.wait_idle(timeout=2.0)
        assert [await rt.ref(t).call("ping") for t in ("a", "b")] == ["a", "b"]
        assert sup.statistics().restarts_in_window == 1  # the stopped child is not a failure


async def test_an_actor_that_ignores_its_kill_is_released_without_its_task() -> None:
    released = asyncio.Event()
    swallowed: list[int] = []
    stops: list[Any] = []

    class StubbornStop(_stubborn.Stubborn):
        def on_stop(self, reason: Any) -> None:
            stops.append(reason)

    try:
        async with bastion.open_runtime(call_timeout=0.5) as rt:
            ref = await rt.spawn(StubbornStop, released, swallowed, name="stubborn")
            pending = asyncio.ensure_future(ref.call("work", timeout=30.0))
            await wait_for(lambda: ref.statistics().processed == 1, timeout=1.0)
            await ref.stop(timeout=0.1)  # stop, then kill, then abandon
            assert swallowed == [1]
            assert not ref.is_alive
            assert await ref.wait_stopped(timeout=1.0) == "killed"
            with pytest.raises(bastion.ActorNotAlive):
                await pending
            stats = rt.statistics()
            assert (stats.actors, stats.busy_actors, stats.stopped) == (0, 0, 1)
            assert rt.whereis("stubborn") is None  # the name is free for a replacement
            released.set()  # the abandoned task finally returns: nothing is released twice
            await wait_for(lambda: not any("Stubborn" in t.get_name() for t in asyncio.all_tasks()))
            assert stops == []
            assert rt.statistics().stopped == 1
    finally:
        released.set()  # never leave the stubborn task behind, even if an assertion fails
