"""isolate(): a supervised task with a deadline; crashes and timeouts come back typed."""

from __future__ import annotations

import asyncio

import pytest

import bastion
from bastion import BusinessError, CallTimeout
from bastion.resilience import (
    IsolatedFailure,
    OperationTimeout,
    current_context,
    error_scope,
    isolate,
)


async def test_returns_the_result_and_carries_the_error_context() -> None:
    async def work(x: int) -> tuple[int, str | None]:
        ctx = current_context()
        return x * 2, ctx.correlation_id if ctx else None

    async with bastion.open_runtime() as rt:
        with error_scope("request", correlation_id="r"):
            assert await isolate(work, 21, timeout=1.0) == (42, "r")
        assert rt.tasks.statistics().started >= 1


async def test_a_crash_becomes_an_isolated_failure_with_its_cause() -> None:
    async def crash() -> None:
        raise ZeroDivisionError("boom")

    async with bastion.open_runtime():
        with pytest.raises(IsolatedFailure, match="crashed: ZeroDivisionError: boom") as info:
            await isolate(crash, timeout=1.0, name="risky")
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert info.value.context["operation"] == "risky"


@pytest.mark.bastion(real_time=False)  # asserts exact virtual-time readings
async def test_a_timeout_is_an_infrastructure_timeout_and_the_task_is_cancelled() -> None:
    cancelled = asyncio.Event()

    async def hang() -> None:
        try:
            await asyncio.Event().wait()  # hangs until cancelled
        finally:
            cancelled.set()

    async with bastion.open_runtime():
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(OperationTimeout) as info:
            await isolate(hang, timeout=2.0)
        assert loop.time() - started == pytest.approx(2.0)
        await asyncio.wait_for(cancelled.wait(), 1.0)
    assert isinstance(info.value, bastion.Timeout)
    assert info.value.retryable
    assert isinstance(info.value.__cause__, CallTimeout)


async def test_expected_errors_pass_through_unchanged() -> None:
    err = BusinessError("declined")

    async def decline() -> None:
        raise err

    async with bastion.open_runtime():
        with pytest.raises(BusinessError) as info:
            await isolate(decline, timeout=1.0)
    assert info.value is err


async def test_needs_a_runtime_and_a_finite_timeout() -> None:
    async def noop() -> None:
        return None

    with pytest.raises(bastion.RuntimeClosed):
        await isolate(noop, timeout=1.0)
    async with bastion.open_runtime():
        for bad in (None, float("inf"), 0, -1):
            with pytest.raises(ValueError, match="timeout"):
                await isolate(noop, timeout=bad)  # type: ignore[arg-type]
