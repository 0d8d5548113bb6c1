"""The task supervisor: tracked tasks, deadlines, blocking work, shutdown."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest

import bastion
from bastion.testing import wait_for

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")


async def test_run_returns_the_result() -> None:
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    async with bastion.open_runtime() as rt:
        assert await rt.tasks.run(double, 21, timeout=1.0) == 42
        assert rt.tasks.statistics().succeeded == 1


async def test_run_propagates_the_task_exception_unchanged() -> None:
    async def fail() -> None:
        raise KeyError("k")

    async with bastion.open_runtime() as rt:
        with pytest.raises(KeyError):
            await rt.tasks.run(fail)
        assert rt.tasks.statistics().failed == 1


async def test_run_cancels_the_task_at_its_deadline() -> None:
    cancelled = asyncio.Event()

    async def hang() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.CallTimeout):
            await rt.tasks.run(hang, timeout=0.05)
        await wait_for(cancelled.is_set, timeout=1.0)
        assert rt.tasks.statistics().timed_out == 1
        with pytest.raises(ValueError, match="timeout"):
            await rt.tasks.run(hang, timeout=None)  # type: ignore[arg-type]


async def test_fire_and_forget_failures_are_reported_as_events() -> None:
    events: list[Any] = []
    bastion.telemetry.attach(
        "task-fail", [("bastion", "task", "exception")], lambda *a: events.append(a)
    )

    async def fail() -> None:
        raise RuntimeError("background failure")

    try:
        async with bastion.open_runtime() as rt:
            task = rt.tasks.start(fail, name="bg")
            await asyncio.wait((task,), timeout=1.0)
            assert rt.tasks.statistics().failed == 1
            assert rt.tasks.statistics().running == 0
    finally:
        bastion.telemetry.detach("task-fail")
    assert events[0][2]["task"] == "bg"


async def test_start_rejects_non_coroutines() -> None:
    async with bastion.open_runtime() as rt:
        with pytest.raises(TypeError, match="coroutine"):
            rt.tasks.start(lambda: 1)  # type: ignore[arg-type,return-value]


async def test_shutdown_cancels_tracked_tasks() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    async with bastion.open_runtime() as rt:
        task = rt.tasks.start(forever)
        await wait_for(started.is_set, timeout=1.0)
    assert task.cancelled()
    assert rt.tasks.statistics().cancelled == 1
    with pytest.raises(bastion.RuntimeClosed):
        rt.tasks.start(forever)


async def test_run_blocking_uses_a_thread_and_carries_the_context() -> None:
    def where() -> tuple[str, str]:
        return threading.current_thread().name, marker.get()

    async with bastion.open_runtime(max_threads=2) as rt:
        marker.set("from-caller")
        name, seen = await rt.tasks.run_blocking(where, timeout=5.0)
        assert name.startswith("bastion-blocking")
        assert seen == "from-caller"
        assert rt.tasks.statistics().blocking_capacity == 2


async def test_run_blocking_times_out_and_counts_the_abandoned_thread() -> None:
    release = threading.Event()

    def stuck() -> None:
        release.wait(5.0)

    async with bastion.open_runtime() as rt:
        try:
            with pytest.raises(bastion.CallTimeout):
                await rt.tasks.run_blocking(stuck, timeout=0.02)
            assert rt.tasks.statistics().blocking_abandoned == 1
        finally:
            release.set()


@pytest.mark.parametrize("threads", [0, -1])
async def test_invalid_thread_pool_size_is_rejected(threads: int) -> None:
    with pytest.raises(ValueError, match="max_threads"):
        async with bastion.open_runtime(max_threads=threads):
            pass
