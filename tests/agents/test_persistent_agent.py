"""PersistentAgent: restore on restart, quarantine, versions, migration, per-item writes."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest

import bastion
from bastion.agents import ItemMap, PersistentAgent, act, action
from bastion.persistence import Durability, MemoryStore, Put, PutItem, StateStore
from bastion.testing import capture_events, crash
from tests.agents.conftest import open_store


class Order(msgspec.Struct):
    sku: str
    qty: int


class Shop(PersistentAgent):
    persistent_fields = ("sales", "recent", "tags", "orders")
    sales: int = 0
    recent: collections.deque[str] = collections.deque(maxlen=3)  # noqa: RUF012 -- copied per instance
    tags: set[str] = set()  # noqa: RUF012 -- declared state, copied per instance
    orders: ItemMap[Order] = ItemMap()
    scratch: int = 0  # declared but not persistent

    @action
    def sell(self, sku: str, qty: int = 1) -> int:
        self.sales += qty
        self.scratch += 1
        self.recent.append(sku)
        self.tags.add(sku[0])
        self.orders[f"o{self.sales}"] = Order(sku, qty)
        return self.sales

    @action
    def cancel(self, order: str) -> int:
        del self.orders[order]
        return len(self.orders)

    @action
    def refuse(self) -> None:
        self.sales += 100  # a change before an expected error is still saved
        raise bastion.BusinessError("refused")

    @action
    def snapshot(self) -> dict[str, Any]:
        return {
            "sales": self.sales,
            "recent": list(self.recent),
            "tags": sorted(self.tags),
            "orders": {k: (v.sku, v.qty) for k, v in self.orders.items()},
            "scratch": self.scratch,
            "restored": self.restored,
        }


async def test_state_survives_a_crash_and_restart(store_kind: str, db_path: Path) -> None:
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        spec = bastion.ChildSpec(id="shop", actor=Shop, name="shop", kwargs={"store": store})
        sup = await rt.start_supervisor([spec])
        shop = rt.ref("shop")
        for sku in ["apple", "banana", "cherry", "date"]:
            await act(shop, "sell", sku=sku)
        await act(shop, "cancel", order="o2")
        first = rt.whereis("shop")
        assert first is not None
        await crash(first)
        snap = await act(shop, "snapshot")
        assert snap == {
            "sales": 4,
            "recent": ["banana", "cherry", "date"],
            "tags": ["a", "b", "c", "d"],
            "orders": {"o1": ("apple", 1), "o3": ("cherry", 1), "o4": ("date", 1)},
            "scratch": 0,
            "restored": True,
        }
        await sup.stop()


async def test_state_survives_closing_the_sqlite_store_and_a_new_runtime(db_path: Path) -> None:
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(Shop, name="shop", store=store)
        await act(ref, "sell", sku="apple", qty=3)
        with pytest.raises(bastion.BusinessError):
            await act(ref, "refuse")
        await ref.stop()
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(Shop, name="shop", store=store)
        snap = await act(ref, "snapshot")
        assert (snap["sales"], snap["orders"]) == (103, {"o3": ("apple", 3)})
        await ref.stop()


async def test_a_mutation_writes_only_what_changed(db_path: Path) -> None:
    store = MemoryStore()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Shop, name="shop", store=store)
        for i in range(50):
            await act(ref, "sell", sku=f"s{i}")
        before = store.statistics().ops
        await act(ref, "sell", sku="x")
        assert store.statistics().ops - before == 2  # the state record + one order row
        before = store.statistics().ops
        await act(ref, "snapshot")  # no change: nothing written
        assert store.statistics().ops == before
        await ref.stop()


async def _seed(store: StateStore, data: bytes, items: dict[str, bytes] | None = None) -> None:
    ops: list[Any] = [Put("agent/shop", "state", data)]
    ops += [PutItem("agent/shop", "orders", k, v) for k, v in (items or {}).items()]
    await store.write(ops)


@pytest.mark.parametrize(
    ("record", "items", "reason"),
    [
        (b"\x00garbage", {}, "CorruptState"),
        (b'{"v": 9, "type": "Shop", "fields": {}}', {}, "UnknownStateVersion"),
        (b'{"v": 1, "type": "Other", "fields": {}}', {}, "belongs to agent type 'Other'"),
    ],
)  # one bad field or item is set aside alone: tests/agents/test_persistent_validation.py
async def test_corrupt_or_unknown_state_is_quarantined_and_the_agent_starts_from_defaults(
    store_kind: str, db_path: Path, record: bytes, items: dict[str, bytes], reason: str
) -> None:
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        await _seed(store, record, items)
        with capture_events(("bastion", "agent", "state", "quarantined")) as captured:
            ref = await rt.spawn(Shop, name="shop", store=store)
        assert captured.count("bastion", "agent", "state", "quarantined") == 1
        assert reason in repr(captured.events[0].metadata["error"]) + str(
            captured.events[0].metadata["error"]
        )
        snap = await act(ref, "snapshot")
        assert (snap["sales"], snap["orders"], snap["restored"]) == (0, {}, False)
        await act(ref, "sell", sku="fresh")  # and it keeps working and saving
        quarantined = await store.quarantined("agent/shop")
        assert len(quarantined) == 1
        await ref.stop()
        assert (await store.load("agent/shop")).records["state"].version == 1


class ShopV2(Shop):
    state_type = "Shop"
    state_version = 2
    migrations: ClassVar[list[int]] = []

    def migrate_state(self, from_version: int, fields: dict[str, Any]) -> dict[str, Any]:
        self.migrations.append(from_version)
        return {**fields, "sales": fields["sales"] * 10}


async def test_an_older_state_version_goes_through_the_migration_hook(db_path: Path) -> None:
    store = MemoryStore()
    async with bastion.open_runtime() as rt:
        await _seed(store, b'{"v": 1, "type": "Shop", "fields": {"sales": 4, "tags": ["x"]}}')
        ref = await rt.spawn(ShopV2, name="shop", store=store)
        snap = await act(ref, "snapshot")
        assert (snap["sales"], snap["tags"]) == (40, ["x"])
        assert ShopV2.migrations == [1]
        await act(ref, "sell", sku="y")
        await ref.stop()
    raw = (await store.load("agent/shop")).records["state"].data
    assert msgspec.json.decode(raw)["v"] == 2


async def test_a_stale_incarnation_cannot_overwrite_newer_state() -> None:
    store = MemoryStore()
    async with bastion.open_runtime() as rt:
        a = await rt.spawn(Shop, name="a", store=store, persistence_key="shared")
        b = await rt.spawn(Shop, name="b", store=store, persistence_key="shared")
        await act(b, "sell", sku="x")
        with pytest.raises(bastion.ActorCrashed) as info:
            await act(a, "sell", sku="y")
        assert type(info.value.__cause__).__name__ == "VersionConflict"
        await b.stop()


@pytest.mark.parametrize("durability", list(Durability))
async def test_every_durability_mode_saves(durability: Durability, db_path: Path) -> None:
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(Shop, name="shop", store=store, durability=durability)
        await act(ref, "sell", sku="x")
        await ref.stop()
        assert (await store.load("agent/shop")).collections["orders"][0][0] == "o1"


def test_persistent_fields_must_be_declared() -> None:
    with pytest.raises(TypeError, match=r"undeclared state \['sale'\]"):

        class Typo(PersistentAgent):
            persistent_fields = ("sale",)
            sales: int = 0


async def test_a_store_is_required() -> None:
    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed):
            await rt.spawn(Shop, name="shop", store=None)
