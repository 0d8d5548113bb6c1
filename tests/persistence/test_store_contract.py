"""The StateStore contract: every backend must pass every test here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bastion import InfrastructureError
from bastion.persistence import (
    Delete,
    DeleteItem,
    Put,
    PutItem,
    StateStore,
    StoreClosed,
    StoreError,
    VersionConflict,
)

StoreFactory = Callable[[], Awaitable[StateStore]]


async def test_put_then_read_returns_data_and_bumps_version(open_store: StoreFactory) -> None:
    store = await open_store()
    r1 = await store.write([Put("a", "k", b"1")])
    r2 = await store.write([Put("a", "k", b"2")])
    assert r1.versions[("a", "k")] == 1
    assert r2.versions[("a", "k")] == 2
    rec = await store.read("a", "k")
    assert rec is not None
    assert (rec.data, rec.version) == (b"2", 2)
    assert await store.read("a", "missing") is None
    await store.close()


async def test_compare_and_set_accepts_the_expected_version(open_store: StoreFactory) -> None:
    store = await open_store()
    await store.write([Put("a", "k", b"1", expected_version=0)])
    await store.write([Put("a", "k", b"2", expected_version=1)])
    rec = await store.read("a", "k")
    assert rec is not None
    assert rec.data == b"2"
    await store.close()


@pytest.mark.parametrize("expected", [0, 2, 7])
async def test_compare_and_set_rejects_a_stale_version_and_applies_nothing(
    open_store: StoreFactory, expected: int
) -> None:
    store = await open_store()
    await store.write([Put("a", "k", b"1")])
    batch = [PutItem("a", "c", "x", b"side effect"), Put("a", "k", b"lost", expected)]
    with pytest.raises(VersionConflict) as info:
        await store.write(batch)
    assert isinstance(info.value, StoreError)
    assert isinstance(info.value, InfrastructureError)
    rec = await store.read("a", "k")
    assert rec is not None
    assert (rec.data, rec.version) == (b"1", 1)
    assert await store.read_item("a", "c", "x") is None
    assert store.statistics().conflicts == 1
    await store.close()


async def test_a_conflicting_batch_does_not_affect_batches_around_it(
    open_store: StoreFactory,
) -> None:
    store = await open_store()
    first = await store.submit([Put("a", "k", b"1")])
    bad = await store.submit([Put("b", "k", b"x", expected_version=5)])
    last = await store.submit([Put("a", "k", b"2", expected_version=1)])
    assert (await first).versions[("a", "k")] == 1
    with pytest.raises(VersionConflict):
        await bad
    assert (await last).versions[("a", "k")] == 2
    assert await store.read("b", "k") is None
    await store.close()


async def test_delete_record_with_and_without_version(open_store: StoreFactory) -> None:
    store = await open_store()
    await store.write([Put("a", "k", b"1"), Put("a", "j", b"1")])
    await store.write([Delete("a", "k")])
    with pytest.raises(VersionConflict):
        await store.write([Delete("a", "j", expected_version=3)])
    await store.write([Delete("a", "j", expected_version=1)])
    await store.write([Delete("a", "never-there")])
    assert await store.read("a", "k") is None
    assert await store.read("a", "j") is None
    await store.close()


async def test_items_are_written_one_by_one_and_loaded_in_key_order(
    open_store: StoreFactory,
) -> None:
    store = await open_store()
    await store.write([PutItem("a", "q", f"{i:03d}", str(i).encode()) for i in (3, 1, 2)])
    await store.write([PutItem("a", "q", "001", b"one"), DeleteItem("a", "q", "002")])
    await store.write([PutItem("a", "done", "t1", b"r"), Put("a", "state", b"s")])
    data = await store.load("a")
    assert data.collections == {"q": [("001", b"one"), ("003", b"3")], "done": [("t1", b"r")]}
    assert data.records["state"].data == b"s"
    assert await store.read_item("a", "q", "003") == b"3"
    assert await store.read_item("a", "q", "002") is None
    await store.close()


async def test_loading_an_unknown_namespace_is_empty(open_store: StoreFactory) -> None:
    store = await open_store()
    data = await store.load("nobody")
    assert data.empty
    assert data.records == {}
    assert data.collections == {}
    await store.close()


async def test_batches_apply_in_submission_order(open_store: StoreFactory) -> None:
    store = await open_store()
    futures = [await store.submit([Put("a", "n", str(i).encode())]) for i in range(50)]
    rec = await store.read("a", "n")  # a read sees every batch submitted before it
    assert rec is not None
    assert (rec.data, rec.version) == (b"49", 50)
    assert [(await f).versions[("a", "n")] for f in futures] == list(range(1, 51))
    await store.close()


async def test_namespaces_drop_and_prefix(open_store: StoreFactory) -> None:
    store = await open_store()
    await store.write(
        [Put("agent/b", "k", b"1"), PutItem("agent/a", "q", "1", b"1"), Put("other", "k", b"1")]
    )
    assert await store.namespaces("agent/") == ["agent/a", "agent/b"]
    await store.drop("agent/a")
    assert await store.namespaces() == ["agent/b", "other"]
    assert (await store.load("agent/a")).empty
    await store.close()


async def test_quarantine_moves_data_aside(open_store: StoreFactory) -> None:
    store = await open_store()
    await store.write(
        [
            Put("a", "state", b"garbage"),
            PutItem("a", "q", "1", b"x"),
            PutItem("a", "q", "2", b"y"),
            Put("b", "state", b"fine"),
        ]
    )
    entry = await store.quarantine("a", "undecodable")
    assert (entry.namespace, entry.reason, entry.records, entry.items) == ("a", "undecodable", 1, 2)
    assert (await store.load("a")).empty
    assert not (await store.load("b")).empty
    listed = await store.quarantined()
    assert [(e.namespace, e.reason) for e in listed] == [("a", "undecodable")]
    assert await store.quarantined("zzz") == []
    await store.close()


async def test_closed_store_refuses_work_with_a_typed_error(open_store: StoreFactory) -> None:
    store = await open_store()
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreClosed):
        await store.write([Put("a", "k", b"1")])
    with pytest.raises(StoreClosed):
        await store.read("a", "k")
    assert store.statistics().closed


async def test_statistics_count_batches_and_ops(open_store: StoreFactory) -> None:
    store = await open_store()
    await store.write([Put("a", "k", b"1"), PutItem("a", "q", "1", b"1")])
    await store.write([DeleteItem("a", "q", "1")])
    stats = store.statistics()
    assert (stats.batches, stats.ops, stats.pending_ops) == (2, 3, 0)
    assert stats.backend == store.backend
    assert stats.commits >= 1
    await store.close()


async def test_concurrent_writers_do_not_interleave_inside_a_batch(
    open_store: StoreFactory,
) -> None:
    store = await open_store()

    async def writer(n: int) -> None:
        for i in range(20):
            await store.write(
                [PutItem("a", "log", f"{n}-{i:02d}", b"x"), Put("a", f"count-{n}", str(i).encode())]
            )

    await asyncio.gather(*(writer(n) for n in range(5)))
    data = await store.load("a")
    assert len(data.collections["log"]) == 100
    assert {data.records[f"count-{n}"].version for n in range(5)} == {20}
    await store.close()


def test_backends_satisfy_the_protocol(open_store: StoreFactory) -> None:
    async def check() -> None:
        store = await open_store()
        assert isinstance(store, StateStore)
        await store.close()

    asyncio.run(check())
