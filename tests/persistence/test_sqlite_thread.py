"""The writer thread (``writer="thread"``): a group's rows go to SQLite as one statement per
table, off the event loop's thread, with the same results as row by row."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bastion.persistence import (
    DeleteItem,
    Put,
    PutItem,
    SQLiteStore,
    VersionConflict,
    WriteResult,
)
from bastion.persistence._sqlite_thread import group_payload
from bastion.persistence._sqlite_writer import Job, Writer

#: Row data a JSON array carries as text, and data it cannot (written row by row).
TEXT_DATA = [b'{"a":"\\u0000 \\"q\\" \xc3\xa9 \xf0\x9f\x98\x80"}', b"", b"plain", b"123"]
BINARY_DATA = [b"\xff\xfe\x00", b"a\x00b", b"\xc3"]


async def _in_one_group(store: SQLiteStore, batches: list[list[object]]) -> list[object]:
    """Submit every batch before the loop turns (one group), then gather their results."""
    futures = [await store.submit(ops) for ops in batches]  # type: ignore[arg-type]
    return await asyncio.gather(*futures, return_exceptions=True)


@pytest.mark.parametrize("data", [TEXT_DATA, BINARY_DATA, TEXT_DATA + BINARY_DATA])
async def test_row_data_comes_back_byte_for_byte(tmp_path: Path, data: list[bytes]) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db", writer="thread") as store:
        batches: list[list[object]] = [
            [Put("a", f"r{i}", d), PutItem("a", "c", f"i{i}", d, order=(1 << 60) + i)]
            for i, d in enumerate(data)
        ]
        assert all(isinstance(r, WriteResult) for r in await _in_one_group(store, batches))
        for i, d in enumerate(data):
            record = await store.read("a", f"r{i}")
            assert record is not None
            assert (record.data, record.version) == (d, 1)
            assert await store.read_item("a", "c", f"i{i}") == d
    with sqlite3.connect(tmp_path / "s.db") as conn:
        kinds = conn.execute("SELECT DISTINCT typeof(data), typeof(ord) FROM items").fetchall()
    assert kinds == [("blob", "integer")]


def test_a_group_of_text_rows_travels_as_one_json_array_per_table(tmp_path: Path) -> None:
    writer = Writer(str(tmp_path / "s.db"))
    try:
        conn = writer.connection()
        jobs = [
            Job(None, [Put("a", f"r{i}", b"{}"), PutItem("a", "q", f"t{i}", b"[1]", order=i)])  # type: ignore[arg-type]
            for i in range(50)
        ]
        plan, _ = writer.plan(conn, jobs)
        _, texts, rows = group_payload(plan)
        assert texts is not None  # one JSON text per statement
        assert len(texts) == 4
        assert rows is None
        jobs = [Job(None, [PutItem("a", "q", "t0", b"\xff")])]  # type: ignore[arg-type]
        plan, _ = writer.plan(conn, jobs)
        _, texts, rows = group_payload(plan)
        assert texts is None  # binary data: the plain row lists
        assert rows is not None
        assert rows[3] == [("a", "q", "t0", b"\xff", None)]
    finally:
        writer.close()


async def test_each_group_runs_one_statement_per_table(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db", writer="thread") as store:
        statements: list[str] = []
        link_conn = store._link._conn  # type: ignore[union-attr]
        assert link_conn is not None
        link_conn.set_trace_callback(statements.append)
        batches: list[list[object]] = [
            [Put("a", f"r{i}", b"{}"), PutItem("a", "q", f"t{i}", b"{}"), DeleteItem("a", "q", "x")]
            for i in range(40)
        ]
        await _in_one_group(store, batches)
        link_conn.set_trace_callback(None)
    writes = [s for s in statements if s.startswith(("INSERT", "DELETE"))]
    assert len(writes) == 3  # records in, items out, items in: 120 row changes
    assert all("json_each" in s for s in writes)


async def test_a_stale_compare_and_set_fails_only_its_own_batch(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db", writer="thread") as store:
        await store.write([Put("a", "k", b"1")])
        results = await _in_one_group(
            store,
            [
                [Put("a", "j", b"j", expected_version=0), PutItem("a", "c", "1", b"x")],
                [Put("a", "k", b"stale", expected_version=0), PutItem("a", "c", "2", b"y")],
                [Put("a", "k", b"2", expected_version=1), PutItem("a", "c", "3", b"z")],
            ],
        )
        assert isinstance(results[0], WriteResult)
        assert isinstance(results[1], VersionConflict)
        assert isinstance(results[2], WriteResult)
        record = await store.read("a", "k")
        assert record is not None
        assert (record.data, record.version) == (b"2", 2)
        assert await store.read_item("a", "c", "2") is None  # the whole batch left no trace
        assert await store.read_item("a", "c", "3") == b"z"


@pytest.mark.parametrize("data", [b"2", b"\xff"])  # sent as JSON text / row by row
async def test_a_group_planned_on_versions_another_connection_changed_fails_whole(
    tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "s.db"
    async with await SQLiteStore.open(path, writer="thread") as store:
        await store.write([Put("a", "k", b"1")])
        first = await store.submit([PutItem("a", "c", "first", b"1")])
        await asyncio.sleep(0)  # the first group is in flight on the writer thread
        with sqlite3.connect(path) as other:  # changes k behind the store's version cache
            other.execute("UPDATE records SET version = 7 WHERE ns = 'a' AND key = 'k'")
        # planned from the version cache after the first group: only the writer's
        # recheck of the versions the plan started from can see the change
        second = await store.submit([Put("a", "k", data, expected_version=1)])
        assert isinstance(await first, WriteResult)
        with pytest.raises(VersionConflict, match="written by another connection"):
            await second
        record = await store.read("a", "k")
        assert record is not None
        assert (record.data, record.version) == (b"1", 7)  # nothing written over it
        result = await store.write([Put("a", "k", b"3", expected_version=7)])
        assert result.versions == {("a", "k"): 8}


async def test_reads_and_close_wait_for_the_group_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with await SQLiteStore.open(path, writer="thread") as store:
        futures = [await store.submit([PutItem("a", "q", str(i), b"{}")]) for i in range(200)]
        assert len((await store.load("a")).collections["q"]) == 200
        assert all(f.done() for f in futures)
        last = await store.submit([PutItem("a", "q", "last", b"{}")], defer=True)
    assert last.done()
    assert last.exception() is None
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 201


async def test_close_commits_what_queued_up_behind_the_group_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = await SQLiteStore.open(path, writer="thread")
    first = await store.submit([PutItem("a", "q", "first", b"{}")])
    await asyncio.sleep(0)  # in flight on the writer thread
    behind = await store.submit([PutItem("a", "q", "behind", b"{}")], defer=True)
    await store.close()
    assert isinstance(first.result(), WriteResult)
    assert isinstance(behind.result(), WriteResult)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 2
