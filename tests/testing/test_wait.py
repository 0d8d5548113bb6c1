"""wait_for, wait_for_state, drain_mailbox, sync_operation and the clock controls."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bastion
from bastion.testing import (
    VirtualClock,
    WaitTimeout,
    actor_state,
    crash,
    drain_mailbox,
    settle,
    sync_operation,
    wait_for,
    wait_for_state,
)
from tests.testing.conftest import Add, Counter, Ticker


async def test_wait_for_returns_the_first_truthy_value(clock: VirtualClock) -> None:
    box: dict[str, int] = {}
    asyncio.get_running_loop().call_later(2.0, box.update, {"k": 7})
    assert await wait_for(lambda: box.get("k"), timeout=5.0) == 7
    if clock.virtual:
        assert clock.now() == pytest.approx(2.0)  # woke at the timer, not at a poll tick


async def test_wait_for_times_out_with_what_it_last_saw(clock: VirtualClock) -> None:
    seen: list[int] = []

    def condition() -> int:
        seen.append(len(seen))
        return 0

    with pytest.raises(WaitTimeout, match=r"last returned 0"):
        await wait_for(condition, timeout=3.0)
    assert seen  # it was evaluated


async def test_wait_for_chains_the_last_assertion_error() -> None:
    def condition() -> bool:
        assert 1 + 1 == 3, "arithmetic is broken"
        return True

    with pytest.raises(WaitTimeout) as info:
        await wait_for(condition, timeout=0.5)
    assert isinstance(info.value.__cause__, AssertionError)
    assert "arithmetic is broken" in str(info.value)


async def test_wait_for_accepts_async_conditions(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Counter, 5)
    assert await wait_for(lambda: ref.call("get", timeout=1.0), timeout=2.0) == 5
    await ref.stop()


async def test_wait_for_lets_other_errors_through() -> None:
    def condition() -> bool:
        raise KeyError("not an assertion")

    with pytest.raises(KeyError):
        await wait_for(condition, timeout=1.0)


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan")])
async def test_wait_for_rejects_bad_timeouts(bad: float) -> None:
    with pytest.raises(ValueError, match="finite number of seconds > 0"):
        await wait_for(lambda: True, timeout=bad)


async def test_wait_for_state_sees_the_actor_change(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Ticker, 1.0)
    state = await wait_for_state(ref, lambda s: s.ticks >= 3, timeout=10.0)
    assert state.ticks >= 3
    await ref.stop()


async def test_wait_for_state_timeout_shows_the_state(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Counter, 1)
    with pytest.raises(WaitTimeout, match=r"count=1"):
        await wait_for_state(ref, lambda s: s.count == 2, timeout=1.0)
    await ref.stop()


async def test_wait_for_state_follows_a_name_ref_across_a_restart(rt: bastion.Runtime) -> None:
    sup = await rt.start_supervisor(
        [bastion.ChildSpec(id="c", actor=Counter, args=(10,), name="counter")], name="sup"
    )
    named = rt.ref("counter")
    first = actor_state(named)
    await sync_operation(named, Add(5), lambda s: s.count == 15)
    await crash(named)
    # The restarted incarnation starts again from 10: a fresh object.
    fresh = await wait_for_state(named, lambda s: s is not first and s.count == 10)
    assert fresh.count == 10
    await sup.stop()


async def test_drain_mailbox_counts_what_was_handled(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Counter)
    for _ in range(5):
        ref.cast_nowait(Add(1))
    assert await drain_mailbox(ref) == 5
    assert actor_state(ref).count == 5  # type: ignore[attr-defined]
    await ref.stop()


async def test_drain_mailbox_of_a_stopping_actor_raises(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Counter)
    await ref.stop()
    with pytest.raises(bastion.ActorNotAlive):
        await drain_mailbox(ref)


async def test_sync_operation_casts_then_waits_for_the_check(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Counter, 1)
    state: Any = await sync_operation(ref, Add(2), lambda s: s.count == 3)
    assert state.count == 3
    plain: Any = await sync_operation(ref, Add(1))
    assert plain.count == 4
    await ref.stop()


async def test_clock_advance_fires_due_timers_in_order(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    ref = await rt.spawn(Ticker, 10.0)
    await clock.advance(35.0)
    assert await ref.call("ticks", timeout=1.0) == 3
    await ref.stop()


async def test_clock_rejects_bad_amounts(clock: VirtualClock) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        await clock.advance(-1)
    with pytest.raises(ValueError, match="non-negative"):
        await clock.advance(float("inf"))


async def test_settle_lets_casts_land_without_moving_time(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    ref = await rt.spawn(Counter)
    start = clock.now()
    ref.cast_nowait(Add(4))
    await settle()
    assert actor_state(ref).count == 4  # type: ignore[attr-defined]
    if clock.virtual:
        assert clock.now() == start
    await ref.stop()


async def test_settle_and_wait_idle_agree(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Counter)
    ref.cast_nowait(Add(1))
    await settle()
    await rt.wait_idle(timeout=1.0)
    assert actor_state(ref).count == 1  # type: ignore[attr-defined]
    await ref.stop()


async def test_actor_state_of_a_dead_actor_is_an_error(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Counter)
    await ref.stop()
    with pytest.raises(bastion.ActorNotAlive):
        actor_state(ref)
