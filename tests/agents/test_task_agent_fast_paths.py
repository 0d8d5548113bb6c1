"""TaskAgent fast paths (issue 15): counted queue, plain handlers run in the agent,
the attempt on record in the state record; each keeps the guarantees it replaced."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import bastion
from bastion.agents import QueuedTask, Task, TaskAgent, act
from bastion.agents._task_types import PRIORITIES, TaskQueue
from bastion.persistence import MemoryStore
from bastion.testing import crash, wait_for
from tests.agents.conftest import open_store

_NAMES = {level: name for name, level in PRIORITIES.items()}


def _recount(queue: TaskQueue) -> dict[str, int]:
    counts = collections.Counter(_NAMES[t.priority] for t in queue.values())
    return {name: counts.get(name, 0) for name in PRIORITIES}


_ops = st.lists(
    st.tuples(
        st.sampled_from(["set", "del", "pop", "load", "clear"]),
        st.integers(0, 7),
        st.integers(0, 2),
    ),
    max_size=60,
)


@given(_ops)
def test_the_queue_counts_stay_equal_to_a_recount_under_any_changes(
    ops: list[tuple[str, int, int]],
) -> None:
    queue = TaskQueue()
    for op, key, level in ops:
        task_id = f"t{key}"
        if op == "set":
            queue[task_id] = QueuedTask(id=task_id, type="x", priority=level)
        elif op in ("del", "pop") and task_id in queue:
            if op == "del":
                del queue[task_id]
            else:
                queue.pop(task_id)
        elif op == "load":
            queue.load(
                {
                    f"l{i}": QueuedTask(id=f"l{i}", type="x", priority=(i + level) % 3)
                    for i in range(key)
                }
            )
        elif op == "clear":
            queue.clear()
        assert queue.by_priority() == _recount(queue)


def _restarted(rt: bastion.Runtime, old: bastion.ActorRef) -> bool:
    now = rt.whereis("w")
    return now is not None and now != old and now.is_alive


async def _crash_and_check(rt: bastion.Runtime, expected: dict[str, int]) -> None:
    current = rt.whereis("w")
    assert current is not None
    await crash(current)
    await wait_for(lambda: _restarted(rt, current), timeout=5.0)
    status = await act(rt.ref("w"), "status")
    assert status.queued_by_priority == expected
    assert status.queued == sum(expected.values())


async def _run_scenario(levels: list[str], crashes: int) -> None:
    gate = asyncio.Event()
    runs: list[int] = []

    async def block(task: Task) -> str:
        runs.append(task.attempt)
        await gate.wait()
        return "released"

    def plain(task: Task) -> int:
        return 1

    async with bastion.open_runtime() as rt:
        spec = bastion.ChildSpec(
            id="w",
            actor=TaskAgent,
            name="w",
            kwargs={
                "store": MemoryStore(),
                "handlers": {"block": block, "plain": plain},
                "max_attempts": crashes + 2,
            },
        )
        sup = await rt.start_supervisor([spec], intensity=bastion.RestartIntensity(10, 5.0))
        ref = rt.ref("w")
        await act(ref, "pause")
        await act(ref, "queue", type="block", id="first", priority="high")
        await act(ref, "queue_many", tasks=[{"type": "plain", "priority": p} for p in levels])
        expected = collections.Counter(["high", *levels])
        counts = {name: expected.get(name, 0) for name in PRIORITIES}
        assert (await act(ref, "status")).queued_by_priority == counts
        await act(ref, "resume")
        for n in range(crashes):  # "first" is in flight each time: it stays queued
            await wait_for(lambda n=n: len(runs) == n + 1, timeout=5.0)
            await _crash_and_check(rt, counts)
        gate.set()

        async def drained() -> bool:
            s = await act(ref, "status")
            return bool(s.queued == 0 and s.current_task is None)

        await wait_for(drained, timeout=5.0)
        status = await act(ref, "status")
        assert status.queued_by_priority == {name: 0 for name in PRIORITIES}
        assert status.processed == len(levels) + 1
        first = await act(ref, "result", task_id="first")
        assert first.attempts == crashes + 1  # each crash counted one attempt
        await sup.stop()


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(list(PRIORITIES)), max_size=12), st.integers(0, 2))
def test_status_counts_stay_right_across_crashes_and_restores(
    levels: list[str], crashes: int
) -> None:
    asyncio.run(_run_scenario(levels, crashes))


async def test_an_agent_running_plain_handlers_still_answers_between_tasks() -> None:
    ran: list[str] = []

    def plain(task: Task) -> None:
        ran.append(task.id)

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(TaskAgent, name="w", store=MemoryStore(), handlers={"p": plain})
        await act(ref, "pause")
        await act(ref, "queue_many", tasks=[{"type": "p"} for _ in range(50)])
        await act(ref, "resume")
        status = await act(ref, "status")  # behind at most the task being started
        assert status.processed <= 1
        assert status.queued >= 49

        async def drained() -> bool:
            return bool((await act(ref, "status")).processed == 50)

        await wait_for(drained, timeout=5.0)
        assert len(ran) == 50


async def test_a_plain_handler_that_returns_an_awaitable_is_awaited_under_the_timeout() -> None:
    never = asyncio.Event()

    async def work(stuck: bool) -> str:
        if stuck:
            await never.wait()  # held past the timeout
        return "late"

    def slow(task: Task) -> Any:
        return work(task.payload)  # returns an awaitable, but is not an async def

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(
            TaskAgent, name="w", store=MemoryStore(), handlers={"slow": slow}, task_timeout=1.0
        )
        await act(ref, "queue", type="slow", id="ok", payload=False)
        await act(ref, "queue", type="slow", id="late", payload=True)

        async def both() -> bool:
            s = await act(ref, "status")
            return bool(s.processed + s.failed == 2)

        await wait_for(both, timeout=10.0)
        ok = await act(ref, "result", task_id="ok")
        late = await act(ref, "result", task_id="late")
        assert (ok.status, ok.result) == ("completed", "late")
        assert (late.status, late.error) == ("failed", "timed out after 1.0s")


async def test_an_attempt_on_record_survives_a_restart_from_the_store(db_path: Path) -> None:
    gate = asyncio.Event()
    runs: list[int] = []

    async def block(task: Task) -> str:
        runs.append(task.attempt)
        await gate.wait()
        return "done"

    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers={"b": block})
        await act(ref, "queue", type="b", id="t")
        await wait_for(lambda: runs == [1], timeout=5.0)
        await crash(ref)
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers={"b": block})
        await wait_for(lambda: runs == [1, 2], timeout=5.0)
        gate.set()

        async def recorded() -> bool:
            return await act(ref, "result", task_id="t") is not None

        await wait_for(recorded, timeout=5.0)
        assert (await act(ref, "result", task_id="t")).attempts == 2
