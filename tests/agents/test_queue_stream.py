"""A large queue is restored page by page (SQLite): order, exactly once, crashes mid-stream."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import bastion
from bastion.agents import OutcomeRetention, Task, TaskAgent, _queue_stream, act
from bastion.agents._task_types import TaskQueue
from bastion.persistence import SQLiteStore
from bastion.testing import actor_state, capture_events, crash, wait_for


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 8 tasks after a head of 4: a queue of 50 takes several pages."""
    monkeypatch.setattr(_queue_stream, "HEAD_PAGE", 4)
    monkeypatch.setattr(_queue_stream, "PAGE", 8)


class Ran:
    def __init__(self) -> None:
        self.ids: list[str] = []

    def work(self, task: Task) -> int:
        self.ids.append(task.id)
        return 0


async def _spawn(rt: bastion.Runtime, store: SQLiteStore, ran: Ran, **kw: Any) -> bastion.ActorRef:
    return await rt.spawn(
        TaskAgent, name="w", store=store, handlers={"work": ran.work}, max_queue_size=500, **kw
    )


async def _fill(store: SQLiteStore, specs: list[dict[str, Any]], **kw: Any) -> None:
    """Queue ``specs`` on a paused agent and stop it: the next spawn restores them."""
    async with bastion.open_runtime() as rt:
        ref = await _spawn(rt, store, Ran(), **kw)
        await act(ref, "pause")
        await act(ref, "queue_many", tasks=specs)
        await ref.stop()


def _specs(n: int, deep_high: int | None = None) -> list[dict[str, Any]]:
    return [
        {"type": "work", "id": f"t{i:03d}", "priority": "high" if i == deep_high else "normal"}
        for i in range(n)
    ]


async def _drained(ref: bastion.ActorRef) -> bool:
    s = await act(ref, "status")
    return bool(s.queued == 0 and s.current_task is None)


async def test_a_restored_queue_runs_every_task_once_in_queue_order(db_path: Path) -> None:
    async with await SQLiteStore.open(db_path) as store:
        await _fill(store, _specs(50, deep_high=47))  # a high one, far past the first page
        ran = Ran()
        async with bastion.open_runtime() as rt:
            with capture_events(("bastion", "agent", "state", "restored")) as captured:
                ref = await _spawn(rt, store, ran)
            assert captured.events[0].measurements["items"] == 4  # the head; the rest streams
            status = await act(ref, "status")
            assert status.queued == 50
            assert status.queued_by_priority == {"high": 1, "normal": 49, "low": 0}
            await act(ref, "resume")
            await wait_for(lambda: _drained(ref), timeout=10.0)
            await ref.stop()
    assert ran.ids == ["t047"] + [f"t{i:03d}" for i in range(50) if i != 47]


class HeldOpen:
    """An SQLiteStore whose ``load_head`` waits for ``opened``: messages sent to the agent
    meanwhile are handled before any page after the head is read."""

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner
        self.opened = asyncio.Event()
        self.waiting = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def load_head(self, *args: Any, **kwargs: Any) -> Any:
        self.waiting = True
        await self.opened.wait()
        return await self.inner.load_head(*args, **kwargs)

    # Spelled out, not left to __getattr__: from Python 3.12 on, isinstance() against a
    # runtime-checkable protocol (PagedLoad) looks members up statically.
    async def load_page(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.load_page(*args, **kwargs)

    async def load_items(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.load_items(*args, **kwargs)


async def test_an_unread_task_offered_again_is_not_queued_twice(db_path: Path) -> None:
    async with await SQLiteStore.open(db_path) as sqlite:
        await _fill(sqlite, _specs(50))
        store, ran = HeldOpen(sqlite), Ran()
        async with bastion.open_runtime() as rt, asyncio.TaskGroup() as group:
            spawned = group.create_task(_spawn(rt, store, ran))  # type: ignore[arg-type]
            await wait_for(lambda: store.waiting, timeout=5.0)
            ref = rt.ref("w")  # its name is taken: these wait in its mailbox
            again = group.create_task(act(ref, "queue", type="work", id="t049"))
            fresh = group.create_task(act(ref, "queue", type="work", id="new"))
            store.opened.set()
            await spawned
            assert ((await again).state, (await again).queued) == ("queued", 50)  # in the store
            assert (await fresh).queued == 51
            await act(ref, "resume")
            await wait_for(lambda: _drained(ref), timeout=10.0)
            counts = (await act(ref, "status")).queued_by_priority
            assert counts == {"high": 0, "normal": 0, "low": 0}  # "new" counted once
            await ref.stop()
    assert sorted(ran.ids) == sorted([f"t{i:03d}" for i in range(50)] + ["new"])
    assert ran.ids[-1] == "new"  # after every restored task of its priority


async def test_a_crash_while_the_queue_streams_in_loses_nothing(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_queue_stream, "PAGE", 2)  # the stream outlasts the first tasks
    async with await SQLiteStore.open(db_path) as store:
        await _fill(store, _specs(60))
        ran = Ran()
        async with bastion.open_runtime() as rt:
            sup = await rt.start_supervisor(
                [
                    bastion.ChildSpec(
                        id="w",
                        actor=TaskAgent,
                        name="w",
                        kwargs={
                            "store": store,
                            "handlers": {"work": ran.work},
                            "max_queue_size": 500,
                        },
                    )
                ]
            )
            ref = rt.ref("w")
            await act(ref, "resume")
            await wait_for(lambda: len(ran.ids) >= 10, timeout=10.0)
            agent = actor_state(ref)
            assert isinstance(agent, TaskAgent)
            assert isinstance(agent.queue, TaskQueue)
            assert agent.queue.loaded < 50  # pages still in the store: a crash mid-stream
            await crash(ref, RuntimeError("boom"))
            await wait_for(lambda: _drained(rt.ref("w")), timeout=10.0)
            await sup.stop()
    assert sorted(set(ran.ids)) == [f"t{i:03d}" for i in range(60)]  # none lost
    assert len(ran.ids) - len(set(ran.ids)) <= 1  # only the one running at the crash, again


async def test_retention_indexes_the_outcomes_left_out_of_the_start(db_path: Path) -> None:
    keep = OutcomeRetention(max_outcomes=5)
    async with await SQLiteStore.open(db_path) as store:
        async with bastion.open_runtime() as rt:  # 20 outcomes, kept by a larger limit
            ref = await _spawn(rt, store, Ran(), retention=OutcomeRetention(max_outcomes=100))
            await act(ref, "queue_many", tasks=_specs(20))
            await wait_for(lambda: _drained(ref), timeout=10.0)
            await ref.stop()
        async with bastion.open_runtime() as rt:
            ref = await _spawn(rt, store, Ran(), retention=keep)
            await act(ref, "queue", type="work", id="later")
            await wait_for(lambda: _drained(ref), timeout=10.0)

            def kept() -> int:
                with sqlite3.connect(db_path) as conn:
                    return int(
                        conn.execute(
                            "SELECT count(*) FROM items WHERE ns = 'agent/w' AND coll = 'done'"
                        ).fetchone()[0]
                    )

            await wait_for(lambda: kept() == 5, timeout=10.0)
            assert await act(ref, "result", task_id="later") is not None  # the newest stays
            assert await act(ref, "result", task_id="t000") is None  # the oldest went first
            await ref.stop()


async def test_a_queue_stored_before_orders_existed_is_restored_whole(db_path: Path) -> None:
    async with await SQLiteStore.open(db_path) as store:
        await _fill(store, _specs(30, deep_high=25))
    with sqlite3.connect(db_path) as conn:  # what schema 1 left: no column, no index
        conn.execute("DROP INDEX items_ord")
        conn.execute("ALTER TABLE items DROP COLUMN ord")
        conn.execute("PRAGMA user_version=1")
    conn.close()
    ran = Ran()
    async with await SQLiteStore.open(db_path) as store, bastion.open_runtime() as rt:
        ref = await _spawn(rt, store, ran)
        await act(ref, "resume")
        await wait_for(lambda: _drained(ref), timeout=10.0)
        await ref.stop()
    assert ran.ids == ["t025"] + [f"t{i:03d}" for i in range(30) if i != 25]
