"""TaskAgent statistics say when the task waiting longest was queued (issue 11, item 1),
from the queue's order of arrival: O(1), whatever the queue's size and priorities."""

from __future__ import annotations

import asyncio
import time

from hypothesis import given
from hypothesis import strategies as st

import bastion
from bastion.agents import QueuedTask, Task, TaskAgent, act
from bastion.agents._task_types import TaskQueue
from bastion.persistence import MemoryStore
from bastion.testing import wait_for

_ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "update", "del", "load", "page", "clear", "oldest"]),
        st.integers(0, 9),
        st.integers(0, 2),
    ),
    max_size=80,
)


def _expected(queue: TaskQueue, exclude: str | None) -> QueuedTask | None:
    waiting = [t for t in queue.values() if t.id != exclude]
    return min(waiting, key=lambda t: t.seq) if waiting else None


@given(_ops, st.integers(0, 9))
def test_oldest_is_the_lowest_seq_not_running_under_any_changes(
    ops: list[tuple[str, int, int]], running: int
) -> None:
    queue, seq = TaskQueue(), 0
    exclude = f"t{running}"
    for op, key, level in ops:
        task_id = f"t{key}"
        if op == "add":  # a new arrival, or the same id queued again after it finished
            seq += 1
            queue[task_id] = QueuedTask(id=task_id, type="x", priority=level, seq=seq)
        elif op == "update" and task_id in queue:  # e.g. its attempt counted: same seq
            old = queue[task_id]
            queue[task_id] = QueuedTask(id=task_id, type="x", priority=old.priority,
                                        seq=old.seq, attempts=old.attempts + 1)  # fmt: skip
        elif op == "del" and task_id in queue:
            del queue[task_id]
        elif op == "load":  # a restore: the store hands items back in key order
            seq += key
            items = {f"t{i}": QueuedTask(id=f"t{i}", type="x", seq=seq - i) for i in range(key)}
            queue.load(items)
        elif op == "page" and task_id not in queue:  # a page of a restore: by priority
            old = QueuedTask(id=task_id, type="x", priority=level, seq=-key)
            queue.add_restored({task_id: old})
        elif op == "clear":
            queue.clear()
        assert queue.oldest(exclude) is _expected(queue, exclude)
        assert queue.oldest() is _expected(queue, None)


def test_the_order_of_arrival_stays_bounded_when_newer_tasks_overtake_an_old_one() -> None:
    queue = TaskQueue()
    queue["old"] = QueuedTask(id="old", type="x", priority=2, seq=1)
    for seq in range(2, 10_002):  # high-priority tasks come and go while "old" waits
        queue[f"h{seq}"] = QueuedTask(id=f"h{seq}", type="x", priority=0, seq=seq)
        del queue[f"h{seq}"]
        assert queue.oldest() is queue["old"]
    assert len(queue._arrivals) <= 2 * len(queue) + 65


async def test_status_says_when_the_oldest_waiting_task_was_queued() -> None:
    gate = asyncio.Event()

    async def block(task: Task) -> str:
        await gate.wait()
        return "released"

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(
            TaskAgent,
            name="w",
            store=MemoryStore(),
            handlers={"block": block, "plain": lambda t: 1},
        )
        assert (await act(ref, "status")).oldest_queued_at is None
        await act(ref, "pause")
        before = time.time()
        await act(ref, "queue", type="block", id="first", priority="low")
        await act(ref, "queue", type="plain", id="second", priority="high")
        paused = await act(ref, "status")
        assert paused.oldest_queued_at is not None
        assert before <= paused.oldest_queued_at <= time.time()
        await act(ref, "resume")  # "second" (high) runs first, then "first" blocks

        async def running_first() -> bool:
            return bool((await act(ref, "status")).current_task == "first")

        await wait_for(running_first, timeout=5.0)
        assert (await act(ref, "status")).oldest_queued_at is None  # it runs: nothing waits
        await act(ref, "queue", type="plain", id="third")
        assert (await act(ref, "status")).oldest_queued_at is not None
        gate.set()

        async def drained() -> bool:
            return bool((await act(ref, "status")).queued == 0)

        await wait_for(drained, timeout=5.0)
        assert (await act(ref, "status")).oldest_queued_at is None
        await ref.stop()
