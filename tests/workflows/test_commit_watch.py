"""``CommitWatch``: one timer for the deadlines of every commit waiter of an engine."""

from __future__ import annotations

from bastion.testing import VirtualClock
from bastion.workflows._watch import CommitWatch


async def test_each_waiter_expires_at_its_own_deadline_and_a_resolved_one_never(
    clock: VirtualClock,
) -> None:
    watch = CommitWatch(5.0)
    t0 = clock.now()
    first = watch.waiter()
    await clock.advance(2.0)
    second, third = watch.waiter(), watch.waiter()
    third.set_result(True)  # committed in time
    assert await first is False
    assert clock.now() - t0 == 5.0
    watch.forget(first)
    assert await second is False
    assert clock.now() - t0 == 7.0
    watch.forget(second)
    watch.forget(third)
    assert third.result() is True


async def test_no_timer_is_left_once_no_waiter_is_left(clock: VirtualClock) -> None:
    watch = CommitWatch(5.0)
    waiter = watch.waiter()
    waiter.set_result(True)
    watch.forget(waiter)  # (the test's leak check fails on a timer left behind)
    again = watch.waiter()  # a new wait arms a new timer
    assert await again is False
    watch.forget(again)
