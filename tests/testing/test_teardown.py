"""Closing the toolkit's loops: a task that swallows its cancellation fails, never hangs."""

from __future__ import annotations

import asyncio

import pytest

from bastion.testing import LeakError, run
from tests.testing.test_plugin import run_inner


async def _stubborn(cancels: list[int]) -> None:
    """Swallows every cancellation: asyncio.Runner would wait for it forever."""
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancels.append(1)


def test_run_fails_naming_a_task_that_ignores_its_cancellation() -> None:
    cancels: list[int] = []

    async def main() -> str:
        asyncio.get_running_loop().create_task(_stubborn(cancels), name="stubborn-task")
        await asyncio.sleep(0)  # let it start waiting
        return "done"

    with pytest.raises(LeakError) as info:
        run(main, virtual=True)
    text = str(info.value)
    assert "ignored their cancellation" in text
    assert "task 'stubborn-task'" in text
    assert "_stubborn" in text  # where it is suspended
    assert cancels == [1]


def test_a_failing_run_keeps_its_error_and_notes_the_stuck_task() -> None:
    async def main() -> None:
        asyncio.get_running_loop().create_task(_stubborn([]), name="stubborn-task")
        await asyncio.sleep(0)
        raise KeyError("the test's own failure")

    with pytest.raises(KeyError, match="the test's own failure") as info:
        run(main, virtual=True)
    notes = "\n".join(getattr(info.value, "__notes__", ()))
    assert "task 'stubborn-task'" in notes


def test_a_leftover_task_that_honours_cancellation_is_not_an_error() -> None:
    cancelled: list[int] = []

    async def polite() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(1)
            raise

    async def main() -> str:
        asyncio.get_running_loop().create_task(polite(), name="polite-task")
        await asyncio.sleep(0)
        return "done"

    assert run(main, virtual=True) == "done"
    assert cancelled == [1]


def test_the_plugin_fails_a_test_whose_task_ignores_cancellation(
    pytester: pytest.Pytester,
) -> None:
    result = run_inner(
        pytester,
        """
async def stubborn():
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass

@pytest.mark.bastion(leak_check=False)
async def test_leaves_a_stubborn_task():
    asyncio.get_running_loop().create_task(stubborn(), name="stubborn-task")
    await asyncio.sleep(0)

async def test_after_it():
    await asyncio.sleep(1)
""",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*LeakError*ignored their cancellation*", "*task 'stubborn-task'*"]
    )
