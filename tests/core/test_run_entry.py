"""``bastion.run(async_fn, *args)``: trio's shape, and a teardown that always ends."""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any

import pytest

import bastion
from tests.core.conftest import Echo


async def _add_with_an_actor(a: int, b: int) -> int:
    runtime = bastion.current_runtime()
    ref = await runtime.spawn(Echo)
    result: int = await ref.call(a + b)
    return result


def test_run_passes_the_arguments_and_no_runtime() -> None:
    assert bastion.run(_add_with_an_actor, 2, 3, handle_signals=False) == 5


def test_run_passes_runtime_options_to_the_runtime() -> None:
    async def main() -> float:
        return bastion.current_runtime().call_timeout

    assert bastion.run(main, call_timeout=0.25, handle_signals=False) == 0.25


def test_run_refuses_a_coroutine_with_a_teaching_error() -> None:
    coroutine = _add_with_an_actor(1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the refused coroutine is closed, not leaked
        with pytest.raises(TypeError, match=r"bastion.run\(main, arg\)"):
            bastion.run(coroutine)  # type: ignore[arg-type]


def test_run_refuses_what_is_not_callable() -> None:
    with pytest.raises(TypeError, match="async function"):
        bastion.run(42)  # type: ignore[arg-type]


def test_run_returns_although_a_leftover_task_ignores_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cancels: list[int] = []

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancels.append(1)

    async def main() -> str:
        asyncio.get_running_loop().create_task(stubborn(), name="stubborn")
        await asyncio.sleep(0)  # let it start waiting
        return "done"

    with caplog.at_level(logging.ERROR, logger="bastion.runtime"):
        result: Any = bastion.run(main, call_timeout=0.05, handle_signals=False)
    assert result == "done"
    assert cancels == [1]
    assert "abandoning 1 task(s) that ignored cancellation" in caplog.text
    assert "stubborn" in caplog.text
