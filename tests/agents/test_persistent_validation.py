"""What is acknowledged can be restored: unstorable values are refused at save time, and
restore goes field by field, so one bad field never resets the others (issue 18 item 3)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

import bastion
from bastion.agents import ItemMap, PersistentAgent, act, action
from bastion.persistence import InvalidState, Put, PutItem
from bastion.testing import capture_events
from tests.agents.conftest import open_store


class Order(msgspec.Struct):
    sku: str
    qty: int


class Opaque:
    """A class the codec has no hook for."""


class Stats(PersistentAgent):
    persistent_fields = (
        "count",
        "ratio",
        "names",
        "scores",
        "anything",
        "thing",  # noqa: BAS801 -- a bare `object` field is stored like `Any` (tested here)
        "orders",
        "blobs",
    )
    count: int = 0
    ratio: float = 0.0
    names: list[str] = []  # noqa: RUF012 -- declared state, copied per instance
    scores: dict[str, int] = {}  # noqa: RUF012 -- declared state, copied per instance
    anything: Any = None
    thing: object = None
    orders: ItemMap[Order] = ItemMap()
    blobs: ItemMap[Any] = ItemMap()

    @action
    def good(self) -> None:
        self.count = 7
        self.ratio = 0.5
        self.names.append("ann")
        self.scores["ann"] = 3
        self.anything = {"t": (1, 2)}
        self.thing = {"k": [1, 2]}
        self.orders["o1"] = Order("apple", 2)
        self.blobs["b1"] = [1, "x"]

    @action
    def bad(self, case: str) -> None:
        self.count = 42  # a valid change in the same action is rolled back with it
        self.orders["o2"] = Order("pear", 1)
        del self.blobs["b1"]
        BAD[case](self)

    @action
    def snapshot(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "ratio": self.ratio,
            "names": list(self.names),
            "scores": dict(self.scores),
            "anything": self.anything,
            "thing": self.thing,
            "orders": {k: (v.sku, v.qty) for k, v in self.orders.items()},
            "blobs": dict(self.blobs.items()),
        }


def _set(name: str, value: Callable[[], Any]) -> Callable[[Stats], None]:
    return lambda agent: setattr(agent, name, value())


BAD: dict[str, Callable[[Stats], None]] = {
    "nan": _set("ratio", lambda: float("nan")),
    "inf": _set("ratio", lambda: float("inf")),
    "-inf": _set("ratio", lambda: float("-inf")),
    "int in list[str]": lambda a: a.names.append(1),  # type: ignore[arg-type]
    "str in dict[str, int]": lambda a: a.scores.__setitem__("bob", "x"),  # type: ignore[arg-type]
    "nan inside Any": _set("anything", lambda: {"x": [1.0, float("nan")]}),
    "unknown class in object": _set("thing", Opaque),
    "nan in object": _set("thing", lambda: float("nan")),
    "wrong type in ItemMap[Order]": lambda a: a.orders.__setitem__("o3", Order(5, 1)),  # type: ignore[arg-type]
    "nan in ItemMap[Any]": lambda a: a.blobs.__setitem__("b2", {"v": float("inf")}),
}

GOOD = {
    "count": 7,
    "ratio": 0.5,
    "names": ["ann"],
    "scores": {"ann": 3},
    "anything": {"t": (1, 2)},
    "thing": {"k": [1, 2]},
    "orders": {"o1": ("apple", 2)},
    "blobs": {"b1": [1, "x"]},
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_an_unstorable_value_fails_the_action_and_keeps_the_previous_state(
    store_kind: str, db_path: Path, case: str
) -> None:
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        spec = bastion.ChildSpec(id="stats", actor=Stats, name="stats", kwargs={"store": store})
        sup = await rt.start_supervisor([spec])
        ref = rt.ref("stats")
        await act(ref, "good")
        with pytest.raises(InvalidState) as refused:
            await act(ref, "bad", case=case)
        assert "rolled back" in str(refused.value)
        assert isinstance(refused.value, bastion.ValidationError)
        assert await act(ref, "snapshot") == GOOD  # still running, memory rolled back
        first = rt.whereis("stats")
        assert first is not None
        first.kill(RuntimeError("crash"))  # an ordinary crash; the supervisor restarts it
        await first.wait_stopped(timeout=1.0)
        await rt.wait_idle(timeout=1.0)
        assert await act(ref, "snapshot") == GOOD  # the store kept the previous state too
        assert await store.quarantined() == []
        await sup.stop()


async def test_the_error_names_the_field_and_the_reason(store_kind: str, db_path: Path) -> None:
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(Stats, name="stats", store=store)
        await act(ref, "good")
        with pytest.raises(InvalidState, match=r"ratio: .*NaN or infinity"):
            await act(ref, "bad", case="nan")
        with pytest.raises(InvalidState, match=r"names: .*Expected `str`, got `int`"):
            await act(ref, "bad", case="int in list[str]")
        with pytest.raises(InvalidState, match=r"orders\['o3'\]: "):
            await act(ref, "bad", case="wrong type in ItemMap[Order]")
        with pytest.raises(InvalidState, match=r"thing: .*no codec hook"):
            await act(ref, "bad", case="unknown class in object")
        await ref.stop()


async def test_object_annotated_fields_round_trip_like_any(store_kind: str, db_path: Path) -> None:
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(Stats, name="stats", store=store)
        await act(ref, "good")
        await ref.stop()
        ref = await rt.spawn(Stats, name="stats", store=store)
        assert await act(ref, "snapshot") == GOOD
        await ref.stop()


async def test_one_bad_field_or_item_is_set_aside_alone(store_kind: str, db_path: Path) -> None:
    record = (
        b'{"v": 1, "type": "Stats", "fields": {"count": 5, "ratio": null, '
        b'"names": ["a", 2], "scores": {"x": 1}}}'
    )
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        await store.write(
            [
                Put("agent/stats", "state", record),
                PutItem("agent/stats", "orders", "o1", b'{"sku": "fig", "qty": 1}'),
                PutItem("agent/stats", "orders", "o2", b'{"sku": 5}'),
            ]
        )
        with capture_events(("bastion", "agent", "state", "quarantined")) as captured:
            ref = await rt.spawn(Stats, name="stats", store=store)
        where = sorted((e.metadata["field"], e.metadata["item"]) for e in captured.events)
        assert where == [("names", None), ("orders", "o2"), ("ratio", None)]
        snap = await act(ref, "snapshot")
        assert (snap["count"], snap["scores"], snap["orders"]) == (5, {"x": 1}, {"o1": ("fig", 1)})
        assert (snap["ratio"], snap["names"]) == (0.0, [])  # the bad fields: defaults
        await ref.stop()

        data = await store.load("agent/stats")
        assert sorted(data.records) == [
            "quarantined/names",
            "quarantined/orders/o2",
            "quarantined/ratio",
            "state",
        ]
        kept = msgspec.json.decode(data.records["quarantined/names"].data)
        assert kept["data"] == '["a", 2]'
        assert "Expected `str`" in kept["error"]
        assert [k for k, _ in data.collections["orders"]] == ["o1"]
        with capture_events(("bastion", "agent", "state", "quarantined")) as again:
            ref = await rt.spawn(Stats, name="stats", store=store)  # the next start is clean
        assert again.events == []
        assert (await act(ref, "snapshot"))["count"] == 5
        await ref.stop()
