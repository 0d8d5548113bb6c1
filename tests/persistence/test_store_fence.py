"""The ``Fence`` op of the store contract: a batch conditional on a record's version.

Leases (``bastion.cluster``) put one in each batch of a lease holder; these tests pin the
store side: checked atomically with the batch's writes, in submission order within a
group commit, and across two stores sharing one database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bastion.persistence import (
    Fence,
    Op,
    PostgresStore,
    Put,
    PutItem,
    SQLiteStore,
    StateStore,
    VersionConflict,
)

StoreFactory = Callable[[], Awaitable[StateStore]]


async def test_a_batch_fenced_at_the_current_version_commits(open_store: StoreFactory) -> None:
    store = await open_store()
    await store.write([Put("lease/a", "holder", b"n1")])
    result = await store.write([Fence("lease/a", "holder", 1), Put("agent/a", "state", b"s")])
    assert result.versions == {("agent/a", "state"): 1}
    record = await store.read("lease/a", "holder")
    assert record is not None
    assert record.version == 1  # a fence writes nothing
    await store.close()


@pytest.mark.parametrize("token", [0, 2])
async def test_a_stale_fence_rejects_the_whole_batch(open_store: StoreFactory, token: int) -> None:
    store = await open_store()
    await store.write([Put("lease/a", "holder", b"n1")])
    batch: list[Op] = [Put("agent/a", "state", b"stale"), PutItem("agent/a", "c", "x", b"stale")]
    with pytest.raises(VersionConflict):
        await store.write([*batch, Fence("lease/a", "holder", token)])
    assert await store.read("agent/a", "state") is None
    assert await store.read_item("agent/a", "c", "x") is None
    await store.close()


async def test_fence_zero_means_the_record_must_not_exist(open_store: StoreFactory) -> None:
    store = await open_store()
    await store.write([Fence("lease/a", "holder", 0), Put("agent/a", "state", b"s")])
    assert await store.read("agent/a", "state") is not None
    await store.close()


async def test_a_takeover_queued_before_a_fenced_batch_rejects_it(
    open_store: StoreFactory,
) -> None:
    """In one group commit: the takeover bumps the token, the old holder's batch after it
    fails, the batches around them are unaffected."""
    store = await open_store()
    await store.write([Put("lease/a", "holder", b"n1")])
    takeover = await store.submit([Put("lease/a", "holder", b"n2", expected_version=1)])
    stale = await store.submit([Fence("lease/a", "holder", 1), Put("agent/a", "state", b"old")])
    fresh = await store.submit([Fence("lease/a", "holder", 2), Put("agent/a", "state", b"new")])
    results = await asyncio.gather(takeover, stale, fresh, return_exceptions=True)
    assert not isinstance(results[0], BaseException)
    assert isinstance(results[1], VersionConflict)
    assert not isinstance(results[2], BaseException)
    record = await store.read("agent/a", "state")
    assert record is not None
    assert (record.data, record.version) == (b"new", 1)
    await store.close()


@pytest.mark.parametrize("writer", ["loop", "thread", "process"])
async def test_a_fence_sees_a_takeover_by_another_store_on_the_same_file(
    tmp_path: Path, writer: str
) -> None:
    """Two nodes on one SQLite file: the second's takeover fences the first's writes out,
    although the first cached the holder's version from its own earlier write."""
    path = tmp_path / "shared.db"
    old = await SQLiteStore.open(path, op_timeout=10.0, writer=writer)  # type: ignore[arg-type]
    new = await SQLiteStore.open(path, op_timeout=10.0, writer=writer)  # type: ignore[arg-type]
    try:
        await old.write([Put("lease/a", "holder", b"old")])
        await old.write([Fence("lease/a", "holder", 1), Put("agent/a", "state", b"1")])
        await new.write([Put("lease/a", "holder", b"new", expected_version=1)])
        with pytest.raises(VersionConflict):
            await old.write([Fence("lease/a", "holder", 1), Put("agent/a", "state", b"2")])
        record = await new.read("agent/a", "state")
        assert record is not None
        assert record.data == b"1"
    finally:
        await old.close()
        await new.close()


@pytest.mark.bastion(real_time=True)
async def test_a_fence_sees_a_takeover_through_another_postgres_connection_pool(
    pg_dsn: str, pg_schema: str
) -> None:
    """Two nodes on one PostgreSQL database: the fence is checked against the row locked
    in the old holder's own transaction, so the takeover by the other pool wins cleanly."""
    old = await PostgresStore.open(pg_dsn, schema=pg_schema, op_timeout=10.0)
    new = await PostgresStore.open(pg_dsn, schema=pg_schema, op_timeout=10.0)
    try:
        await old.write([Put("lease/a", "holder", b"old")])
        await old.write([Fence("lease/a", "holder", 1), Put("agent/a", "state", b"1")])
        await new.write([Put("lease/a", "holder", b"new", expected_version=1)])
        with pytest.raises(VersionConflict):
            await old.write([Fence("lease/a", "holder", 1), Put("agent/a", "state", b"2")])
        record = await new.read("agent/a", "state")
        assert record is not None
        assert record.data == b"1"
    finally:
        await old.close()
        await new.close()


@pytest.mark.bastion(real_time=True)
async def test_a_conflict_is_checked_against_the_database_not_a_stale_cached_version(
    pg_dsn: str, pg_schema: str
) -> None:
    """A store that lost a compare-and-set to another node's store remembered the version it
    saw then; once the other node moved the record on, a batch expecting the new version
    (read from the database) must commit, not fail against the remembered one forever.
    (A node that lost a race for a lease could never claim that lease again.)"""
    first = await PostgresStore.open(pg_dsn, schema=pg_schema, op_timeout=10.0)
    second = await PostgresStore.open(pg_dsn, schema=pg_schema, op_timeout=10.0)
    try:
        await first.write([Put("lease/a", "holder", b"first", expected_version=0)])
        with pytest.raises(VersionConflict):  # lost the race: the record is at version 1
            await second.write([Put("lease/a", "holder", b"second", expected_version=0)])
        await first.write([Put("lease/a", "holder", b"released", expected_version=1)])
        seen = await second.read("lease/a", "holder")
        assert seen is not None
        assert seen.version == 2
        result = await second.write(
            [Put("lease/a", "holder", b"second", expected_version=seen.version)]
        )
        assert result.versions[("lease/a", "holder")] == 3
        await first.write([Put("lease/a", "holder", b"first again", expected_version=3)])
        # a fence of the second store on the record it wrote last, moved on by the first
        await second.write([Fence("lease/a", "holder", 4), Put("agent/a", "state", b"1")])
        record = await first.read("agent/a", "state")
        assert record is not None
        assert record.data == b"1"
    finally:
        await first.close()
        await second.close()
