"""SQLite-specific behaviour: durability across reopen, group commit, bounds, bad files."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path

import pytest

from bastion.persistence import Put, PutItem, SQLiteStore, StoreError, StoreTimeout


async def test_committed_state_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with await SQLiteStore.open(path) as store:
        await store.write([Put("a", "k", b"v"), PutItem("a", "q", "1", b"x")])
    async with await SQLiteStore.open(path) as store:
        data = await store.load("a")
        assert data.records["k"].data == b"v"
        assert data.records["k"].version == 1
        assert data.collections["q"] == [("1", b"x")]


async def test_close_commits_batches_that_were_only_submitted(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = await SQLiteStore.open(path)
    for i in range(100):
        await store.submit([PutItem("a", "q", f"{i:03d}", b"x")])
    await store.close()
    async with await SQLiteStore.open(path) as store:
        assert len((await store.load("a")).collections["q"]) == 100


async def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db"):
        with sqlite3.connect(tmp_path / "s.db") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def _hold_writer(store: SQLiteStore) -> tuple[threading.Event, asyncio.Task[object]]:
    """Park the writer thread on a gate so that submitted batches pile up."""
    gate = threading.Event()
    task = asyncio.ensure_future(store._run(lambda conn: gate.wait(10.0)))
    await asyncio.sleep(0)  # let the job reach the writer queue (a yield, not a wait)
    return gate, task


async def test_batches_from_many_writers_share_one_group_commit(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db") as store:
        gate, parked = await _hold_writer(store)
        futures = [await store.submit([Put(f"agent-{i}", "state", b"s")]) for i in range(200)]
        before = store.statistics().commits
        gate.set()
        await parked
        await asyncio.gather(*futures)
        stats = store.statistics()
        assert stats.commits - before == 1
        assert stats.max_group == 200


async def test_sync_batches_are_accepted(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db") as store:
        await store.write([Put("a", "k", b"1")], sync=True)
        await store.write([Put("a", "k", b"2")])
        rec = await store.read("a", "k")
        assert rec is not None
        assert rec.data == b"2"


async def test_a_full_queue_makes_submit_wait_then_time_out(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db", max_pending_ops=3,
                                      op_timeout=0.05) as store:
        gate, parked = await _hold_writer(store)
        first = await store.submit([Put("a", "k", b"1"), Put("a", "j", b"1")])
        with pytest.raises(StoreTimeout):
            await store.submit([Put("a", "x", b"1")])
        assert store.statistics().pending_ops == 3
        gate.set()
        with contextlib.suppress(StoreTimeout):  # the parked read has the same short deadline
            await parked
        await first
        await store.write([Put("a", "x", b"1")])  # space again once the group committed


async def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="sqlite"):
        await SQLiteStore.open(path)


async def test_an_unknown_store_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with await SQLiteStore.open(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'format'")
    with pytest.raises(StoreError, match="format"):
        await SQLiteStore.open(path)


@pytest.mark.parametrize("kwargs", [{"max_pending_ops": 0}, {"op_timeout": 0.0},
                                    {"op_timeout": float("inf")}])
def test_bad_limits_are_rejected(tmp_path: Path, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        SQLiteStore(tmp_path / "s.db", **kwargs)  # type: ignore[arg-type]
