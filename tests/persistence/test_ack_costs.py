"""What the store costs per task and per acknowledgement: writes shared, not one per task."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import bastion
from bastion.agents import Task, TaskAgent, act
from bastion.persistence import Put, PutItem, SQLiteStore, VersionConflict
from bastion.persistence._sqlite_options import WriterKind
from bastion.testing import actor_state, wait_for


async def test_a_batch_of_plain_tasks_is_saved_in_one_write_on_sqlite(tmp_path: Path) -> None:
    ran: list[int] = []

    def note(task: Task) -> int:
        ran.append(int(task.payload))
        return 0

    async with (
        await SQLiteStore.open(tmp_path / "s.db") as store,
        bastion.open_runtime() as rt,
    ):
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers={"note": note})
        await act(ref, "pause")
        await act(ref, "queue_many", tasks=[{"type": "note", "payload": n} for n in range(60)])
        before = store.statistics().batches
        await act(ref, "resume")
        await wait_for(lambda: len(ran) == 60, timeout=10.0)
        await ref.stop()  # its last save
        assert ran == list(range(60))
        # one write per batch (the resume, the batch, the stop), not one per task
        assert store.statistics().batches - before <= 4
        outcomes = (await store.load("agent/w")).collections["done"]
        assert len(outcomes) == 60


async def test_submit_then_answers_in_the_pass_that_resolves_the_group(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db") as store:
        seen: list[object] = []
        futures = []
        for n in range(3):
            fut = await store.submit_then([PutItem("a", "q", f"{n}", b"x")], seen.append)
            fut.add_done_callback(lambda f: seen.append("a future's callback"))
            futures.append(fut)
        await asyncio.wait_for(asyncio.gather(*futures), timeout=10.0)
        # the three callbacks ran before any loop turn could run a future's callback
        assert seen == [None, None, None, *["a future's callback"] * 3]
        assert store.statistics().commits == 1
        assert len((await store.load("a")).collections["q"]) == 3


@pytest.mark.parametrize("writer", ["loop", "process", "thread"])
async def test_a_failed_write_reaches_submit_then_with_its_error_in_submission_order(
    tmp_path: Path, writer: WriterKind
) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db", writer=writer) as store:
        seen: list[BaseException | None] = []
        ok = await store.submit_then([Put("a", "k", b"1")], seen.append)
        stale = await store.submit_then([Put("a", "k", b"2", expected_version=7)], seen.append)
        await asyncio.wait_for(ok, timeout=10.0)
        with pytest.raises(VersionConflict):
            await asyncio.wait_for(stale, timeout=10.0)
        assert seen[0] is None
        assert isinstance(seen[1], VersionConflict)
        record = await store.read("a", "k")
        assert record is not None
        assert record.data == b"1"


async def test_a_deferred_submit_then_waits_for_the_flush_interval(tmp_path: Path) -> None:
    # A deferred save hands its callback to the store too (no done-callback per write):
    # it joins a later group instead of starting one.
    path = tmp_path / "s.db"
    async with await SQLiteStore.open(path, flush_interval=5.0) as store:
        seen: list[BaseException | None] = []
        deferred = await store.submit_then([Put("a", "k", b"1")], seen.append, defer=True)
        await asyncio.sleep(0.1)  # noqa: BAS601 -- virtual time passes, short of the flush interval
        assert not deferred.done()
        assert seen == []
        stale = await store.submit_then(
            [Put("a", "k", b"2", expected_version=7)], seen.append, defer=True
        )
        await store.write([Put("b", "k", b"1")])  # a waited-for write takes them along
        assert deferred.done()
        assert stale.done()
        assert seen[0] is None
        assert isinstance(seen[1], VersionConflict)


async def test_a_deferred_agent_save_on_sqlite_adds_no_callback_to_its_write(
    tmp_path: Path,
) -> None:
    from bastion.agents._persistent import _retrieve

    async with (
        await SQLiteStore.open(tmp_path / "s.db") as store,
        bastion.open_runtime() as rt,
    ):
        ref = await rt.spawn(TaskAgent, name="w", store=store, durability="memory")
        await act(ref, "pause")  # durability "memory": saved without waiting
        agent = actor_state(ref)
        last = agent._last_write
        assert last is not None
        assert not last.done()
        assert last.remove_done_callback(_retrieve) == 0  # settled by the store's pass
        await ref.stop()


async def test_an_acknowledged_action_answers_without_a_reply_handle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The framework defers the call's own future (no handle object per acknowledgement).
    def refused(self: bastion.Actor) -> bastion.ReplyHandle:
        raise AssertionError("a ReplyHandle per acknowledged action")

    monkeypatch.setattr(bastion.Actor, "reply_handle", refused)
    async with (
        await SQLiteStore.open(tmp_path / "s.db") as store,
        bastion.open_runtime() as rt,
    ):
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers={"note": int})
        assert await act(ref, "pause") == "paused"
        accepted = await act(ref, "queue", type="note", payload=1)
        assert accepted.state == "queued"
        assert rt.statistics().late_replies == 0
        await ref.stop()
