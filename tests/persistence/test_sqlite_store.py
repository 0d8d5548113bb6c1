"""SQLite-specific behaviour: durability across reopen, group commit, bounds, bad files."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bastion.persistence import (
    Delete,
    DeleteItem,
    Put,
    PutItem,
    Record,
    SQLiteStore,
    StoreError,
    VersionConflict,
)
from bastion.persistence._sqlite import WriterKind
from bastion.testing import VirtualClock


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


async def test_batches_from_many_writers_share_one_group_commit(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db") as store:
        before = store.statistics().commits
        futures = [await store.submit([Put(f"agent-{i}", "state", b"s")]) for i in range(200)]
        await asyncio.gather(*futures)
        stats = store.statistics()
        assert stats.commits - before == 1
        assert stats.max_group == 200


async def test_a_deferred_batch_waits_for_the_flush_interval(
    tmp_path: Path, clock: VirtualClock
) -> None:
    # Not `loop.time() - start >= 0.25` after the commit: when the writer's ack is ready
    # at the loop's next poll (the parent descheduled under load), no real time flows,
    # and for some start values `(start + 0.25) - start` rounds to 0.24999999999999994.
    async with await SQLiteStore.open(tmp_path / "s.db", flush_interval=0.25) as store:
        before = store.statistics().commits
        deferred = await store.submit([Put("a", "k", b"1")], defer=True)
        await clock.advance(0.2)  # nobody waits, so nothing is committed yet
        assert not deferred.done()
        assert store.statistics().commits == before
        await asyncio.wait_for(deferred, timeout=5.0)  # committed by the interval timer
        assert store.statistics().commits == before + 1
        rec = await store.read("a", "k")
        assert rec is not None
        assert rec.version == 1


async def test_a_waited_batch_commits_the_deferred_ones_before_it(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db", flush_interval=10.0) as store:
        deferred = [
            await store.submit([PutItem("a", "q", str(i), b"x")], defer=True) for i in range(10)
        ]
        before = store.statistics().commits
        await store.write([Put("a", "k", b"1")])
        assert all(f.done() for f in deferred)
        assert store.statistics().commits - before == 1


async def test_a_read_sees_deferred_batches(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db", flush_interval=10.0) as store:
        await store.submit([PutItem("a", "q", "1", b"x")], defer=True)
        assert await store.read_item("a", "q", "1") == b"x"


async def test_sync_batches_are_accepted(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db") as store:
        await store.write([Put("a", "k", b"1")], sync=True)
        await store.write([Put("a", "k", b"2")])
        rec = await store.read("a", "k")
        assert rec is not None
        assert rec.data == b"2"


@pytest.mark.parametrize("writer", ["loop", "thread", "process"])
async def test_a_full_queue_is_committed_at_once(tmp_path: Path, writer: WriterKind) -> None:
    async with await SQLiteStore.open(
        tmp_path / "s.db", max_pending_ops=3, flush_interval=10.0, writer=writer
    ) as store:
        first = await store.submit([Put("a", "k", b"1"), Put("a", "j", b"1")], defer=True)
        assert store.statistics().pending_ops == 2
        second = await store.submit([Put("a", "x", b"1")], defer=True)
        assert store.statistics().pending_ops == 0  # handed to the writer, not waiting
        if writer == "loop":
            assert first.done()
            assert second.done()
        # well before the 10 s flush interval (the test loop's clock is virtual):
        async with asyncio.timeout(1.0):
            await asyncio.gather(first, second)


async def test_compare_and_set_sees_writes_of_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with await SQLiteStore.open(path) as store:
        await store.write([Put("a", "k", b"1")])
        with sqlite3.connect(path) as other:  # another process or node writing the file
            other.execute("UPDATE records SET version = 7 WHERE ns = 'a' AND key = 'k'")
        with pytest.raises(VersionConflict, match="found 7"):
            await store.write([Put("a", "k", b"2", expected_version=1)])
        result = await store.write([Put("a", "k", b"2", expected_version=7)])
        assert result.versions == {("a", "k"): 8}


async def test_compare_and_set_after_drop_and_quarantine(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db") as store:
        await store.write([Put("a", "k", b"1")])
        await store.drop("a")
        assert (await store.write([Put("a", "k", b"1", expected_version=0)])).versions == {
            ("a", "k"): 1
        }
        await store.quarantine("a", "test")
        assert (await store.write([Put("a", "k", b"1", expected_version=0)])).versions == {
            ("a", "k"): 1
        }


async def test_a_group_keeps_each_batch_atomic_and_ordered(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db") as store:
        ok1 = await store.submit([Put("a", "k", b"1"), PutItem("a", "q", "1", b"x")])
        bad = await store.submit(
            [Put("a", "k", b"bad", expected_version=5), DeleteItem("a", "q", "1")]
        )
        ok2 = await store.submit(
            [
                Put("a", "k", b"2", expected_version=1),
                DeleteItem("a", "q", "1"),
                PutItem("a", "q", "2", b"y"),
            ]
        )
        assert (await ok1).versions == {("a", "k"): 1}
        with pytest.raises(VersionConflict):
            await bad
        assert (await ok2).versions == {("a", "k"): 2}
        data = await store.load("a")
        assert data.records["k"] == Record(b"2", 2)
        assert data.collections["q"] == [("2", b"y")]


async def test_a_group_writes_the_last_state_of_every_row(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db") as store:
        await store.write(
            [
                PutItem("a", "q", "gone", b"0"),
                PutItem("a", "q", "back", b"0"),
                Put("a", "r1", b"0"),
                Put("a", "r2", b"0"),
            ]
        )
        futures = [
            await store.submit(
                [
                    PutItem("a", "q", "new", b"1"),
                    DeleteItem("a", "q", "gone"),
                    DeleteItem("a", "q", "back"),
                    Delete("a", "r1"),
                ]
            ),
            await store.submit(
                [
                    DeleteItem("a", "q", "new"),
                    PutItem("a", "q", "gone", b"2"),
                    Put("a", "r1", b"1"),
                    Delete("a", "r2"),
                ]
            ),
            await store.submit(
                [
                    DeleteItem("a", "q", "gone"),
                    PutItem("a", "q", "back", b"3"),
                    Put("a", "r2", b"2", expected_version=0),
                ]
            ),
        ]
        results = await asyncio.gather(*futures)
        assert store.statistics().commits == 2  # the three batches shared one group
        assert results[2].versions == {("a", "r2"): 1}
        data = await store.load("a")
        assert data.collections == {"q": [("back", b"3")]}
        assert data.records == {"r1": Record(b"1", 1), "r2": Record(b"2", 1)}


async def test_a_batch_with_an_unknown_operation_is_rejected_alone(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db") as store:
        bad = await store.submit([PutItem("a", "q", "1", b"x"), "not an op"])  # type: ignore[list-item]
        ok = await store.submit([PutItem("a", "q", "2", b"y")])
        with pytest.raises(StoreError, match="not a store operation"):
            await bad
        await ok
        assert (await store.load("a")).collections == {"q": [("2", b"y")]}


async def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a Bastion state database"):
        await SQLiteStore.open(path)


async def test_an_unknown_store_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with await SQLiteStore.open(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'format'")
    with pytest.raises(StoreError, match="format"):
        await SQLiteStore.open(path)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_pending_ops": 0},
        {"op_timeout": 0.0},
        {"op_timeout": float("inf")},
        {"flush_interval": 0.0},
        {"flush_interval": float("nan")},
    ],
)
def test_bad_limits_are_rejected(tmp_path: Path, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        SQLiteStore(tmp_path / "s.db", **kwargs)  # type: ignore[arg-type]


async def test_a_strict_batch_is_acknowledged_after_the_wal_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bastion.persistence import _sqlite_writer

    synced: list[bool] = []
    real = _sqlite_writer.Writer.sync_wal

    def sync_wal(self: _sqlite_writer.Writer) -> None:
        real(self)
        synced.append(True)

    monkeypatch.setattr(_sqlite_writer.Writer, "sync_wal", sync_wal)
    async with await SQLiteStore.open(tmp_path / "s.db", writer="loop") as store:
        await store.write([Put("a", "k", b"1")])
        assert synced == []  # batched: no fsync
        await store.write([Put("a", "k", b"2")], sync=True)
        assert synced == [True]
