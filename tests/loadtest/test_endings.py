"""After a run -- normal, failed, cancelled, interrupted with Ctrl-C -- nothing remains.

The async tests end under the toolkit's leak check (actors, supervised tasks, timers,
asyncio tasks, threads); the Ctrl-C test runs ``bastion.run`` for real, sends SIGINT
from inside a scenario and checks the same with the toolkit's leak functions.
"""

from __future__ import annotations

import asyncio
import signal
import threading

import pytest

import bastion
import bastion.testing
from bastion import loadtest as lt
from bastion.testing._leaks import runtime_leaks, task_leaks


class Store(bastion.Actor):
    def __init__(self) -> None:
        self.items = 0

    async def handle_call(self, message: str) -> int:
        await asyncio.sleep(0.01)  # noqa: BAS601 -- simulated service time, virtual
        self.items += 1
        return self.items


async def leaks_in(rt: bastion.Runtime, owned: list[bastion.ActorRef]) -> list[str]:
    """What the run left behind, once the test's own actors are stopped."""
    await rt.wait_idle(timeout=5.0)
    for ref in owned:
        await ref.stop()
    current = asyncio.current_task()
    return runtime_leaks(rt) + task_leaks(asyncio.get_running_loop(), current)


async def test_a_normal_run_leaves_nothing(rt: bastion.Runtime) -> None:
    store = await rt.spawn(Store, name="store")
    result = await lt.run(
        [lt.call_actor("store", "put")],
        load=lt.OpenModel(rate=200, max_in_flight=50),
        duration=3.0,
        warmup=1.0,
        runtime=rt,
    )
    assert result.passed
    assert result.overall.ok > 0
    assert await leaks_in(rt, [store]) == []


async def test_a_failed_run_leaves_nothing(rt: bastion.Runtime) -> None:
    async def crashes(user: lt.User) -> None:
        raise RuntimeError("the system under test is down")

    async def hangs(user: lt.User) -> None:
        await asyncio.Event().wait()

    result = await lt.run(
        [lt.Scenario("crashes", crashes), lt.Scenario("hangs", hangs)],
        load=lt.ClosedModel(users=20, ramp_up=1.0),
        duration=5.0,
        timeout=1.0,
        thresholds=["error_rate < 1%"],
        runtime=rt,
    )
    assert not result.passed
    assert result.overall.ok == 0
    assert result.overall.failed > 0
    assert await leaks_in(rt, []) == []


async def test_a_setup_that_fails_leaves_nothing(rt: bastion.Runtime) -> None:
    async def setup(runtime: bastion.Runtime) -> None:
        raise bastion.StartFailed("the system under test did not start")

    async def noop(user: lt.User) -> None:
        return None

    with pytest.raises(bastion.StartFailed):
        await lt.run(
            lt.LoadTest([lt.Scenario("noop", noop)], setup=setup),
            load=lt.ClosedModel(users=2),
            duration=1.0,
            runtime=rt,
        )
    assert await leaks_in(rt, []) == []


async def test_a_cancelled_run_leaves_nothing(rt: bastion.Runtime) -> None:
    torn_down: list[bool] = []

    async def teardown(runtime: bastion.Runtime, context: object) -> None:
        torn_down.append(True)

    store = await rt.spawn(Store, name="store")
    test = lt.LoadTest([lt.call_actor("store", "put")], teardown=teardown)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(3.0):  # cancels the run in the middle of its window
            await lt.run(test, load=lt.ClosedModel(users=50), duration=60.0, runtime=rt)
    assert torn_down == [True]
    assert await leaks_in(rt, [store]) == []


def test_ctrl_c_leaves_nothing() -> None:
    seen: dict[str, object] = {}
    threads_before = set(threading.enumerate())

    async def main() -> None:
        rt = bastion.current_runtime()
        count = 0

        async def interrupting(user: lt.User) -> None:
            nonlocal count
            count += 1
            await asyncio.sleep(0.001)  # noqa: BAS601 -- real time here: a short service time
            if count == 200:
                signal.raise_signal(signal.SIGINT)  # what Ctrl-C does

        try:
            await lt.run(interrupting, load=lt.ClosedModel(users=10), duration=60.0, runtime=rt)
        finally:  # run() has unwound: what is left of it?
            seen["leaks"] = runtime_leaks(rt) + task_leaks(
                asyncio.get_running_loop(), asyncio.current_task()
            )
            seen["count"] = count

    assert bastion.run(main) is None  # bastion.run: SIGINT cancels main and returns None
    assert seen["leaks"] == []
    assert isinstance(seen["count"], int)
    assert seen["count"] >= 200
    assert [t for t in threading.enumerate() if t not in threads_before] == []


def test_what_a_scenario_leaks_is_stopped_and_counted() -> None:
    class Orphan(bastion.Actor):
        def handle_call(self, message: object) -> str:
            return "still here"

    forgotten: list[asyncio.Task[bool]] = []  # referenced, so asyncio cannot drop them

    async def leaky(user: lt.User) -> None:
        await user.runtime.spawn(Orphan)  # never stopped
        forgotten.append(
            asyncio.get_running_loop().create_task(  # noqa: BAS201 -- the leak under test
                asyncio.Event().wait()
            )
        )

    async def main() -> lt.LoadTestResult:
        return await lt.run(leaky, load=lt.ClosedModel(users=2), iterations=6)

    threads_before = set(threading.enumerate())
    result = bastion.testing.run(main, virtual=True)  # fails on anything left pending
    assert result.leaked == {"actors": 6, "tasks": 6}
    assert result.overall.ok == 6
    assert all(task.cancelled() for task in forgotten)
    assert [t for t in threading.enumerate() if t not in threads_before] == []
