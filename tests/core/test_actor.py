"""Actors and refs: call, cast, cast_nowait, stop, failure routing, bad input."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

import bastion
from bastion.testing import wait_for
from tests.core.conftest import Boom, Echo, Gate, until


async def test_call_returns_the_handler_result() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        assert await ref.call(41, timeout=1.0) == 41


async def test_async_and_sync_handlers_both_work() -> None:
    class Mixed(bastion.Actor):
        def __init__(self) -> None:
            self.total = 0

        async def handle_cast(self, message: int) -> None:
            await asyncio.sleep(0)
            self.total += message

        def handle_call(self, message: Any) -> int:
            return self.total

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Mixed)
        await ref.cast(2)
        ref.cast_nowait(3)
        assert await ref.call("total") == 5


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (None, ValueError),
        (math.inf, ValueError),
        (0, ValueError),
        (-1, ValueError),
        (float("nan"), ValueError),
        ("1", TypeError),
        (True, TypeError),
    ],
)
async def test_invalid_call_timeouts_raise_at_the_call_site(bad: Any, error: type) -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        with pytest.raises(error, match="timeout"):
            await ref.call("x", timeout=bad)
        assert await ref.call("still alive") == "still alive"


@pytest.mark.parametrize("bad", [None, math.inf, 0, -2.5])
async def test_invalid_runtime_call_timeout_is_rejected(bad: Any) -> None:
    with pytest.raises(ValueError, match="timeout"):
        async with bastion.open_runtime(call_timeout=bad):
            pass


async def test_call_timeout_raises_and_the_late_reply_is_dropped_and_counted() -> None:
    gate = asyncio.Event()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Gate, gate)
        with pytest.raises(bastion.CallTimeout) as info:
            await ref.call("block", timeout=0.01)
        assert isinstance(info.value, TimeoutError)
        assert info.value.retryable
        gate.set()
        assert await ref.call("after") == "after"
        assert rt.statistics().call_timeouts == 1
        assert rt.statistics().late_replies == 1
        assert ref.statistics().late_replies == 1


async def test_expected_error_goes_to_the_caller_and_the_actor_lives_on() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        with pytest.raises(bastion.ValidationError) as info:
            await ref.call("invalid")
        assert info.value.code == "bad_input"
        assert ref.is_alive
        assert await ref.call("ok") == "ok"
        assert rt.statistics().crashed == 0


async def test_unexpected_error_crashes_the_actor_with_the_cause_chained() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        with pytest.raises(bastion.ActorCrashed) as info:
            await ref.call("crash")
        assert isinstance(info.value.__cause__, Boom)
        await ref.wait_stopped(timeout=1.0)
        assert not ref.is_alive
        with pytest.raises(bastion.ActorNotAlive):
            await ref.call("x")
        with pytest.raises(bastion.ActorNotAlive):
            await ref.cast("x")
        with pytest.raises(bastion.ActorNotAlive):
            ref.cast_nowait("x")
        assert rt.statistics().crashed == 1


async def test_pending_callers_are_answered_at_once_when_the_actor_dies() -> None:
    gate = asyncio.Event()

    class Crasher(Gate):
        async def handle_call(self, message: Any) -> Any:
            if message == "block":
                await self.gate.wait()
                raise Boom("crash while others wait")
            return message

    async with bastion.open_runtime(call_timeout=30.0) as rt:
        ref = await rt.spawn(Crasher, gate)
        first = asyncio.ensure_future(ref.call("block"))
        waiting = [asyncio.ensure_future(ref.call(i)) for i in range(3)]
        await until(lambda: ref.statistics().mailbox_depth == 3)
        gate.set()
        with pytest.raises(bastion.ActorCrashed):
            await first
        for pending in waiting:
            with pytest.raises(bastion.ActorNotAlive) as info:
                await pending
            assert isinstance(info.value.__cause__, Boom)
        # answered well before the 30 s deadline: the loop clock barely moved
        assert rt.statistics().call_timeouts == 0


async def test_cast_nowait_raises_mailbox_full_and_cast_waits_for_room() -> None:
    gate = asyncio.Event()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Gate, gate, mailbox_capacity=2)
        blocked = asyncio.ensure_future(ref.call("block"))
        await until(lambda: ref.statistics().processed == 1)  # the actor waits on the gate
        ref.cast_nowait(1)
        ref.cast_nowait(2)
        with pytest.raises(bastion.MailboxFull):
            ref.cast_nowait(3)
        with pytest.raises(bastion.MailboxFull):
            await ref.cast(3, timeout=0.01)
        sender = asyncio.ensure_future(ref.cast(4))
        await until(lambda: ref.statistics().blocked_senders == 1)
        assert not sender.done()
        gate.set()
        await sender
        assert await blocked == "block"
        assert rt.statistics().mailbox_full >= 2


async def test_mailboxes_are_bounded_by_default() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        assert ref.statistics().mailbox_capacity == 1000
    async with bastion.open_runtime(mailbox_capacity=5) as rt:
        ref = await rt.spawn(Echo)
        assert ref.statistics().mailbox_capacity == 5


@pytest.mark.parametrize("capacity", [0, -1, 1.5, True])
async def test_invalid_mailbox_capacity_is_rejected(capacity: Any) -> None:
    async with bastion.open_runtime() as rt:
        with pytest.raises(ValueError, match="mailbox_capacity"):
            await rt.spawn(Echo, mailbox_capacity=capacity)


async def test_stop_runs_on_stop_and_dead_letters_queued_casts() -> None:
    stopped: list[Any] = []
    gate = asyncio.Event()

    class Stoppable(Gate):
        def on_stop(self, reason: Any) -> None:
            stopped.append(reason)

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Stoppable, gate, name="s")
        blocked = asyncio.ensure_future(ref.call("block"))
        await until(lambda: ref.statistics().processed == 1)
        ref.cast_nowait("queued")
        stopping = asyncio.ensure_future(ref.stop(timeout=1.0))
        # kernel state on purpose: the stop request is not observable before it completes
        await until(lambda: not ref.is_alive or ref._resolve().stop_reason is not None)
        gate.set()
        await stopping
        assert await blocked == "block"
        assert stopped == ["normal"]
        assert rt.whereis("s") is None
        letters = rt.dead_letters.items()
        assert [letter.message for letter in letters] == ["queued"]
        await ref.stop()  # stopping a dead actor is a no-op


async def test_stop_kills_an_actor_that_does_not_stop_in_time() -> None:
    reasons: list[Any] = []

    class Stuck(bastion.Actor):
        async def handle_call(self, message: Any) -> Any:
            await asyncio.Event().wait()

        def on_stop(self, reason: Any) -> None:
            reasons.append(reason)

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Stuck)
        pending = asyncio.ensure_future(ref.call("hang", timeout=10.0))
        await until(lambda: ref.statistics().processed == 1)
        await ref.stop(timeout=0.01)
        assert reasons == ["killed"]
        with pytest.raises(bastion.ActorNotAlive):
            await pending


async def test_actor_can_stop_itself() -> None:
    class Quitter(bastion.Actor):
        def handle_cast(self, message: Any) -> None:
            self.stop()

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Quitter)
        await ref.cast("quit")
        assert await ref.wait_stopped(timeout=1.0) == "normal"


async def test_an_actor_calling_itself_fails_fast() -> None:
    class Narcissus(bastion.Actor):
        async def handle_call(self, message: Any) -> Any:
            return await self.ref.call("again")

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Narcissus)
        with pytest.raises(bastion.ActorCrashed) as info:
            await ref.call("go", timeout=1.0)
        assert isinstance(info.value.__cause__, bastion.ActorError)


async def test_spawn_rejects_non_actor_classes() -> None:
    async with bastion.open_runtime() as rt:
        with pytest.raises(TypeError, match="Actor subclass"):
            await rt.spawn(object)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="Actor subclass"):
            await rt.spawn(Echo())  # type: ignore[arg-type]


async def test_constructor_failure_raises_start_failed() -> None:
    class BadInit(bastion.Actor):
        def __init__(self) -> None:
            raise Boom("no")

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed) as info:
            await rt.spawn(BadInit, name="bad")
        assert isinstance(info.value.__cause__, Boom)
        assert rt.whereis("bad") is None
        await rt.spawn(Echo, name="bad")  # the name was not leaked


async def test_on_start_failure_raises_at_the_spawn_site() -> None:
    class BadStart(bastion.Actor):
        async def on_start(self) -> None:
            raise Boom("cannot start")

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed) as info:
            await rt.spawn(BadStart, name="bs")
        assert isinstance(info.value.__cause__, Boom)
        assert rt.whereis("bs") is None
        assert rt.statistics().actors == 0


async def test_on_start_that_hangs_fails_the_spawn_within_start_timeout() -> None:
    class Hangs(bastion.Actor):
        async def on_start(self) -> None:
            await asyncio.Event().wait()

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed) as info:
            await rt.spawn(Hangs, start_timeout=0.01)
        assert isinstance(info.value.__cause__, bastion.CallTimeout)
        assert rt.statistics().actors == 0


async def test_messages_after_runtime_close_are_rejected() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo)
    with pytest.raises(bastion.ActorNotAlive):
        await ref.call("x")
    with pytest.raises(bastion.RuntimeClosed):
        await rt.spawn(Echo)


async def test_a_crash_disturbs_no_other_actor() -> None:
    async with bastion.open_runtime() as rt:
        a = await rt.spawn(Echo, "a")
        b = await rt.spawn(Echo, "b")
        with pytest.raises(bastion.ActorCrashed):
            await a.call("crash")
        assert await b.call("ok") == "ok"


async def test_cancelling_a_caller_is_not_swallowed() -> None:
    gate = asyncio.Event()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Gate, gate)
        caller = asyncio.ensure_future(ref.call("block", timeout=10.0))
        await until(lambda: ref.statistics().processed == 1)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        gate.set()
        assert await ref.call("alive") == "alive"


async def test_expected_error_from_a_cast_keeps_the_actor_and_emits_an_event() -> None:
    seen: list[Any] = []

    class Picky(bastion.Actor):
        def handle_cast(self, message: Any) -> None:
            raise bastion.BusinessError("nope")

        def handle_call(self, message: Any) -> Any:
            return message

    bastion.telemetry.attach(
        "test-expected", [("bastion", "actor", "expected_error")], lambda *a: seen.append(a)
    )
    try:
        async with bastion.open_runtime() as rt:
            ref = await rt.spawn(Picky)
            await ref.cast("x")
            assert await ref.call("y") == "y"
    finally:
        bastion.telemetry.detach("test-expected")
    assert len(seen) == 1


async def test_statistics_are_frozen_snapshots() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo, name="e")
        await ref.call(1)
        stats = ref.statistics()
        assert stats.processed == 1
        assert stats.name == "e"
        with pytest.raises(AttributeError):
            stats.processed = 5  # type: ignore[misc]
        assert rt.statistics().actors == 1


async def test_kill_ends_an_actor_mid_handler_and_its_supervisor_restarts_it() -> None:
    gate = asyncio.Event()
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([bastion.ChildSpec("g", Gate, (gate,), name="g")])
        first = rt.whereis("g")
        assert first is not None
        pending = asyncio.ensure_future(first.call("block", timeout=10.0))
        await until(lambda: first.statistics().processed == 1)
        first.kill(Boom("injected"))
        with pytest.raises(bastion.ActorNotAlive):
            await pending
        assert isinstance(await first.wait_stopped(timeout=1.0), Boom)
        await rt.wait_idle(timeout=1.0)
        assert sup.statistics().restarts == 1
        assert await rt.ref("g").call("back") == "back"
        first.kill()  # a dead actor: no-op
        with pytest.raises(ValueError, match="abnormal"):
            rt.ref("g").kill("normal")
        with pytest.raises(TypeError):
            rt.ref("g").kill(42)  # type: ignore[arg-type]


async def test_a_task_started_by_an_actor_may_call_and_stop_that_actor() -> None:
    class Parent(bastion.Actor):
        helper: asyncio.Task[Any]

        def handle_call(self, message: Any) -> Any:
            if message == "spawn-helper":
                self.helper = self.runtime.tasks.start(self.ref.call, "ping")
                return "started"
            if message == "helper-result":
                return self.helper.result()
            return "pong"

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Parent)
        await ref.call("spawn-helper")
        await wait_for(lambda: rt.tasks.statistics().succeeded == 1, timeout=1.0)
        assert await ref.call("helper-result") == "pong"


async def test_an_actor_without_on_start_is_dormant_until_its_first_message() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        assert ref.is_alive
        # kernel state on purpose: "dormant" means the kernel holds no task for it
        assert ref._resolve().task is None  # no task, no round trip, until it is used
        assert await ref.call("wake") == "wake"
        assert ref._resolve().task is not None


async def test_a_dormant_actor_can_be_killed_stopped_and_restarted() -> None:
    async with bastion.open_runtime() as rt:
        killed = await rt.spawn(Echo)
        killed.kill(Boom("before any message"))
        assert isinstance(await killed.wait_stopped(timeout=1.0), Boom)
        stopped = await rt.spawn(Echo)
        await stopped.stop()
        assert not stopped.is_alive
        sup = await rt.start_supervisor([bastion.ChildSpec("d", Echo, name="d")])
        dormant = rt.whereis("d")
        assert dormant is not None
        dormant.kill(Boom("kill the dormant child"))
        await wait_for(lambda: sup.statistics().restarts == 1, timeout=1.0)
        assert await rt.ref("d").call("back") == "back"
        assert rt.statistics().busy_actors == 0


async def test_a_call_timeout_raised_by_on_start_is_reported_as_such() -> None:
    class CallsOut(bastion.Actor):
        async def on_start(self) -> None:
            raise bastion.CallTimeout("a dependency did not answer")

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed, match="on_start raised") as info:
            await rt.spawn(CallsOut)
        assert "dependency" in str(info.value.__cause__)


async def test_statistics_say_whether_an_actor_is_parked() -> None:
    gate = asyncio.Event()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Gate, gate)
        assert ref.statistics().parked
        pending = asyncio.ensure_future(ref.call("block"))
        await until(lambda: ref.statistics().processed == 1)
        assert not ref.statistics().parked
        gate.set()
        await pending
        await rt.wait_idle()
        assert ref.statistics().parked
