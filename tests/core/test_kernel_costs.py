"""What the kernel's cheap paths must still guarantee.

The mailbox high-water mark is noted by the sender (past a per-cell limit), a started
actor goes dormant until its first message, ``on_start`` is timed only if it waits,
senders skip the context capture while no carrier is registered, and a call reads the
loop's clock through the cheapest callable that returns the same time.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import time
from typing import Any

import pytest

import bastion
from bastion._core import _carry
from bastion._core._clock import loop_time
from bastion.testing import actor_state

_request: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="none")


class Gate(bastion.Actor):
    """Waits in its first cast until ``open`` is set; later casts only count."""

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate
        self.seen = 0

    async def handle_cast(self, message: Any) -> None:
        self.seen += 1
        await self.gate.wait()

    def handle_call(self, message: Any) -> int:
        return self.seen


class Prepared(bastion.Actor):
    """Sets a context variable and an attribute in an ``on_start`` that waits."""

    def __init__(self) -> None:
        self.ready = False

    async def on_start(self) -> None:
        await asyncio.sleep(0)
        _request.set("set in on_start")
        self.ready = True

    def handle_call(self, message: Any) -> Any:
        return (self.ready, _request.get())


class Slow(bastion.Actor):
    """``on_start`` waits for an event nobody sets."""

    async def on_start(self) -> None:
        await asyncio.Event().wait()


def _high_water(rt: bastion.Runtime, actor_class: str) -> float:
    family = rt.metrics.family("bastion_mailbox_high_water")
    return family.sample(actor_class=actor_class).value


async def test_high_water_counts_messages_queued_while_the_actor_is_busy(
    rt: bastion.Runtime,
) -> None:
    gate = asyncio.Event()
    ref = await rt.spawn(Gate, gate, mailbox_capacity=10)
    await ref.cast("first")  # taken at once: the actor now waits in its handler
    await asyncio.sleep(0)
    for n in range(6):
        ref.cast_nowait(n)
    assert _high_water(rt, "Gate") == 6  # before the actor popped any of them
    gate.set()
    assert await ref.call("seen") == 7
    assert _high_water(rt, "Gate") == 7  # the call queued behind the six casts
    await ref.stop()


async def test_high_water_is_kept_per_class_across_actors(rt: bastion.Runtime) -> None:
    gate = asyncio.Event()
    first = await rt.spawn(Gate, gate, mailbox_capacity=10)
    second = await rt.spawn(Gate, gate, mailbox_capacity=10)
    for ref in (first, second):
        await ref.cast("first")
    await asyncio.sleep(0)
    for n in range(5):
        first.cast_nowait(n)
    for n in range(3):
        second.cast_nowait(n)  # lower than the class's mark: the mark stays
    assert _high_water(rt, "Gate") == 5
    for n in range(3, 7):
        second.cast_nowait(n)
    assert _high_water(rt, "Gate") == 7
    for n in range(7, 10):
        second.cast_nowait(n)
    with pytest.raises(bastion.MailboxFull):
        second.cast_nowait("one too many")  # full at 10: the limit still refuses at capacity
    assert _high_water(rt, "Gate") == 10
    gate.set()
    for ref in (first, second):
        await ref.stop()


async def test_a_started_actor_holds_no_task_until_its_first_message(
    rt: bastion.Runtime,
) -> None:
    before = len(asyncio.all_tasks())
    refs = [await rt.spawn(Prepared) for _ in range(5)]
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before
    assert await refs[0].call("state") == (True, "set in on_start")
    assert len(asyncio.all_tasks()) == before + 1  # the one that handled a message
    for ref in refs:
        await ref.stop()


async def test_on_start_context_reaches_handlers_whoever_sends(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Prepared)
    token = _request.set("the sender's")
    try:
        assert await ref.call("state") == (True, "set in on_start")
    finally:
        _request.reset(token)
    await ref.stop()


async def test_a_dormant_started_actor_can_be_killed_and_stopped(rt: bastion.Runtime) -> None:
    killed = await rt.spawn(Prepared)
    killed.kill("chaos")
    assert await killed.wait_stopped() == "chaos"
    stopped = await rt.spawn(Prepared)
    await stopped.stop()
    assert not stopped.is_alive


async def test_on_start_that_waits_is_still_timed_out(rt: bastion.Runtime) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(bastion.StartFailed, match="did not finish within 2"):
        await rt.spawn(Slow, start_timeout=2)
    assert loop.time() - started == pytest.approx(2.0)
    await rt.wait_idle()
    assert rt.actors() == []


async def test_senders_capture_only_while_a_carrier_is_registered() -> None:
    captured: list[int] = []

    class Counting:
        def capture(self) -> Any:
            captured.append(1)
            return None

        def enter(self, value: Any, cell: Any, kind: int, message: Any) -> None:
            return None

        def leave(self, token: Any, error: BaseException | None) -> None:
            return None

        def reset(self) -> None:
            return None

    registered_before = _carry.registered
    carrier = Counting()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Gate, asyncio.Event())
        _carry.register(carrier)
        try:
            assert _carry.registered
            ref.cast_nowait("counted")
        finally:
            _carry.unregister(carrier)
        assert _carry.registered is registered_before
        ref.cast_nowait("not counted")
        assert captured == [1]
        ref.kill()


def test_loop_time_is_the_c_clock_for_a_stock_loop() -> None:
    loop = asyncio.new_event_loop()
    try:
        assert loop_time(loop) is time.monotonic
        loop.time = lambda: 42.0  # type: ignore[method-assign]
        assert loop_time(loop)() == 42.0
    finally:
        loop.close()


async def test_loop_time_follows_a_virtual_clock(rt: bastion.Runtime, clock: Any) -> None:
    loop = asyncio.get_running_loop()
    now = loop_time(loop)
    before = now()
    await clock.advance(5)
    assert now() - before == pytest.approx(5.0)
    assert now() == loop.time()


class Counter(bastion.Actor):
    """Counts casts in an attribute (the access every handler makes)."""

    def __init__(self) -> None:
        self.count = 0

    def handle_cast(self, message: Any) -> None:
        self.count += 1


async def test_spawn_checks_reserved_names_without_making_an_instance_dict(
    rt: bastion.Runtime,
) -> None:
    # Reading actor.__dict__ makes CPython keep the attributes in a dict object from
    # then on (attribute access in handlers loses its fast path): spawn must not.
    ref = await rt.spawn(Counter)
    await ref.cast("one")
    await rt.wait_idle()
    actor = actor_state(ref)
    assert isinstance(actor, Counter)
    assert actor.count == 1
    assert not any(type(r) is dict for r in gc.get_referents(actor))
    await ref.stop()


async def test_a_send_to_a_parked_stopping_or_dead_actor_leaves_the_one_test_fast_path(
    rt: bastion.Runtime,
) -> None:
    # try_post's fast path is one test (depth < limit); limit is 0 whenever the actor
    # is parked, stopping or dead, so waking it and refusing the send stay exact.
    ref = await rt.spawn(Counter)
    cell = ref._resolve()
    assert cell.limit == 0  # dormant
    for _ in range(3):
        await ref.cast("one")  # the first wakes it; the next two take the fast path
    await rt.wait_idle()
    assert cell.parked
    assert cell.limit == 0
    await ref.cast("again")  # wakes it once more
    await rt.wait_idle()
    assert actor_state(ref).count == 4
    await ref.stop()
    assert cell.limit == 0
    with pytest.raises(bastion.ActorNotAlive):
        await ref.cast("after the stop")
    with pytest.raises(bastion.ActorNotAlive):
        ref.cast_nowait("after the stop")
