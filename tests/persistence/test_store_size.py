"""The size of a state database stays bounded: outcome retention, freed pages, WAL cap."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

import bastion
from bastion.agents import OutcomeRetention, Task, TaskAgent, act
from bastion.agents._retention import OutcomeIndex
from bastion.persistence import DeleteItem, PutItem, SQLiteStore
from bastion.persistence import _sqlite_schema as schema
from bastion.testing import wait_for


def _echo(task: Task) -> int:
    return int(task.payload)


async def _run_tasks(ref: bastion.ActorRef, first: int, count: int) -> list[str]:
    ids = []
    for n in range(first, first + count):
        accepted = await act(ref, "queue", type="echo", payload=n, id=f"t{n:04d}")
        ids.append(accepted.id)

    async def all_done() -> bool:
        status = await act(ref, "status")
        return bool(status.processed >= first + count and status.queued == 0)

    await wait_for(all_done, timeout=30.0)
    return ids


@pytest.mark.parametrize("writer", ["process", "thread", "loop"])
async def test_retention_drops_old_outcomes_and_keeps_recent_ones(
    tmp_path: Path, writer: str
) -> None:
    async with (
        await SQLiteStore.open(tmp_path / "s.db", writer=writer) as store,  # type: ignore[arg-type]
        bastion.open_runtime() as rt,
    ):
        keep = OutcomeRetention(max_outcomes=5)
        ref = await rt.spawn(
            TaskAgent, name="w", store=store, handlers={"echo": _echo}, retention=keep
        )
        ids = await _run_tasks(ref, 0, 20)
        await act(ref, "status")  # one acknowledged save after the last outcome
        assert [await act(ref, "result", task_id=t) for t in ids[:15]] == [None] * 15
        recent = [await act(ref, "result", task_id=t) for t in ids[15:]]
        assert [o.result for o in recent] == [15, 16, 17, 18, 19]
        assert len((await store.load("agent/w")).collections["done"]) == 5
        await ref.stop()
        # a restart with a smaller limit drops the excess at its next save
        ref = await rt.spawn(
            TaskAgent,
            name="w",
            store=store,
            handlers={"echo": _echo},
            retention=OutcomeRetention(max_outcomes=2),
        )
        await act(ref, "status")
        kept = (await store.load("agent/w")).collections["done"]
        assert [item for item, _ in kept] == ["t0018", "t0019"]
        await ref.stop()


async def test_without_retention_every_outcome_stays_until_forget(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db") as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers={"echo": _echo})
        ids = await _run_tasks(ref, 0, 8)
        assert await act(ref, "forget", task_ids=ids[:3]) == 3
        assert len((await store.load("agent/w")).collections["done"]) == 5
        await ref.stop()


def test_the_index_drops_by_age_and_count_oldest_first() -> None:
    index = OutcomeIndex(OutcomeRetention(max_outcomes=3, max_age=10.0))
    assert index.add("a", 100.0, now=100.0) == []
    assert index.add("b", 101.0, now=101.0) == []
    assert index.add("c", 105.0, now=105.0) == []
    assert index.add("d", 106.0, now=106.0) == ["a"]  # count
    assert index.add("e", 112.0, now=112.0) == ["b"]  # count (and age)
    index.discard("c")  # forgotten by hand
    assert index.add("f", 115.0, now=115.0) == []  # d is 9 s old: kept
    assert index.add("g", 116.5, now=116.5) == ["d"]  # d is 10.5 s old: age
    assert len(index) == 3


def test_an_age_only_policy_keeps_any_number_of_young_outcomes() -> None:
    index = OutcomeIndex(OutcomeRetention(max_age=5.0))
    for n in range(100):
        assert index.add(f"t{n}", 1000.0 + n / 100, now=1000.0 + n / 100) == []
    assert index.add("late", 1006.0, now=1006.0) == [f"t{n}" for n in range(100)]


@pytest.mark.parametrize(
    "bad",
    [{}, {"max_outcomes": 0}, {"max_age": -1.0}, {"max_age": float("inf")}, {"max_outcomes": True}],
)
def test_a_bad_retention_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="max_"):
        OutcomeRetention(**bad)  # type: ignore[arg-type]


def _size(path: Path) -> int:
    return path.stat().st_size


def _file_pages(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        return (
            conn.execute("PRAGMA page_count").fetchone()[0],
            conn.execute("PRAGMA freelist_count").fetchone()[0],
        )


@pytest.mark.parametrize("writer", ["process", "thread", "loop"])
async def test_freed_pages_return_to_the_file_system(tmp_path: Path, writer: str) -> None:
    path = tmp_path / "s.db"
    blob = os.urandom(2048)
    async with await SQLiteStore.open(path, writer=writer) as store:  # type: ignore[arg-type]
        await store.write([PutItem("a", "done", f"{i:05d}", blob) for i in range(2000)])
        await store.write([DeleteItem("a", "done", f"{i:05d}") for i in range(2000)])
        for i in range(schema.CHECKPOINT_EVERY + 1):  # reach a maintenance round
            await store.write([PutItem("a", "small", "k", str(i).encode())])
    pages, free = _file_pages(path)  # 2000 x 2 KiB were written (~2300 pages), then deleted
    assert free <= schema.VACUUM_FREE_PAGES
    assert pages <= free + 20
    assert _size(path) == pages * 4096 < 2_000_000


async def test_the_wal_is_truncated_once_it_passes_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    blob = os.urandom(600_000)
    async with await SQLiteStore.open(path, writer="process") as store:
        for i in range(schema.CHECKPOINT_EVERY):  # ~38 MB of WAL before the first round
            await store.write([PutItem("a", "big", str(i % 4), blob)])
        await store.write([PutItem("a", "small", "k", b"x")])  # acknowledged after the round
        assert _size(Path(f"{path}-wal")) < schema.WAL_TRUNCATE_AT
    assert _size(path) < 4 * 1_000_000  # only the four live blobs remain
