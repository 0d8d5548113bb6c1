"""VirtualTimeLoop: time jumps when idle; real I/O and threads still work; deadlocks fail."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

import pytest

from bastion.testing import (
    DeadlockError,
    TestTimeLimitExceeded,
    VirtualClock,
    VirtualTimeLoop,
    new_loop,
    run,
    use_real_time,
)

VIRTUAL = not use_real_time()
needs_virtual = pytest.mark.skipif(not VIRTUAL, reason="asserts virtual-clock readings")


@needs_virtual
async def test_a_thousand_virtual_seconds_of_sleep_pass_at_once() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    assert loop.virtual
    start = loop.time()
    for _ in range(1000):
        await asyncio.sleep(1.0)  # noqa: BAS601 -- the subject: asyncio.sleep in virtual time
    assert loop.time() - start == pytest.approx(1000.0)
    # Every second was jumped over, none waited for (a real clock would take 1000 s).
    assert loop.virtual_seconds_advanced == pytest.approx(1000.0)


async def test_timers_fire_in_deadline_order_not_creation_order(clock: VirtualClock) -> None:
    loop = asyncio.get_running_loop()
    fired: list[int] = []
    for delay in (0.3, 0.1, 0.2, 0.05):
        loop.call_later(delay, fired.append, int(delay * 100))
    await clock.advance(0.4)
    assert fired == [5, 10, 20, 30]


@needs_virtual
async def test_each_timer_fires_exactly_at_its_virtual_deadline(clock: VirtualClock) -> None:
    loop = asyncio.get_running_loop()
    seen: list[float] = []
    for delay in (2.5, 0.5, 1.0):
        loop.call_later(delay, lambda: seen.append(loop.time()))
    await clock.advance(3)
    assert seen == [0.5, 1.0, 2.5]


async def test_asyncio_timeout_expires_under_virtual_time() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5 if not VIRTUAL else 30):
            await asyncio.Event().wait()
    assert loop.time() - start >= (0.5 if not VIRTUAL else 30)


async def test_real_socket_io_still_works() -> None:
    left, right = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=left)
    try:
        right.sendall(b"ping\n")
        assert await asyncio.wait_for(reader.readline(), timeout=5) == b"ping\n"
    finally:
        writer.close()
        await writer.wait_closed()
        right.close()


async def test_blocking_work_in_a_thread_finishes_before_its_timeout() -> None:
    loop = asyncio.get_running_loop()
    started = threading.Event()

    def blocking() -> int:
        started.set()
        time.sleep(0.05)  # real blocking work in a thread, not a test sleep
        return 42

    start = loop.time()
    result = await asyncio.wait_for(loop.run_in_executor(None, blocking), timeout=10)
    assert result == 42
    assert started.is_set()
    # While a thread works, virtual time flows at the real rate instead of jumping.
    assert loop.time() - start < 10


async def test_to_thread_and_a_short_timeout_still_time_out() -> None:
    release = threading.Event()

    def stuck() -> None:
        release.wait(5)

    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(stuck), timeout=0.05)
    finally:
        release.set()


def test_deadlock_on_a_future_nobody_resolves_raises_with_a_dump() -> None:
    async def stuck_here() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(DeadlockError) as info:
        run(stuck_here)
    text = str(info.value)
    assert "nothing can wake" in text
    assert "stuck_here" in text  # the dump shows where the task waits


def test_deadlock_among_several_tasks_lists_each_of_them() -> None:
    async def main() -> None:
        a, b = asyncio.Event(), asyncio.Event()

        async def waits_for(event: asyncio.Event) -> None:
            await event.wait()

        first = asyncio.create_task(waits_for(a), name="first-waiter")
        second = asyncio.create_task(waits_for(b), name="second-waiter")
        await asyncio.gather(first, second)

    with pytest.raises(DeadlockError) as info:
        run(main)
    assert "first-waiter" in str(info.value)
    assert "second-waiter" in str(info.value)


def test_a_virtual_livelock_hits_the_real_time_limit() -> None:
    async def livelock() -> None:
        loop = asyncio.get_running_loop()

        def tick() -> None:  # a timer that re-arms itself forever
            loop.call_later(1.0, tick)

        tick()
        await loop.create_future()

    with pytest.raises(TestTimeLimitExceeded) as info:
        run(livelock, limit=0.2)
    assert "real-time limit of 0.2 s" in str(info.value)
    assert "livelock" in str(info.value)  # where the test's task was stuck


def test_run_returns_the_result_and_works_on_both_clocks() -> None:
    async def main() -> float:
        await VirtualClock().sleep(0.01)
        return asyncio.get_running_loop().time()

    assert run(main, virtual=True) == pytest.approx(0.01)
    assert run(main, virtual=False) > 0.0


def test_new_loop_follows_the_real_time_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASTION_REAL_TIME", "1")
    loop = new_loop()
    assert not loop.virtual
    loop.close()
    monkeypatch.setenv("BASTION_REAL_TIME", "0")
    loop = new_loop()
    assert loop.virtual
    loop.close()


@pytest.mark.parametrize("raw", ["soon", "0", "-3"])
def test_a_bad_time_limit_setting_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("BASTION_TEST_TIMEOUT", raw)

    async def main() -> None:
        return None

    with pytest.raises(ValueError, match="BASTION_TEST_TIMEOUT"):
        run(main)


def test_a_test_that_swallows_the_deadlock_cancellation_still_fails() -> None:
    async def swallows() -> None:
        # A careless handler: the deadlock must still be reported.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.get_running_loop().create_future()

    with pytest.raises(DeadlockError):
        run(swallows)


def test_registered_sockets_get_a_grace_period_before_time_jumps() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        left, right = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=left)
        try:
            start = loop.time()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.read(1), timeout=10.0)
            return loop.time() - start
        finally:
            writer.close()
            await writer.wait_closed()
            right.close()

    # With a socket open the loop waits io_grace real seconds, then jumps the rest.
    assert run(main, virtual=True) == pytest.approx(10.0)
