"""``on_start`` runs in the spawner's task, in the actor's own context (issue 15, target 6).

A spawn of an actor with an ``on_start`` that does not wait costs no task and no turn
of the event loop; one that waits is driven under the start timeout. Kills reach it
where it waits, the spawner's task is never left cancelled by them, and the spawn's
wait stays bounded even when ``on_start`` ignores its kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from typing import Any

import pytest

import bastion
from bastion.testing import VirtualClock
from tests.core.conftest import Boom

_var: contextvars.ContextVar[str] = contextvars.ContextVar("_var", default="unset")


class SetsVar(bastion.Actor):
    """Sets a context variable in ``on_start``; its handlers read it back."""

    async def on_start(self) -> None:
        _var.set("the actor's")

    def handle_call(self, message: Any) -> Any:
        return _var.get()


class Plain(bastion.Actor):
    def on_start(self) -> None:
        self.ready = True


@pytest.mark.parametrize("kind", ["async", "plain"])
async def test_a_spawn_whose_on_start_does_not_wait_takes_no_turn_of_the_loop(kind: str) -> None:
    async with bastion.open_runtime() as rt:
        ran: list[str] = []
        asyncio.get_running_loop().call_soon(ran.append, "a loop turn")
        ref = await rt.spawn(SetsVar if kind == "async" else Plain)
        assert ran == []  # the spawn finished without the loop going round
        assert ref._resolve().task is None  # dormant: its task comes with its first message
        await asyncio.sleep(0)
        assert ran == ["a loop turn"]


async def test_on_start_keeps_its_context_for_the_actor_and_never_leaks_it_to_the_spawner() -> None:
    async with bastion.open_runtime() as rt:
        _var.set("the spawner's")
        ref = await rt.spawn(SetsVar)
        assert _var.get() == "the spawner's"
        assert await ref.call("which") == "the actor's"


async def test_a_kill_from_within_on_start_lands_where_it_next_waits(clock: VirtualClock) -> None:
    reached: list[str] = []

    class KillsItself(bastion.Actor):
        async def on_start(self) -> None:
            self.ref.kill(Boom("killed from within"))
            reached.append("after the kill")
            try:
                await self.runtime.clock.sleep(10.0)
            except asyncio.CancelledError:
                reached.append("cancelled where it waited")
                raise

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed, match="kill") as info:
            await rt.spawn(KillsItself)
        assert isinstance(info.value.__cause__, Boom)
        assert reached == ["after the kill", "cancelled where it waited"]
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
        await rt.clock.sleep(0.001)  # and goes on waiting normally
        assert rt.statistics().actors == 0


async def test_a_kill_while_on_start_waits_fails_the_spawn_and_spares_the_spawner(
    clock: VirtualClock,
) -> None:
    refs: list[bastion.ActorRef] = []

    class Slow(bastion.Actor):
        async def on_start(self) -> None:
            refs.append(self.ref)
            await self.runtime.clock.sleep(1.0)

    async with bastion.open_runtime() as rt:

        async def spawner() -> str:
            with pytest.raises(bastion.StartFailed) as info:
                await rt.spawn(Slow)
            assert isinstance(info.value.__cause__, Boom)
            task = asyncio.current_task()
            assert task is not None
            assert task.cancelling() == 0
            await rt.clock.sleep(0.5)  # not cancelled by the kill meant for the actor
            return "spawner done"

        running = asyncio.ensure_future(spawner())
        await clock.advance(0.1)
        refs[0].kill(Boom("stop starting"))
        await clock.advance(1.0)
        assert await running == "spawner done"


async def test_an_on_start_ignoring_its_kill_still_ends_the_spawn_within_the_deadline(
    clock: VirtualClock,
) -> None:
    swallowed: list[int] = []

    class Stubborn(bastion.Actor):
        async def on_start(self) -> None:
            while True:
                with contextlib.suppress(asyncio.CancelledError):
                    await self.runtime.clock.sleep(100.0)
                swallowed.append(1)

    async with bastion.open_runtime(call_timeout=1.0) as rt:
        spawning = asyncio.ensure_future(rt.spawn(Stubborn, start_timeout=2.0))
        await clock.advance(10.0)
        assert spawning.done()
        with pytest.raises(bastion.StartFailed) as info:
            spawning.result()
        assert isinstance(info.value.__cause__, bastion.CallTimeout)  # the start timeout
        assert swallowed == [1]  # its kill, swallowed; then it was closed at the deadline
        assert rt.statistics().actors == 0


async def test_a_spawner_cancelled_by_its_own_timeout_sees_it_and_the_actor_is_released(
    clock: VirtualClock,
) -> None:
    class Slow(bastion.Actor):
        async def on_start(self) -> None:
            await self.runtime.clock.sleep(1.0)

    async with bastion.open_runtime() as rt:

        async def spawner() -> None:
            async with asyncio.timeout(0.1):
                await rt.spawn(Slow, name="slow")

        running = asyncio.ensure_future(spawner())
        await clock.advance(0.5)
        with pytest.raises(TimeoutError):
            await running
        assert rt.whereis("slow") is None
        assert rt.statistics().actors == 0


async def test_messages_sent_while_on_start_waits_are_handled_after_it(
    clock: VirtualClock,
) -> None:
    class Greets(bastion.Actor):
        def __init__(self) -> None:
            self.seen: list[str] = []

        async def on_start(self) -> None:
            await self.runtime.clock.sleep(0.1)
            self.seen.append("started")

        def handle_cast(self, message: Any) -> None:
            self.seen.append(message)

        def handle_call(self, message: Any) -> Any:
            return list(self.seen)

    async with bastion.open_runtime() as rt:
        spawning = asyncio.ensure_future(rt.spawn(Greets, name="g"))
        await clock.advance(0.01)
        rt.ref("g").cast_nowait("early")
        await clock.advance(0.2)
        ref = await spawning
        assert await ref.call("seen") == ["started", "early"]


async def test_an_actor_killed_in_its_own_constructor_fails_its_spawn() -> None:
    class Doomed(bastion.Actor):
        def __init__(self) -> None:
            self.ref.kill(Boom("no"))

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed) as info:
            await rt.spawn(Doomed, name="doomed")
        assert isinstance(info.value.__cause__, Boom)
        assert rt.whereis("doomed") is None
        assert rt.statistics().actors == 0


async def test_a_call_from_on_start_to_the_actor_spawning_it_fails_at_once() -> None:
    class Child(bastion.Actor):
        def __init__(self, parent: bastion.ActorRef) -> None:
            self.parent = parent

        async def on_start(self) -> None:
            await self.parent.call("hello", timeout=30.0)  # the parent waits for this spawn

    class Parent(bastion.Actor):
        async def handle_call(self, message: Any) -> Any:
            if message == "spawn":
                try:
                    await self.runtime.spawn(Child, self.ref)
                except bastion.StartFailed as exc:
                    return repr(exc.__cause__)
            return message

    async with bastion.open_runtime() as rt:
        parent = await rt.spawn(Parent)
        assert "from its own task" in await parent.call("spawn")
